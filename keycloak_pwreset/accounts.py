"""Accounts in this product's terms: as Keycloak has them, as someone asks for one.

The gateway (gateway.py) reads and writes them; the flows and the web layer pass
them around. Kept apart from the gateway so that knowing what an account is does
not mean importing the Keycloak client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class KeycloakUser:
    id: str
    username: str
    email: str
    first_name: str
    last_name: str
    locale: str
    enabled: bool = True

    @property
    def display_name(self) -> str:
        # Folded to one line: names are user input and end up in email headers.
        name = " ".join(f"{self.first_name} {self.last_name}".split())
        return name or self.username

    @property
    def own_name(self) -> str:
        """The account's own first and last name, or '' (never the username or email)."""
        return " ".join(f"{self.first_name} {self.last_name}".split())


@dataclass(frozen=True)
class SignupRequest:
    """The fields of an account someone asked for: one shape from the form to Keycloak.

    The web layer reads them from a form or a JSON body, the sign-up flow cleans
    them, and they travel through the outbox job and the link's token
    (flows/jobs.py maps them to and from that JSON) to the account's creation.
    """

    email: str
    first_name: str
    last_name: str
    username: str = ""
    locale: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class NewAccount(SignupRequest):
    """A sign-up's account as it is created: the fields asked for, its password, its groups."""

    password: str
    groups: tuple[str, ...] = ()


def user_from_representation(rep: dict[str, Any]) -> KeycloakUser:
    attributes = rep.get("attributes") or {}
    locales = attributes.get("locale") or [""]
    return KeycloakUser(
        id=str(rep["id"]),
        username=str(rep.get("username", "")),
        email=str(rep.get("email", "")),
        first_name=str(rep.get("firstName", "")),
        last_name=str(rep.get("lastName", "")),
        locale=str(locales[0]),
        enabled=bool(rep.get("enabled", False)),
    )
