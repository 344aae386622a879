"""Settings of the admin console and its API (KCPR_CONSOLE__…)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator


class ConsoleSettings(BaseModel):
    """Who may see and act on the open requests and the outbox (web/admin_api.py).

    Absent (404) until ``client_secret`` is set: the console's own confidential client
    in the realm, which `setup-realm` creates. Entry needs the realm role ``role`` in
    the administrator's access token; ``api_clients``, when set, are the only realm
    clients whose tokens the API accepts (the token's ``azp``).
    """

    client_id: str = "keycloak-pwreset-admin"
    client_secret: SecretStr | None = None
    role: str = "pwreset-admin"
    api_clients: list[str] = Field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.client_secret is not None

    @field_validator("client_secret", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("role", "client_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value
