"""Set up a demo/test realm, its clients and users in a running Keycloak.

The service itself reaches Keycloak only through its gateway; this module is set-up tooling for
the demo and the tests, and talks to the admin API as the master realm's bootstrap admin.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError

from keycloak_pwreset.errors import PwresetError
from keycloak_pwreset.i18n import SHIPPED_LOCALES
from keycloak_pwreset.operator.realm_setup import SERVICE_CLIENT_ID, client_secret, setup_realm
from keycloak_pwreset_demo.errors import DemoError

LOGIN_CLIENT_ID = "pwreset-login-test"
DEFAULT_PASSWORD_POLICY = " and ".join(
    (
        "length(8)",
        "digits(1)",
        "upperCase(1)",
        "lowerCase(1)",
        "notUsername",
        "passwordHistory(3)",
    )
)
# The realm offers exactly the languages the companion ships.
SUPPORTED_LOCALES = SHIPPED_LOCALES
_TIMEOUT = 30


@dataclass(frozen=True)
class RealmInfo:
    """What the service and the tests need to use a realm made by ``create_realm``."""

    server_url: str
    realm: str
    client_id: str
    client_secret: str
    login_client_id: str


@contextmanager
def _admin_api(action: str) -> Iterator[None]:
    """Turn python-keycloak's (and setup_realm's) exceptions into one-line DemoErrors."""
    try:
        yield
    except KeycloakError as exc:
        code = f"HTTP {exc.response_code}: " if exc.response_code else ""
        detail = exc.error_message
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise DemoError(f"Keycloak refused to {action}: {code}{detail}") from exc
    except PwresetError as exc:  # from setup_realm, already one line
        raise DemoError(f"Could not {action}: {exc}") from exc


def admin_client(
    server_url: str, admin_user: str, admin_password: str, realm: str
) -> KeycloakAdmin:
    """An admin API client that logs in to master (where the bootstrap admin lives) and acts
    on ``realm``."""
    return KeycloakAdmin(
        server_url=server_url,
        username=admin_user,
        password=admin_password,
        realm_name=realm,
        user_realm_name="master",
        timeout=_TIMEOUT,
    )


def create_realm(
    server_url: str,
    admin_user: str,
    admin_password: str,
    realm: str,
    *,
    password_policy: str = DEFAULT_PASSWORD_POLICY,
    recreate: bool = True,
    login_theme: str | None = None,
) -> RealmInfo:
    """(Re)create ``realm`` with the service's client and a public login-test client.

    The service's client, its roles and the realm switches come from ``setup_realm``, as on a
    real site, so the tests prove that set-up too. Only what is test-only is made here.
    """
    settings = _realm_settings(realm, password_policy)
    with _admin_api(f"set up realm {realm!r}"):
        admin = admin_client(server_url, admin_user, admin_password, realm)
        exists = any(r["realm"] == realm for r in admin.get_realms())
        if exists and recreate:
            admin.delete_realm(realm)
        if exists and not recreate:
            admin.update_realm(realm, settings)
        else:
            admin.create_realm(settings)
        setup_realm(admin, realm, client_id=SERVICE_CLIENT_ID, login_theme=login_theme)
        _create_login_client(admin)
        secret = client_secret(admin, SERVICE_CLIENT_ID)
    return RealmInfo(server_url, realm, SERVICE_CLIENT_ID, secret, LOGIN_CLIENT_ID)


def _realm_settings(realm: str, password_policy: str) -> dict[str, Any]:
    return {
        "realm": realm,
        "enabled": True,
        "loginWithEmailAllowed": True,
        "duplicateEmailsAllowed": False,
        "internationalizationEnabled": True,
        "supportedLocales": list(SUPPORTED_LOCALES),
        "defaultLocale": "en",
        "passwordPolicy": password_policy,
    }


def _create_login_client(admin: KeycloakAdmin) -> None:
    """The public client that tests sign in with (``password_grant``), if not there yet."""
    admin.create_client(
        {
            "clientId": LOGIN_CLIENT_ID,
            "enabled": True,
            "publicClient": True,
            "directAccessGrantsEnabled": True,
            "standardFlowEnabled": False,
        },
        skip_exists=True,
    )


def create_user(
    server_url: str,
    admin_user: str,
    admin_password: str,
    realm: str,
    *,
    username: str,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    locale: str | None = None,
) -> str:
    """Create an enabled, verified user who can log in at once; return the user id.

    Keycloak 26's default user profile requires first and last names for users: without them
    a login fails with "Account is not fully set up". Empty names therefore get placeholders.
    """
    user: dict[str, Any] = {
        "username": username,
        "email": email,
        "enabled": True,
        "emailVerified": True,
        "firstName": first_name or username,
        "lastName": last_name or "Demo",
        "requiredActions": [],
        "credentials": [{"type": "password", "value": password, "temporary": False}],
    }
    if locale is not None:
        user["attributes"] = {"locale": [locale]}
    with _admin_api(f"create user {username!r}"):
        admin = admin_client(server_url, admin_user, admin_password, realm)
        return str(admin.create_user(user))


def password_grant(
    server_url: str, realm: str, client_id: str, username: str, password: str
) -> bool:
    """Try a direct-grant login; True if Keycloak issues a token, False if it refuses."""
    try:
        response = requests.post(
            f"{server_url}/realms/{realm}/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": client_id,
                "username": username,
                "password": password,
                "scope": "openid",
            },
            timeout=_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise DemoError(f"Could not reach Keycloak at {server_url}: {exc}") from exc
    body = _json_or_empty(response)
    if response.status_code == 200 and body.get("access_token"):
        return True
    # invalid_grant: 401 for wrong credentials, 400 for e.g. a disabled or not set-up account.
    # Other errors (unknown client, no direct grants) are set-up mistakes, not a refusal.
    if response.status_code in (400, 401) and body.get("error") == "invalid_grant":
        return False
    raise DemoError(
        f"Unexpected answer from the token endpoint: HTTP {response.status_code} "
        f"{response.text[:200]}"
    )


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
