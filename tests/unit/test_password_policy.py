from __future__ import annotations

import json

import pytest

from keycloak_pwreset.password_policy import POLICY_ERRORS, error_key, result_for_error
from keycloak_pwreset.results import MESSAGES, Result

# Keycloak's invalidPassword* message keys (PolicyError keys in its password
# policy providers) and the result each must surface as.
EXPECTED = {
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
}


def test_every_keycloak_policy_key_is_covered() -> None:
    missing = sorted(set(EXPECTED) - set(POLICY_ERRORS))
    assert missing == []


@pytest.mark.parametrize(("key", "expected"), sorted(EXPECTED.items()))
def test_policy_key_maps_to_the_intended_result(key: str, expected: Result) -> None:
    assert POLICY_ERRORS[key] is expected
    assert result_for_error(key) is expected


@pytest.mark.parametrize("key", sorted(POLICY_ERRORS))
def test_every_mapped_key_is_a_password_error_with_a_message(key: str) -> None:
    assert key.startswith("invalidPassword")
    result = result_for_error(key)
    assert result is POLICY_ERRORS[key]
    assert result is not Result.SUCCESS
    assert MESSAGES[result]


@pytest.mark.parametrize(
    "key", ["invalidPasswordMyCustomPolicyMessage", "invalidPassword", "invalidPasswordX"]
)
def test_unknown_invalid_password_key_is_still_a_password_rule(key: str) -> None:
    assert result_for_error(key) is Result.INVALID_PASSWORD_COMPLEXITY


@pytest.mark.parametrize(
    "key",
    [
        None,
        "",
        "unknown_error",
        "User exists with same username",
        "invalid_grant",
        "readOnlyUsernameMessage",
        "InvalidPasswordMinLengthMessage",  # keys are case-sensitive
        "xinvalidPasswordMinLengthMessage",
    ],
)
def test_non_password_keys_map_to_none(key: str | None) -> None:
    assert result_for_error(key) is None


@pytest.mark.parametrize(
    "policy",
    ["passwordAge(30)", "length(8) and passwordAge(365) and digits(1)"],
)
def test_password_age_policy_turns_generic_into_reuse(policy: str) -> None:
    assert result_for_error("invalidPasswordGenericMessage", policy) is (
        Result.VIOLATING_REUSE_RULES
    )


def test_generic_without_password_age_stays_complexity() -> None:
    policy = "length(8) and passwordHistory(3)"
    assert result_for_error("invalidPasswordGenericMessage", policy) is (
        Result.INVALID_PASSWORD_COMPLEXITY
    )


def test_password_age_policy_changes_only_the_generic_key() -> None:
    policy = "passwordAge(30)"
    assert result_for_error("invalidPasswordMinLengthMessage", policy) is (
        Result.INVALID_PASSWORD_LENGTH
    )
    assert result_for_error("invalidPasswordHistoryMessage", policy) is (
        Result.VIOLATING_REUSE_RULES
    )
    assert result_for_error("invalidPasswordMyCustomPolicyMessage", policy) is (
        Result.INVALID_PASSWORD_COMPLEXITY
    )


BODY = {
    "error": "invalidPasswordMinLengthMessage",
    "error_description": "Invalid password: minimum length 8.",
}


@pytest.mark.parametrize(
    "body",
    [BODY, json.dumps(BODY), json.dumps(BODY).encode(), json.dumps(BODY).encode("utf-16")],
)
def test_error_key_parses_dict_str_and_bytes(body: object) -> None:
    assert error_key(body) == "invalidPasswordMinLengthMessage"  # type: ignore[arg-type]


def test_error_key_reads_error_message_field() -> None:
    body = json.dumps({"errorMessage": "invalidPasswordHistoryMessage"})
    assert error_key(body) == "invalidPasswordHistoryMessage"
    assert error_key(body.encode()) == "invalidPasswordHistoryMessage"


def test_error_key_prefers_error_over_error_message() -> None:
    body = {"error": "invalidPasswordNotEmailMessage", "errorMessage": "something else"}
    assert error_key(body) == "invalidPasswordNotEmailMessage"


def test_error_key_falls_back_when_error_is_empty() -> None:
    body = {"error": "", "errorMessage": "invalidPasswordMinDigitsMessage"}
    assert error_key(body) == "invalidPasswordMinDigitsMessage"


@pytest.mark.parametrize(
    "body",
    [
        None,
        b"",
        "",
        b"<html>502 Bad Gateway</html>",
        "not json",
        b"\xff\xfe\x00garbage",
        "[1, 2, 3]",
        '"invalidPasswordMinLengthMessage"',
        "null",
        "42",
        {},
        {"error": 42},
        {"error": None},
        {"error": ["invalidPasswordMinLengthMessage"]},
        {"message": "invalidPasswordMinLengthMessage"},
    ],
)
def test_error_key_garbage_is_none(body: object) -> None:
    assert error_key(body) is None  # type: ignore[arg-type]
