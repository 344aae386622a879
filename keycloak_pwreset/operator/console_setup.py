"""The admin console's part of `setup-realm`: its realm role and its own sign-in client.

The role (default ``pwreset-admin``) is what an administrator must hold to enter the
console and its API. The client is confidential and can do one thing: the standard
(authorization code) flow with PKCE S256, back to ``<public URL>/admin/callback`` only,
and out again to ``/admin``; no service account, no password grant, no implicit flow.
Planned against the live realm like the rest of setup-realm (operator/realm_setup.py),
idempotently; a client made by hand is brought to these flags, a role never removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError

from keycloak_pwreset.operator.realm_setup import api_errors

CALLBACK_PATH = "/admin/callback"


def console_flags(public_url: str) -> dict[str, Any]:
    base = public_url.rstrip("/")
    return {
        "enabled": True,
        "publicClient": False,
        "bearerOnly": False,
        "clientAuthenticatorType": "client-secret",
        "serviceAccountsEnabled": False,
        "standardFlowEnabled": True,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "redirectUris": [base + CALLBACK_PATH],
        "webOrigins": [],
    }


def console_attributes(public_url: str) -> dict[str, str]:
    return {
        "pkce.code.challenge.method": "S256",
        "post.logout.redirect.uris": public_url.rstrip("/") + "/admin",
    }


@dataclass(frozen=True)
class ConsoleState:
    client: Mapping[str, Any] | None
    role_exists: bool


@dataclass(frozen=True)
class ConsolePlan:
    client_id: str
    role: str
    public_url: str
    create_role: bool = False
    create_client: bool = False
    client_changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.create_role or self.create_client or self.client_changes)

    def lines(self) -> list[str]:
        lines: list[str] = []
        if self.create_role:
            lines.append(f"realm role {self.role}: create (enters the admin console)")
        if self.create_client:
            lines.append(
                f"client {self.client_id}: create (admin console sign-in, code flow with PKCE)"
            )
        for name, (old, new) in self.client_changes.items():
            lines.append(f"client {self.client_id}: {name} {old} -> {new}")
        return lines


def plan_console(state: ConsoleState, *, client_id: str, role: str, public_url: str) -> ConsolePlan:
    changes: dict[str, tuple[Any, Any]] = {}
    if state.client is not None:
        current = state.client
        changes = {
            k: (current.get(k), v)
            for k, v in console_flags(public_url).items()
            if current.get(k) != v
        }
        attributes = current.get("attributes") or {}
        for name, value in console_attributes(public_url).items():
            if attributes.get(name) != value:
                changes[f"attributes.{name}"] = (attributes.get(name), value)
    return ConsolePlan(
        client_id,
        role,
        public_url,
        create_role=not state.role_exists,
        create_client=state.client is None,
        client_changes=changes,
    )


def read_console_state(admin: KeycloakAdmin, client_id: str, role: str) -> ConsoleState:
    with api_errors(admin, f"read client {client_id!r} and realm role {role!r}"):
        uuid = admin.get_client_id(client_id)
        client = admin.get_client(uuid) if uuid else None
        try:
            admin.get_realm_role(role)
            role_exists = True
        except KeycloakError as exc:
            if exc.response_code != 404:
                raise
            role_exists = False
    return ConsoleState(client, role_exists)


def apply_console_plan(admin: KeycloakAdmin, plan: ConsolePlan) -> None:
    with api_errors(admin, f"set up the admin console's client {plan.client_id!r}"):
        _apply(admin, plan)


def _apply(admin: KeycloakAdmin, plan: ConsolePlan) -> None:
    if plan.create_role:
        admin.create_realm_role(
            {"name": plan.role, "description": "keycloak-pwreset: enter the admin console"},
            skip_exists=True,
        )
    wanted = console_flags(plan.public_url)
    attributes = console_attributes(plan.public_url)
    if plan.create_client:
        admin.create_client(
            {
                "clientId": plan.client_id,
                "description": "keycloak-pwreset: the admin console's sign-in",
                **wanted,
                "attributes": attributes,
            }
        )
    elif plan.client_changes:
        uuid = str(admin.get_client_id(plan.client_id))
        current = admin.get_client(uuid)
        merged = {**(current.get("attributes") or {}), **attributes}
        # The whole representation goes back: a partial one could reset what it leaves out.
        admin.update_client(uuid, {**current, **wanted, "attributes": merged})
