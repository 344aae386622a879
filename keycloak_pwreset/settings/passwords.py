"""Settings of the password screening done before Keycloak is asked (KCPR_PASSWORDS__…)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from keycloak_pwreset.settings.values import http_url


class PasswordSettings(BaseModel):
    """NIST SP 800-63B's blocklist check, and the optional breached-password check.

    ``screening``: refuse passwords that are common, follow an easily guessed pattern or
    contain the person's own names (keycloak_pwreset/password_screening.py), below the
    strength ``min_score`` (zxcvbn's 0 to 4; 3 accepts ordinary passphrases).
    ``pwned_check``: also ask the k-anonymity range API at ``pwned_url`` (only the
    first five characters of the password's SHA-1 leave); when it cannot be asked
    within ``pwned_timeout_seconds``, ``pwned_fail_open`` accepts the password
    (true) or refuses it for now (false).
    """

    screening: bool = True
    min_score: int = Field(default=3, ge=1, le=4)
    pwned_check: bool = False
    pwned_url: str = "https://api.pwnedpasswords.com"
    pwned_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    pwned_fail_open: bool = True

    @field_validator("pwned_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)
