"""Admin credentials for `setup-realm` (KCPR_ADMIN_…); the service itself never reads them."""

from __future__ import annotations

from typing import Any

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    SettingsConfigDict,
)

from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.settings.values import ENV_PREFIX, http_url


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
