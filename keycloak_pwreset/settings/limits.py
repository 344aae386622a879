"""Settings of the abuse limits and the optional CAPTCHA (see the README's Security section)."""

from __future__ import annotations

from limits import parse as parse_rate
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from keycloak_pwreset.settings.values import http_url

STORAGE_SCHEMES = frozenset({"memory", "redis", "rediss", "redis+unix"})


class LimitSettings(BaseModel):
    """Abuse limits; see keycloak_pwreset.web.limits and the README's Security section."""

    enabled: bool = True
    # Every POST (forms and API) from one client address.
    requests_per_client: str = "20/minute"
    # Every use of a link's token (opening it, submitting it) from one client address.
    token_attempts_per_client: str = "30/hour"  # noqa: S105 - a rate, not a password
    # Emails to one account (or address) per hour asked for from one client
    # network; the rest are dropped silently. Per network, so that a stranger's
    # requests spend only their own share, never the owner's.
    emails_per_account_per_client_per_hour: int = Field(default=3, ge=1, le=1000)
    # Emails to one account per hour from all networks together: the ceiling
    # that keeps a mailbox from being flooded from many networks at once.
    emails_per_account_per_hour: int = Field(default=10, ge=1, le=1000)
    # Where the per-client request counts live: this process's memory, or Redis
    # (redis://host:port/db, rediss:// for TLS), shared by every instance.
    storage_uri: str = "memory://"

    @field_validator("requests_per_client", "token_attempts_per_client")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_rate(value)
        except ValueError:
            raise ValueError("must be a rate like 20/minute or 100/hour") from None
        return value

    @field_validator("storage_uri")
    @classmethod
    def _storage(cls, value: str) -> str:
        scheme = value.partition("://")[0]
        if not value.partition("://")[1] or scheme not in STORAGE_SCHEMES:
            raise ValueError("must be memory:// or a Redis URL (redis://host:6379/0, rediss://…)")
        return value


class CaptchaSettings(BaseModel):
    """An optional CAPTCHA on the request forms and API; see keycloak_pwreset.captcha."""

    # none | turnstile | hcaptcha | recaptcha | a plugin's entry point name
    provider: str = "none"
    site_key: str = ""
    secret_key: SecretStr = SecretStr("")
    # Another siteverify address (a proxy in front of the provider).
    verify_url: str | None = None
    # Refuse responses the provider says were solved on another host than KCPR_PUBLIC_URL's.
    check_hostname: bool = True

    @field_validator("verify_url")
    @classmethod
    def _verify_url(cls, value: str | None) -> str | None:
        return None if not value else http_url(value)

    @model_validator(mode="after")
    def _keys(self) -> CaptchaSettings:
        if self.provider != "none" and not (self.site_key and self.secret_key.get_secret_value()):
            raise ValueError(f"the {self.provider} CAPTCHA needs site_key and secret_key")
        return self
