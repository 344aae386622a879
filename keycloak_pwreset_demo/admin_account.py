"""Swap the database template's master-realm admin for the one the caller asked for.

Keycloak only creates its bootstrap admin (``KC_BOOTSTRAP_ADMIN_*``) in a new database, and
the fast start copies a database made earlier (see ``keycloak_prepare``). So after start-up we
log in as the template's admin and set the wanted name and password through the admin API.
"""

from typing import Any

import requests

from keycloak_pwreset_demo.errors import DemoError

_TIMEOUT = 30


def adopt_admin(url: str, *, current: tuple[str, str], wanted: tuple[str, str]) -> None:
    """Make ``wanted`` (username, password) the master realm's admin instead of ``current``."""
    if current == wanted:
        return
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {_admin_token(http, url, current)}"
        users = f"{url}/admin/realms/master/users"
        current_id = _user_id(http, users, current[0])
        if wanted[0] == current[0]:
            _check(
                http.put(
                    f"{users}/{current_id}/reset-password",
                    timeout=_TIMEOUT,
                    json=_password(wanted[1]),
                ),
                "set the admin password",
            )
            return
        created = http.post(
            users,
            timeout=_TIMEOUT,
            json={
                "username": wanted[0],
                "enabled": True,
                "credentials": [_password(wanted[1])],
            },
        )
        _check(created, "create the admin user")
        new_id = _user_id(http, users, wanted[0])
        role = http.get(f"{url}/admin/realms/master/roles/admin", timeout=_TIMEOUT)
        _check(role, "read the admin role")
        _check(
            http.post(
                f"{users}/{new_id}/role-mappings/realm", timeout=_TIMEOUT, json=[role.json()]
            ),
            "grant the admin role",
        )
        _check(http.delete(f"{users}/{current_id}", timeout=_TIMEOUT), "remove the old admin")


def _password(value: str) -> dict[str, Any]:
    return {"type": "password", "value": value, "temporary": False}


def _admin_token(http: requests.Session, url: str, credentials: tuple[str, str]) -> str:
    response = http.post(
        f"{url}/realms/master/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": credentials[0],
            "password": credentials[1],
        },
        timeout=_TIMEOUT,
    )
    _check(response, "log in as the template admin")
    return str(response.json()["access_token"])


def _user_id(http: requests.Session, users_url: str, username: str) -> str:
    response = http.get(users_url, params={"username": username, "exact": "true"}, timeout=_TIMEOUT)
    _check(response, f"look up user {username!r}")
    found = response.json()
    if not found:
        raise DemoError(f"Keycloak has no master-realm user {username!r}")
    return str(found[0]["id"])


def _check(response: requests.Response, action: str) -> None:
    if not response.ok:
        raise DemoError(
            f"Could not {action} in Keycloak: HTTP {response.status_code} {response.text[:200]}"
        )
