"""Settings of the mail: SMTP profiles and the sender identity, per kind and language."""

from __future__ import annotations

from enum import StrEnum

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    field_validator,
)

from keycloak_pwreset.settings.values import hyphenate_keys, plain_address, single_line


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    SSL = "ssl"


class SmtpSettings(BaseModel):
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    security: SmtpSecurity = SmtpSecurity.NONE
    username: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)


class MailSettings(BaseModel):
    # The From address may differ from the SMTP login (an alias); the SMTP
    # server must be allowed to send for it.
    # Required: a guessed default From would be rejected by real mail servers.
    from_address: str
    from_name: str = ""
    reply_to: str | None = None
    # Envelope sender (MAIL FROM / Return-Path): where bounces go. Defaults to
    # the From address.
    envelope_from: str | None = None
    # Which of the SMTP profiles sends, unless a kind or language says otherwise.
    smtp_profile: str = "default"
    kinds: dict[str, KindMail] = Field(default_factory=dict)

    @field_validator("kinds", mode="before")
    @classmethod
    def _hyphenated_kinds(cls, value: object) -> object:
        return hyphenate_keys(value)  # KCPR_MAIL__KINDS__PASSWORD_CHANGED__… → password-changed

    @field_validator("from_address", "reply_to", "envelope_from")
    @classmethod
    def _plain_address(cls, value: str | None) -> str | None:
        return plain_address(value)

    @field_validator("from_name")
    @classmethod
    def _single_line(cls, value: str) -> str:
        return single_line(value) or ""


class SenderOverrides(BaseModel):
    """Any part of the sender identity, overridden for one email kind or one language."""

    from_address: str | None = None
    from_name: str | None = None
    reply_to: str | None = None
    envelope_from: str | None = None
    smtp_profile: str | None = None

    @field_validator("from_address", "reply_to", "envelope_from")
    @classmethod
    def _plain_address(cls, value: str | None) -> str | None:
        return plain_address(value)

    @field_validator("from_name")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        return single_line(value)


class KindMail(SenderOverrides):
    """`[mail.kinds.<kind>]`, with `[mail.kinds.<kind>.locales.<tag>]` below it."""

    locales: dict[str, SenderOverrides] = Field(default_factory=dict)

    @field_validator("locales", mode="before")
    @classmethod
    def _hyphenated_tags(cls, value: object) -> object:
        # Environment variables cannot spell "pt-BR": KCPR_..._LOCALES__PT_BR__... arrives
        # as "pt_br". Language tags never contain "_", so it can only mean "-".
        return hyphenate_keys(value)
