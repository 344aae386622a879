"""Settings: the only reader of the environment.

Every setting is ``KCPR_<NAME>`` in the environment (nested with ``__``, e.g.
``KCPR_SMTP__HOST``) or the same structure in a TOML file named by
``KCPR_CONFIG_FILE``. The environment wins over the file. A bad configuration
stops start-up with one line per problem, naming the variable to fix.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from limits import parse as parse_rate
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.i18n import SHIPPED_LOCALES, canonical

ENV_PREFIX = "KCPR_"
CONFIG_FILE_VAR = "KCPR_CONFIG_FILE"


def _hyphenate_keys(value: object) -> object:
    if isinstance(value, dict):
        return {str(key).replace("_", "-"): item for key, item in value.items()}
    return value


def plain_address(value: str | None) -> str | None:
    if value is not None and not _looks_like_address(value):
        raise ValueError("must be a plain email address like name@example.org")
    return value


def single_line(value: str | None) -> str | None:
    if value is not None and any(ch in value for ch in "\r\n\0"):
        raise ValueError("must be a single line")
    return value


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
        return _hyphenate_keys(value)  # KCPR_MAIL__KINDS__PASSWORD_CHANGED__… → password-changed

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
        return _hyphenate_keys(value)


class LimitSettings(BaseModel):
    """Abuse limits; see keycloak_pwreset.ratelimit and the README's Security section."""

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

    @field_validator("requests_per_client", "token_attempts_per_client")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_rate(value)
        except ValueError:
            raise ValueError("must be a rate like 20/minute or 100/hour") from None
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


class RetentionSettings(BaseModel):
    """How long rows holding personal data are kept; see keycloak_pwreset.store.retention."""

    # Days a token (with its address and sign-up data) is kept after it stopped
    # being live: used, revoked or expired.
    token_days: int = Field(default=7, ge=1, le=3650)
    # Days a failed outbox job is kept after it failed, for an operator to see or retry.
    failed_job_days: int = Field(default=30, ge=1, le=3650)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="ignore",
    )

    keycloak_url: str
    realm: str
    client_id: str
    client_secret: SecretStr
    # The only base for links in emails: never derived from the Host header.
    public_url: str
    secret_key: SecretStr
    database_url: str = "sqlite:///keycloak-pwreset.db"
    token_ttl_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    login_url: str | None = None
    signup_enabled: bool = True
    # Group paths every account created by sign-up joins, e.g. ["/customers"].
    signup_default_groups: list[str] = Field(default_factory=list)
    # `serve` drains the outbox in-process unless a separate `worker` does it.
    run_worker: bool = True
    worker_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    log_level: str = "INFO"
    # "json": one JSON object per log line (audit events included), for log shippers.
    log_format: Literal["text", "json"] = "text"
    limits: LimitSettings = Field(default_factory=LimitSettings)
    captcha: CaptchaSettings = Field(default_factory=CaptchaSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    # Email an address with no account when someone asks to reset its password,
    # so its owner learns about it (and about signing up). Off: unknown addresses
    # get nothing. Under the same per-address cooldown as every email.
    unknown_account_notice: bool = False
    # Accounts self-service never resets nor sends a link (keycloak_pwreset.protected_roles):
    # realm roles ("auditor") or client roles ("billing/admin"), beyond the default
    # of every realm-management role, which KCPR_PROTECTED_ROLES_DEFAULT=false drops.
    protected_roles: list[str] = Field(default_factory=list)
    protected_roles_default: bool = True
    # Proxies whose X-Forwarded-For names the real client (exact addresses).
    trusted_proxies: list[str] = Field(default_factory=list)
    # The "default" SMTP profile; more under [smtp_profiles.<name>].
    smtp: SmtpSettings = SmtpSettings()
    smtp_profiles: dict[str, SmtpSettings] = Field(default_factory=dict)
    mail: MailSettings
    # Languages the site offers (page text and emails) and the fallback.
    locales: list[str] = Field(default_factory=lambda: list(SHIPPED_LOCALES))
    default_locale: str = "en"
    # A site's own templates: same layout as themes/ (pages/, emails/), any
    # file there wins over the shipped one of the same name.
    templates_dir: Path | None = None

    @field_validator("keycloak_url", "public_url", "login_url")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or (value == "" and info.field_name == "login_url"):
            return value  # an empty login URL means: show our own success page
        return http_url(value)

    @field_validator("secret_key")
    @classmethod
    def _long_secret(cls, value: SecretStr) -> SecretStr:
        # CSRF tokens are derived from it: a short key could be guessed.
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (try: openssl rand -hex 32)")
        return value

    @field_validator("realm", "client_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("templates_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("locales")
    @classmethod
    def _known_locales(cls, value: list[str]) -> list[str]:
        unknown = [tag for tag in value if not canonical(tag)]
        if unknown:
            # Escaped: a tag with a line break must not start a line of its own.
            shown = ", ".join(t.encode("unicode_escape").decode("ascii") for t in unknown)
            raise ValueError(f"unknown language tags: {shown}")
        if not value:
            raise ValueError("must list at least one language")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.default_locale not in self.locales:
            raise ValueError(f"KCPR_DEFAULT_LOCALE {self.default_locale!r} is not in KCPR_LOCALES")
        profiles = {"default", *self.smtp_profiles}
        used = [self.mail.smtp_profile] + [
            o.smtp_profile
            for kind in self.mail.kinds.values()
            for o in (kind, *kind.locales.values())
            if o.smtp_profile
        ]
        unknown = sorted({p for p in used if p not in profiles})
        if unknown:
            raise ValueError(
                f"SMTP profile(s) {', '.join(unknown)} are used but not defined under smtp_profiles"
            )
        if self.templates_dir is not None and not self.templates_dir.is_dir():
            raise ValueError(f"KCPR_TEMPLATES_DIR {self.templates_dir} is not a directory")
        return self

    def smtp_profile(self, name: str) -> SmtpSettings:
        return self.smtp if name == "default" else self.smtp_profiles[name]

    @property
    def effective_login_url(self) -> str:
        """Where people go after a successful reset: the realm's account console by default.

        Empty when the site set ``KCPR_LOGIN_URL=""``: the companion then shows
        its own success page instead of redirecting.
        """
        if self.login_url is None:
            return f"{self.keycloak_url}/realms/{self.realm}/account"
        return self.login_url

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_VAR)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    return value.rstrip("/")


def _looks_like_address(value: str) -> bool:
    local, sep, domain = value.rpartition("@")
    return bool(sep and local and "." in domain) and not any(
        ch in value for ch in " \t\r\n\0<>,;\"'"
    )


def env_name(location: tuple[int | str, ...]) -> str:
    """The environment variable a validation error location refers to."""
    if not location:
        return "configuration"
    return ENV_PREFIX + "__".join(str(part) for part in location).upper()


def _required(location: tuple[int | str, ...]) -> list[tuple[int | str, ...]]:
    """A missing section (``mail``) is reported as its missing required fields."""
    if len(location) == 1:
        field = Settings.model_fields.get(str(location[0]))
        model = field.annotation if field else None
        if isinstance(model, type) and issubclass(model, BaseModel):
            return [(*location, name) for name, f in model.model_fields.items() if f.is_required()]
    return [location]


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings, or raise ConfigError with one line per problem."""
    config_file = os.environ.get(CONFIG_FILE_VAR)
    if config_file and not Path(config_file).is_file():
        raise ConfigError(f"{CONFIG_FILE_VAR}: no such file: {config_file}")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines: list[str] = []
        for error in exc.errors():
            if error["type"] == "missing":
                lines.extend(f"{env_name(loc)}: is required" for loc in _required(error["loc"]))
            else:
                lines.append(
                    f"{env_name(error['loc'])}: {error['msg']}".replace("Value error, ", "")
                )
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
    except ValueError as exc:  # a malformed TOML file, for example
        raise ConfigError(f"invalid configuration: {exc}") from None


class AdminSettings(BaseSettings):
    """Admin credentials for `setup-realm`; the service itself never reads them.

    Either a user and password in ``KCPR_ADMIN_REALM``, or an admin client there (client
    credentials). Environment only: admin credentials do not belong in the service's file.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX + "ADMIN_", extra="ignore", populate_by_name=True
    )

    user: str | None = None
    password: SecretStr | None = None
    realm: str = "master"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    # The companion's own variables, so that where they are set no flags are needed.
    keycloak_url: str | None = Field(default=None, validation_alias="KCPR_KEYCLOAK_URL")
    target_realm: str | None = Field(default=None, validation_alias="KCPR_REALM")
    # The service's KCPR_PROTECTED_ROLES: its client roles get the marker role.
    protected_roles: list[str] = Field(
        default_factory=list, validation_alias="KCPR_PROTECTED_ROLES"
    )

    @property
    def protected_client_roles(self) -> tuple[str, ...]:
        return tuple(name for name in self.protected_roles if "/" in name)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object, info: ValidationInfo) -> object:
        return None if value == "" and info.field_name != "realm" else value

    @field_validator("keycloak_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @field_validator("realm")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    def problems(self) -> list[str]:
        """What is missing or contradictory, one line each."""
        lines = [
            f"{_ADMIN_NAMES[name]}: is required"
            for name in ("keycloak_url", "target_realm")
            if getattr(self, name) is None
        ]
        if self.user and self.client_id:
            lines.append("set KCPR_ADMIN_USER or KCPR_ADMIN_CLIENT_ID, not both")
        elif self.user and not self.password:
            lines.append("KCPR_ADMIN_PASSWORD: is required with KCPR_ADMIN_USER")
        elif self.client_id and not self.client_secret:
            lines.append("KCPR_ADMIN_CLIENT_SECRET: is required with KCPR_ADMIN_CLIENT_ID")
        elif not (self.user or self.client_id):
            lines.append(
                "admin credentials are required: KCPR_ADMIN_USER and KCPR_ADMIN_PASSWORD, "
                "or KCPR_ADMIN_CLIENT_ID and KCPR_ADMIN_CLIENT_SECRET"
            )
        return lines


# Settings `setup-realm` also takes as flags: messages name both.
_ADMIN_NAMES = {
    "keycloak_url": "--keycloak-url or KCPR_KEYCLOAK_URL",
    "KCPR_KEYCLOAK_URL": "--keycloak-url or KCPR_KEYCLOAK_URL",
    "target_realm": "--realm or KCPR_REALM",
    "KCPR_REALM": "--realm or KCPR_REALM",
}


def load_admin_settings(
    *, keycloak_url: str | None = None, realm: str | None = None
) -> AdminSettings:
    """The admin settings, flags winning over the environment; else ConfigError, a line each."""
    overrides: dict[str, Any] = {"keycloak_url": keycloak_url, "target_realm": realm}
    try:
        admin = AdminSettings(**{k: v for k, v in overrides.items() if v is not None})
        lines = admin.problems()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            location = str(error["loc"][0]) if error["loc"] else ""
            name = _ADMIN_NAMES.get(location, f"{ENV_PREFIX}ADMIN_{location.upper()}")
            lines.append(f"{name}: {error['msg']}".replace("Value error, ", ""))
    if lines:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))
    return admin
