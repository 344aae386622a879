"""The service's settings, and loading them with one clear line per problem."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

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
from keycloak_pwreset.settings.console import ConsoleSettings
from keycloak_pwreset.settings.limits import CaptchaSettings, LimitSettings
from keycloak_pwreset.settings.mail import MailSettings, SmtpSettings
from keycloak_pwreset.settings.passwords import PasswordSettings
from keycloak_pwreset.settings.values import CONFIG_FILE_VAR, ENV_PREFIX, http_url


class RetentionSettings(BaseModel):
    """How long rows holding personal data are kept; see keycloak_pwreset.store.retention."""

    # Days a token (with its address and sign-up data) is kept after it stopped
    # being live: used, revoked or expired.
    token_days: int = Field(default=7, ge=1, le=3650)
    # Days a failed outbox job is kept after it failed, for an operator to see or retry.
    failed_job_days: int = Field(default=30, ge=1, le=3650)


def default_concurrency() -> int:
    """Outbox jobs worked at once by default: min(32, 4 x CPUs).

    A job spends nearly all its time waiting on Keycloak and the SMTP server,
    so a few threads per CPU keep the CPU busy without crowding it; 32 caps the
    load one worker puts on Keycloak, the database and the SMTP server (the
    same bound as Python's own thread pools).
    """
    return min(32, 4 * (os.cpu_count() or 1))


class WorkerSettings(BaseModel):
    """The outbox worker (keycloak_pwreset.worker)."""

    # Jobs worked at once, each in a thread of its own (KCPR_WORKER__CONCURRENCY);
    # 1 works one job at a time.
    concurrency: int = Field(default_factory=default_concurrency, ge=1, le=256)


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
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    # GET /metrics (Prometheus): on a listener of its own at metrics_host:metrics_port
    # when a port is set (then absent from the public port); otherwise on the public
    # port behind `Authorization: Bearer <metrics_token>`; with neither, nowhere.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_token: SecretStr | None = None
    log_level: str = "INFO"
    # "json": one JSON object per log line (audit events included), for log shippers.
    log_format: Literal["text", "json"] = "text"
    limits: LimitSettings = Field(default_factory=LimitSettings)
    captcha: CaptchaSettings = Field(default_factory=CaptchaSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    passwords: PasswordSettings = Field(default_factory=PasswordSettings)
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
    # The site's name in emails, subjects and pages; unset: the realm's display name
    # from Keycloak, else the realm's name (keycloak_pwreset/site_name.py).
    site_name: str | None = None
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

    @field_validator("templates_dir", "metrics_port", "metrics_token", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("metrics_token")
    @classmethod
    def _long_token(cls, value: SecretStr | None) -> SecretStr | None:
        # Anyone who guesses it reads the service's traffic figures.
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (try: openssl rand -hex 32)")
        return value

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
    def named_site(self) -> str:
        """The site's name without asking Keycloak (the template tools): KCPR_SITE_NAME or realm."""
        return self.site_name or self.realm

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


class TemplateSettings(Settings):
    """What `templates check|preview` read: the templates and mail settings, no secrets.

    A designer editing templates needs no Keycloak and no production secrets: the
    settings those tools never use get harmless stand-ins when they are not set.
    """

    keycloak_url: str = "http://keycloak.invalid"
    realm: str = "realm"
    client_id: str = "unused"
    client_secret: SecretStr = SecretStr("unused")
    public_url: str = "https://account-help.example.org"
    secret_key: SecretStr = SecretStr("not-a-secret-only-for-template-tools")


def load_template_settings() -> Settings:
    """The settings of the template tools (TemplateSettings), or ConfigError."""
    return load_settings(settings_class=TemplateSettings)


def load_settings(*, settings_class: type[Settings] = Settings, **overrides: Any) -> Settings:
    """Read and validate the settings, or raise ConfigError with one line per problem."""
    config_file = os.environ.get(CONFIG_FILE_VAR)
    if config_file and not Path(config_file).is_file():
        raise ConfigError(f"{CONFIG_FILE_VAR}: no such file: {config_file}")
    try:
        return settings_class(**overrides)
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
