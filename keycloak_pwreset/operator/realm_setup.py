"""Prepare a realm for the companion: plan against the live realm, then apply the plan.

`keycloak-pwreset setup-realm` and the demo/test stack both use it, so the realm the tests run
against is set up by the very code sites use. It is idempotent (a second run plans nothing),
and it never creates realms nor removes roles: those are decisions for a person, so it stops
with a one-line error, or warns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakConnectionError, KeycloakError

from keycloak_pwreset.errors import KeycloakUnavailable, RealmSetupError
from keycloak_pwreset.gateway import REQUIRED_ROLES
from keycloak_pwreset.keycloak_versions import THEME
from keycloak_pwreset.keycloak_versions import login_theme as theme_for

SERVICE_CLIENT_ID = "keycloak-pwreset"
MANAGEMENT_CLIENT = "realm-management"
# A confidential client that can only sign itself in (client credentials): no browser login,
# no password grant, nothing a person could sign in through.
CLIENT_FLAGS: dict[str, object] = {
    "enabled": True,
    "publicClient": False,
    "bearerOnly": False,
    "clientAuthenticatorType": "client-secret",
    "serviceAccountsEnabled": True,
    "standardFlowEnabled": False,
    "implicitFlowEnabled": False,
    "directAccessGrantsEnabled": False,
}
# Keycloak's own forgot-password and registration flows, which the companion replaces. Left on
# they are a second way in, and Keycloak's reset answers slower for existing accounts (it sends
# the mail inside the request), which tells anyone which addresses have an account.
REALM_SWITCHES: dict[str, object] = {"resetPasswordAllowed": False, "registrationAllowed": False}
_TIMEOUT = 30


@dataclass(frozen=True)
class AdminCredentials:
    """Who signs in to the admin API: a user (password grant) or a client (client credentials)."""

    realm: str = "master"
    user: str | None = None
    password: str | None = None
    client_id: str | None = None
    client_secret: str | None = None

    @property
    def variables(self) -> str:
        """The settings to check when signing in fails."""
        if self.user:
            return "KCPR_ADMIN_USER and KCPR_ADMIN_PASSWORD"
        return "KCPR_ADMIN_CLIENT_ID and KCPR_ADMIN_CLIENT_SECRET"


@dataclass(frozen=True)
class RealmState:
    """What the planner needs to know about the live realm."""

    name: str
    settings: Mapping[str, Any]  # the realm representation
    client: Mapping[str, Any] | None  # the companion's client; None when it does not exist
    # realm-management roles mapped *directly* to the service account. Effective roles would
    # not do: view-users includes query-groups, which would then read as an extra role.
    roles: frozenset[str] = frozenset()
    login_themes: frozenset[str] | None = None  # installed login themes; None: not known
    server_version: str = ""  # Keycloak's version, when the server info could be read


@dataclass(frozen=True)
class Plan:
    realm: str
    client_id: str
    realm_changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name: (old, new)
    create_client: bool = False
    client_changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    grants: tuple[str, ...] = ()
    extra_roles: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.realm_changes or self.create_client or self.client_changes or self.grants)

    def lines(self) -> list[str]:
        """One line per change, in the order they are applied."""
        if self.empty:
            return [f"realm {self.realm}: nothing to change"]
        lines = [f"realm {self.realm}: {_change(n, c)}" for n, c in self.realm_changes.items()]
        if self.create_client:
            lines.append(f"client {self.client_id}: create (service account, confidential)")
        client = self.client_changes.items()
        lines += [f"client {self.client_id}: {_change(n, c)}" for n, c in client]
        if self.grants:
            lines.append(f"service account: grant {_roles(self.grants)}")
        return lines

    def warnings(self) -> list[str]:
        if not self.extra_roles:
            return []
        return [
            f"service account: also holds {_roles(self.extra_roles)}, which the companion does "
            "not need; setup-realm leaves them, remove them for least privilege"
        ]


def plan_setup(
    state: RealmState, *, client_id: str = SERVICE_CLIENT_ID, login_theme: str | None = None
) -> Plan:
    """What must change in ``state``; ``login_theme`` None (or empty) leaves the theme alone."""
    wanted = dict(REALM_SWITCHES)
    if login_theme == THEME and state.server_version:
        login_theme = theme_for(state.server_version)  # ours, as this version can render it
    if login_theme:
        if state.login_themes is not None and login_theme not in state.login_themes:
            raise RealmSetupError(
                f"Keycloak has no login theme {login_theme!r} (it has: "
                f"{', '.join(sorted(state.login_themes))}): install it first, "
                "or pass --theme '' to leave the login theme alone"
            )
        wanted["loginTheme"] = login_theme
    return Plan(
        realm=state.name,
        client_id=client_id,
        realm_changes=_differences(state.settings, wanted),
        create_client=state.client is None,
        client_changes={} if state.client is None else _differences(state.client, CLIENT_FLAGS),
        grants=tuple(sorted(set(REQUIRED_ROLES) - state.roles)),
        extra_roles=tuple(sorted(state.roles - set(REQUIRED_ROLES))),
    )


def _differences(current: Mapping[str, Any], wanted: Mapping[str, object]) -> dict[str, Any]:
    return {k: (current.get(k), v) for k, v in wanted.items() if current.get(k) != v}


def _change(name: str, old_new: tuple[Any, Any]) -> str:
    return f"{name} {_show(old_new[0])} -> {_show(old_new[1])}"


def _show(value: object) -> str:
    if isinstance(value, bool):
        return json.dumps(value)  # true/false, as the admin console and the API spell them
    return "(unset)" if value in (None, "") else str(value)


def _roles(names: tuple[str, ...]) -> str:
    noun = "role" if len(names) == 1 else "roles"
    return f"{MANAGEMENT_CLIENT} {noun} {', '.join(names)}"


# -- the live realm ------------------------------------------------------------------------


def connect(server_url: str, realm: str, credentials: AdminCredentials) -> KeycloakAdmin:
    """Sign in to the admin API (in ``credentials.realm``) to act on ``realm``."""
    admin = KeycloakAdmin(
        server_url=server_url.rstrip("/") + "/",
        username=credentials.user,
        password=credentials.password,
        client_id=credentials.client_id or "admin-cli",
        client_secret_key=credentials.client_secret,
        realm_name=realm,
        user_realm_name=credentials.realm,
        timeout=_TIMEOUT,
        max_retries=0,  # a set-up tool run by a person: fail at once, they can rerun it
    )
    try:
        admin.connection.get_token()
    except KeycloakConnectionError as exc:
        raise KeycloakUnavailable(f"Keycloak is unreachable at {server_url}") from exc
    except KeycloakError as exc:
        if (exc.response_code or 0) >= 500:
            raise KeycloakUnavailable(f"Keycloak answered {_detail(exc)} to the sign-in") from exc
        raise RealmSetupError(
            f"the admin could not sign in to realm {credentials.realm!r} ({_detail(exc)}): "
            f"check {credentials.variables}"
        ) from exc
    return admin


def setup_realm(
    admin: KeycloakAdmin,
    realm: str,
    *,
    client_id: str = SERVICE_CLIENT_ID,
    login_theme: str | None = None,
) -> Plan:
    """Read, plan and apply in one go; return the plan that was applied."""
    state = read_state(admin, realm, client_id, with_themes=bool(login_theme))
    plan = plan_setup(state, client_id=client_id, login_theme=login_theme)
    apply_plan(admin, plan)
    return plan


def read_state(
    admin: KeycloakAdmin, realm: str, client_id: str, *, with_themes: bool = False
) -> RealmState:
    """The realm as it is now. ``admin`` must act on ``realm`` (its connection's realm)."""
    with api_errors(admin, f"read realm {realm!r}"):
        try:
            settings = admin.get_realm(realm)
        except KeycloakError as exc:
            if exc.response_code != 404:
                raise
            raise RealmSetupError(
                f"realm {realm!r} does not exist at {admin.connection.server_url} "
                "(setup-realm does not create realms)"
            ) from exc
        uuid = admin.get_client_id(client_id)
        client = admin.get_client(uuid) if uuid else None
        roles = frozenset[str]()
        if uuid and client and client.get("serviceAccountsEnabled"):
            account = admin.get_client_service_account_user(uuid)
            mapped = admin.get_client_roles_of_user(account["id"], _uuid(admin, MANAGEMENT_CLIENT))
            roles = frozenset(str(role["name"]) for role in mapped)
    themes, version = _login_themes(admin) if with_themes else (None, "")
    return RealmState(realm, settings, client, roles, themes, version)


def apply_plan(admin: KeycloakAdmin, plan: Plan) -> None:
    if plan.realm_changes:
        with api_errors(admin, f"update realm {plan.realm!r}"):
            admin.update_realm(plan.realm, {k: new for k, (_, new) in plan.realm_changes.items()})
    with api_errors(admin, f"set up client {plan.client_id!r}"):
        uuid = _ensure_client(admin, plan)
    if plan.grants:
        with api_errors(admin, "grant the service account its roles"):
            account = admin.get_client_service_account_user(uuid)
            management = _uuid(admin, MANAGEMENT_CLIENT)
            roles = [admin.get_client_role(management, name) for name in plan.grants]
            admin.assign_client_role(account["id"], management, roles)


def client_secret(admin: KeycloakAdmin, client_id: str) -> str:
    """The client's current secret, read back: Keycloak generates and owns it."""
    with api_errors(admin, f"read the secret of client {client_id!r}"):
        return str(admin.get_client_secrets(_uuid(admin, client_id)).get("value") or "")


def _ensure_client(admin: KeycloakAdmin, plan: Plan) -> str:
    if plan.create_client:
        payload = {
            "clientId": plan.client_id,
            "description": "keycloak-pwreset: password reset and sign-up (service account)",
            **CLIENT_FLAGS,
        }
        return str(admin.create_client(payload))
    uuid = _uuid(admin, plan.client_id)
    if plan.client_changes:
        # The whole representation goes back with the flags changed: a partial one could
        # reset what it leaves out.
        changed = {name: new for name, (_, new) in plan.client_changes.items()}
        admin.update_client(uuid, {**admin.get_client(uuid), **changed})
    return uuid


def _uuid(admin: KeycloakAdmin, client_id: str) -> str:
    uuid = admin.get_client_id(client_id)
    if uuid is None:
        realm = admin.connection.realm_name
        raise RealmSetupError(f"realm {realm!r} has no client {client_id!r}")
    return str(uuid)


def _login_themes(admin: KeycloakAdmin) -> tuple[frozenset[str] | None, str]:
    """The installed login themes and Keycloak's version (None, "": not readable)."""
    try:
        info = admin.get_server_info()
    except KeycloakError:
        return None, ""  # an admin who may not read the server info: set the theme unchecked
    themes = frozenset(str(theme["name"]) for theme in info.get("themes", {}).get("login", []))
    return themes, str((info.get("systemInfo") or {}).get("version", ""))


@contextmanager
def api_errors(admin: KeycloakAdmin, action: str) -> Iterator[None]:
    """python-keycloak's exceptions as this product's one-line errors."""
    try:
        yield
    except KeycloakConnectionError as exc:
        url = admin.connection.server_url
        raise KeycloakUnavailable(f"Keycloak is unreachable at {url}") from exc
    except KeycloakError as exc:
        code = exc.response_code or 0
        if code >= 500:
            raise KeycloakUnavailable(f"Keycloak answered {_detail(exc)} to: {action}") from exc
        if code == 403:
            raise RealmSetupError(
                f"the admin may not {action} (HTTP 403): it needs the realm's realm-admin role "
                "(or the admin role in master)"
            ) from exc
        raise RealmSetupError(f"Keycloak refused to {action} ({_detail(exc)})") from exc


def _detail(exc: KeycloakError) -> str:
    """``HTTP 401: Invalid user credentials``: the status and Keycloak's own words, one line."""
    text = exc.response_body or exc.error_message or b""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        text = body.get("error_description") or body.get("errorMessage") or body.get("error") or ""
    words = " ".join(str(text).split())[:200]
    return f"HTTP {exc.response_code}: {words}" if words else f"HTTP {exc.response_code}"
