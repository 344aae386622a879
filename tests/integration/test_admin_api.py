"""The admin API against the real Keycloak: tokens of the realm, with and without the role.

An administrator signs in with the realm itself (a direct grant on the test realm's public
login client, as a script would) and lists and revokes a pending reset; a token without the
role, an expired one and one from another realm are refused.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from keycloak import KeycloakAdmin

from keycloak_pwreset.web.admin_auth import LEEWAY_SECONDS
from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import DemoUser, KeycloakHandle, ServiceHandle
from tests.conftest import TEST_LIMITS
from tests.helpers import Account, reset_link
from tests.integration.test_reset_flow import wait_count

ROLE = "pwreset-admin"
API = "/admin/api/v1"
PASSWORD = "Admin-pass-12"


def access_token(realm: RealmInfo, username: str, client_id: str | None = None) -> str:
    response = requests.post(
        f"{realm.server_url}/realms/{realm.realm}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": client_id or realm.login_client_id,
            "username": username,
            "password": PASSWORD,
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def person(keycloak: KeycloakHandle, realm: RealmInfo, admin: KeycloakAdmin | None) -> str:
    """A new user of ``realm`` (with the console role when ``admin`` is given); their username."""
    name = f"adm{secrets.token_hex(4)}"
    user_id = keycloak.add_user(
        realm.realm, DemoUser(name, f"{name}@example.org", PASSWORD, "Support", "Desk")
    )
    if admin is not None:
        admin.create_realm_role({"name": ROLE}, skip_exists=True)
        admin.assign_realm_roles(user_id, [admin.get_realm_role(ROLE)])
    return name


@pytest.fixture(scope="module")
def console(
    realm: RealmInfo,
    sink: SmtpSink,
    tmp_path_factory: pytest.TempPathFactory,
    new_store: Callable[[Path], str],
) -> Iterator[ServiceHandle]:
    work = tmp_path_factory.mktemp("console")
    handle = ServiceHandle.start(
        realm,
        sink,
        work,
        database_url=new_store(work),
        limits=TEST_LIMITS,
        console={"client_secret": "not-used-by-the-api"},
    )
    yield handle
    handle.stop()


def test_an_administrator_lists_and_revokes_a_pending_reset(
    console: ServiceHandle,
    sink: SmtpSink,
    keycloak: KeycloakHandle,
    realm: RealmInfo,
    admin: KeycloakAdmin,
    account: Account,
) -> None:
    headers = {"authorization": f"Bearer {access_token(realm, person(keycloak, realm, admin))}"}
    email = account.user.email
    sent = requests.post(
        console.url + "/api/v1/password-resets", json={"identifier": email}, timeout=30
    )
    assert sent.status_code == 202
    [mail] = wait_count(sink, email, "Reset your password", 1)
    listed = requests.get(
        console.url + API + "/requests", params={"address": email}, headers=headers, timeout=30
    )
    assert listed.status_code == 200, listed.text
    [row] = listed.json()
    assert (row["purpose"], row["user_id"], row["emails_this_hour"]) == ("reset", account.id, 1)
    link = reset_link(mail, console)
    assert link.split("token=")[1] not in listed.text
    url = f"{console.url}{API}/requests/{row['id']}"
    revoked = requests.delete(url, headers=headers, timeout=30)
    assert revoked.status_code == 204
    token = link.split("token=")[1]
    body = {
        "token": token,
        "password": "Brand-new-pass1",
        "password_confirmation": "Brand-new-pass1",
    }
    after = requests.post(console.url + "/api/v1/password-resets/complete", json=body, timeout=30)
    assert after.status_code == 410  # the emailed link is dead


def test_the_api_refuses_the_wrong_tokens(
    console: ServiceHandle, keycloak: KeycloakHandle, realm: RealmInfo, admin: KeycloakAdmin
) -> None:
    def status(token: str) -> int:
        answer = requests.get(
            console.url + API + "/outbox", headers={"authorization": f"Bearer {token}"}, timeout=30
        )
        return answer.status_code

    assert status(access_token(realm, person(keycloak, realm, None))) == 403  # no role
    # Another realm of the same Keycloak, where the user does hold a role of that name.
    other = keycloak.new_realm(f"other-{secrets.token_hex(3)}")
    other_admin = KeycloakAdmin(
        server_url=keycloak.server.url + "/",
        username=keycloak.server.admin_user,
        password=keycloak.server.admin_password,
        realm_name=other.realm,
        user_realm_name="master",
    )
    assert status(access_token(other, person(keycloak, other, other_admin))) == 401
    # An access token that lives two seconds, used after it (and the leeway) ran out.
    client_id = f"short-{secrets.token_hex(3)}"
    admin.create_client(
        {
            "clientId": client_id,
            "publicClient": True,
            "directAccessGrantsEnabled": True,
            "standardFlowEnabled": False,
            "attributes": {"access.token.lifespan": "2"},
        }
    )
    short = access_token(realm, person(keycloak, realm, admin), client_id)
    assert status(short) == 200
    time.sleep(2 + LEEWAY_SECONDS + 1)
    assert status(short) == 401
