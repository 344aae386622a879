"""Mapping Keycloak's password-policy errors onto this product's result codes.

Keycloak reports a rejected password with an ``error`` key such as
``invalidPasswordMinLengthMessage`` (plus a translated description we ignore:
the key is stable, the text is not). Every ``invalidPassword*`` key maps to a
specific result so that a person always learns which rule they broke.
"""

from __future__ import annotations

import json
from typing import Any

from keycloak_pwreset.results import Result

POLICY_ERRORS: dict[str, Result] = {
    "invalidPasswordMinLengthMessage": Result.INVALID_PASSWORD_LENGTH,
    "invalidPasswordMaxLengthMessage": Result.INVALID_PASSWORD_LENGTH,
    "invalidPasswordMinDigitsMessage": Result.MUST_CONTAIN_NUMBERS_AND_CHARACTERS,
    "invalidPasswordMinLowerCaseCharsMessage": Result.PASSWORD_MISSING_CHARACTER_VARIETY,
    "invalidPasswordMinUpperCaseCharsMessage": Result.PASSWORD_MISSING_CHARACTER_VARIETY,
    "invalidPasswordMinSpecialCharsMessage": Result.PASSWORD_MISSING_CHARACTER_VARIETY,
    "invalidPasswordNotUsernameMessage": Result.PASSWORD_CONTAINS_IDENTITY,
    "invalidPasswordNotContainsUsernameMessage": Result.PASSWORD_CONTAINS_IDENTITY,
    "invalidPasswordNotEmailMessage": Result.PASSWORD_CONTAINS_IDENTITY,
    "invalidPasswordRegexPatternMessage": Result.INVALID_PASSWORD_COMPLEXITY,
    "invalidPasswordHistoryMessage": Result.VIOLATING_REUSE_RULES,
    "invalidPasswordBlacklistedMessage": Result.PASSWORD_BLACKLISTED,
    "invalidPasswordGenericMessage": Result.INVALID_PASSWORD_COMPLEXITY,
    "invalidPasswordMessage": Result.INVALID_PASSWORD_COMPLEXITY,
}


def error_key(body: bytes | str | dict[str, Any] | None) -> str | None:
    """The machine-readable error key of a Keycloak error response, if any."""
    data: Any = body
    if isinstance(body, bytes | str):
        try:
            data = json.loads(body)
        except ValueError:
            return None
    if not isinstance(data, dict):
        return None
    for field in ("error", "errorMessage"):
        value = data.get(field)
        if isinstance(value, str) and value:
            return value
    return None


def result_for_error(key: str | None, realm_policy: str = "") -> Result | None:
    """The result for a Keycloak error key; None when it is not a password-policy error."""
    if not key or not key.startswith("invalidPassword"):
        return None
    # Keycloak's own "not used in the last N days" policy (passwordAge) only
    # says "generic"; when the realm has it, reuse is by far the likely cause.
    if key == "invalidPasswordGenericMessage" and "passwordAge" in realm_policy:
        return Result.VIOLATING_REUSE_RULES
    # An unknown invalidPassword* key (a custom policy provider) is still a
    # password rule, never a generic server error.
    return POLICY_ERRORS.get(key, Result.INVALID_PASSWORD_COMPLEXITY)
