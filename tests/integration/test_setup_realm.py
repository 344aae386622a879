"""`keycloak-pwreset setup-realm` against the real Keycloak, on bare realms made here."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from keycloak import KeycloakAdmin

from keycloak_pwreset.cli import main
from keycloak_pwreset.gateway import REQUIRED_ROLES, KeycloakGateway
from keycloak_pwreset.keycloak_versions import login_theme
from keycloak_pwreset.operator.console_setup import console_flags
from keycloak_pwreset.operator.realm_setup import CLIENT_FLAGS, SERVICE_CLIENT_ID
from keycloak_pwreset_demo.ports import free_port
from keycloak_pwreset_demo.stack import KeycloakHandle
from tests.conftest import KEYCLOAK_UNDER_TEST

# Also run on Keycloak 24 and 25 by tests/run (keycloak_pwreset/keycloak_versions.py).
pytestmark = pytest.mark.keycloak_core

THEME = "keycloak-pwreset"
# What setup-realm sets for --theme keycloak-pwreset on the Keycloak under test.
APPLIED = login_theme(KEYCLOAK_UNDER_TEST)


@dataclass
class BareRealm:
    name: str
    url: str
    admin: KeycloakAdmin  # master's bootstrap admin, acting on this realm
    theme: str  # what to pass as --theme: "" unless Keycloak has the companion's theme

    def args(self, *extra: str) -> list[str]:
        base = ["setup-realm", "--keycloak-url", self.url, "--realm", self.name]
        return [*base, "--theme", self.theme, *extra]

    def settings(self) -> dict[str, Any]:
        rep = self.admin.get_realm(self.name)
        keys = ("resetPasswordAllowed", "registrationAllowed", "loginTheme")
        return {key: rep.get(key) for key in keys}

    def client(self) -> dict[str, Any] | None:
        uuid = self.admin.get_client_id(SERVICE_CLIENT_ID)
        return self.admin.get_client(uuid) if uuid else None

    def roles(self) -> set[str]:
        """realm-management roles mapped directly to the service account."""
        client = self.client()
        assert client is not None
        account = self.admin.get_client_service_account_user(client["id"])
        management = self.admin.get_client_id("realm-management")
        return {r["name"] for r in self.admin.get_client_roles_of_user(account["id"], management)}


def admin_on(keycloak: KeycloakHandle, realm: str) -> KeycloakAdmin:
    s = keycloak.server
    return KeycloakAdmin(
        server_url=s.url,
        username=s.admin_user,
        password=s.admin_password,
        realm_name=realm,
        user_realm_name="master",
    )


@pytest.fixture
def bare_realm(keycloak: KeycloakHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[BareRealm]:
    """A realm as Keycloak makes it, with its own reset and registration switched on."""
    name = f"setup-{secrets.token_hex(3)}"
    master = admin_on(keycloak, "master")
    master.create_realm(
        {
            "realm": name,
            "enabled": True,
            "resetPasswordAllowed": True,
            "registrationAllowed": True,
        }
    )
    logins = {t["name"] for t in master.get_server_info()["themes"]["login"]}
    for variable in list(os.environ):
        if variable.upper().startswith("KCPR_"):
            monkeypatch.delenv(variable)
    monkeypatch.setenv("KCPR_ADMIN_USER", keycloak.server.admin_user)
    monkeypatch.setenv("KCPR_ADMIN_PASSWORD", keycloak.server.admin_password)
    admin = admin_on(keycloak, name)
    yield BareRealm(name, keycloak.server.url, admin, THEME if THEME in logins else "")
    master.delete_realm(name)


def printed_env(out: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in out.splitlines() if line.startswith("KCPR_"))
    return dict(pairs)


def test_dry_run_then_run_then_rerun(
    bare_realm: BareRealm, capsys: pytest.CaptureFixture[str]
) -> None:
    realm = bare_realm
    before = realm.settings()
    expected = [
        f"realm {realm.name}: resetPasswordAllowed true -> false",
        f"realm {realm.name}: registrationAllowed true -> false",
        *([f"realm {realm.name}: loginTheme (unset) -> {APPLIED}"] if realm.theme else []),
        f"client {SERVICE_CLIENT_ID}: create (service account, confidential)",
        "service account: grant realm-management roles "
        "manage-users, query-users, view-clients, view-realm, view-users",
    ]

    assert main(realm.args("--dry-run")) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [*expected, "dry run: nothing was changed"]
    assert realm.settings() == before and realm.client() is None

    assert main(realm.args()) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[: len(expected)] == expected
    client = realm.client()
    assert client is not None
    assert {key: client.get(key) for key in CLIENT_FLAGS} == CLIENT_FLAGS
    assert realm.roles() == set(REQUIRED_ROLES)
    assert realm.settings() == {
        "resetPasswordAllowed": False,
        "registrationAllowed": False,
        "loginTheme": APPLIED if realm.theme else None,
    }
    env = printed_env(out)
    assert env["KCPR_REALM"] == realm.name and env["KCPR_CLIENT_ID"] == SERVICE_CLIENT_ID
    secret = env["KCPR_CLIENT_SECRET"]
    token = requests.post(
        f"{realm.url}/realms/{realm.name}/protocol/openid-connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": SERVICE_CLIENT_ID,
            "client_secret": secret,
        },
        timeout=30,
    )
    assert token.status_code == 200, token.text
    gateway = KeycloakGateway(env["KCPR_KEYCLOAK_URL"], realm.name, SERVICE_CLIENT_ID, secret)
    assert gateway.missing_roles() == []  # what `keycloak-pwreset check` asks

    configured = (realm.settings(), realm.client(), realm.roles())
    assert main(realm.args()) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"realm {realm.name}: nothing to change"
    assert "KCPR_CLIENT_SECRET=" not in out and "--show-secret" in out
    assert (realm.settings(), realm.client(), realm.roles()) == configured

    assert main(realm.args("--show-secret")) == 0
    assert printed_env(capsys.readouterr().out)["KCPR_CLIENT_SECRET"] == secret


def test_fixes_a_hand_made_client_and_warns_about_extra_roles(
    bare_realm: BareRealm, capsys: pytest.CaptureFixture[str]
) -> None:
    realm = bare_realm
    admin = realm.admin
    uuid = admin.create_client(
        {
            "clientId": SERVICE_CLIENT_ID,
            "publicClient": False,
            "serviceAccountsEnabled": True,
            "standardFlowEnabled": True,
            "directAccessGrantsEnabled": True,
        }
    )
    account = admin.get_client_service_account_user(uuid)
    management = admin.get_client_id("realm-management")
    held = [admin.get_client_role(management, n) for n in ("view-users", "manage-realm")]
    admin.assign_client_role(account["id"], management, held)
    secret_before = admin.get_client_secrets(uuid)["value"]

    assert main([*realm.args(), "--theme", ""]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:5] == [
        f"realm {realm.name}: resetPasswordAllowed true -> false",
        f"realm {realm.name}: registrationAllowed true -> false",
        f"client {SERVICE_CLIENT_ID}: standardFlowEnabled true -> false",
        f"client {SERVICE_CLIENT_ID}: directAccessGrantsEnabled true -> false",
        "service account: grant realm-management roles manage-users, query-users, view-clients, "
        "view-realm",
    ]
    assert lines[5].startswith("warning: service account: also holds realm-management role ")
    assert "manage-realm" in lines[5]
    assert "KCPR_CLIENT_SECRET=" not in "\n".join(lines)  # not created here: not shown
    assert realm.roles() == {*REQUIRED_ROLES, "manage-realm"}  # warned about, not removed
    assert admin.get_client_secrets(uuid)["value"] == secret_before


def test_an_admin_client_works_too(
    bare_realm: BareRealm,
    keycloak: KeycloakHandle,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    master = admin_on(keycloak, "master")
    client_id = f"ops-{secrets.token_hex(3)}"
    uuid = master.create_client(
        {"clientId": client_id, "publicClient": False, "serviceAccountsEnabled": True}
    )
    try:
        account = master.get_client_service_account_user(uuid)
        master.assign_realm_roles(account["id"], [master.get_realm_role("admin")])
        monkeypatch.delenv("KCPR_ADMIN_USER")
        monkeypatch.setenv("KCPR_ADMIN_CLIENT_ID", client_id)
        monkeypatch.setenv("KCPR_ADMIN_CLIENT_SECRET", master.get_client_secrets(uuid)["value"])
        assert main(bare_realm.args("--dry-run")) == 0
        assert "create (service account, confidential)" in capsys.readouterr().out
    finally:
        master.delete_client(uuid)


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_bad_admin_password_is_one_line(
    bare_realm: BareRealm, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KCPR_ADMIN_PASSWORD", "not-the-password")
    assert main(bare_realm.args()) == 2
    err = one_line_error(capsys)
    assert "the admin could not sign in to realm 'master'" in err
    assert "check KCPR_ADMIN_USER and KCPR_ADMIN_PASSWORD" in err


def test_unknown_realm_is_one_line(
    bare_realm: BareRealm, capsys: pytest.CaptureFixture[str]
) -> None:
    args = bare_realm.args()
    args[args.index(bare_realm.name)] = "no-such-realm"
    assert main(args) == 2
    assert "realm 'no-such-realm' does not exist" in one_line_error(capsys)


def test_unreachable_keycloak_is_one_line(
    bare_realm: BareRealm, capsys: pytest.CaptureFixture[str]
) -> None:
    args = bare_realm.args()
    args[args.index(bare_realm.url)] = f"http://127.0.0.1:{free_port()}"
    assert main(args) == 2
    assert "Keycloak is unreachable at http://127.0.0.1:" in one_line_error(capsys)


def test_the_admin_console_gets_its_client_and_role(
    bare_realm: BareRealm, capsys: pytest.CaptureFixture[str]
) -> None:
    realm = bare_realm
    public = "https://help.example.org"
    assert main(realm.args("--public-url", public)) == 0
    out = capsys.readouterr().out
    assert "realm role pwreset-admin: create (enters the admin console)" in out
    env = printed_env(out)
    assert env["KCPR_CONSOLE__CLIENT_ID"] == "keycloak-pwreset-admin"
    assert env["KCPR_CONSOLE__CLIENT_SECRET"]
    uuid = realm.admin.get_client_id("keycloak-pwreset-admin")
    client = realm.admin.get_client(uuid)
    assert {k: client.get(k) for k in console_flags(public)} == console_flags(public)
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    assert client["attributes"]["post.logout.redirect.uris"] == public + "/admin"
    assert realm.admin.get_realm_role("pwreset-admin")["name"] == "pwreset-admin"
    # Keycloak refuses a sign-in that would return anywhere else.
    wrong = requests.get(
        f"{realm.url}/realms/{realm.name}/protocol/openid-connect/auth",
        params={
            "client_id": "keycloak-pwreset-admin",
            "response_type": "code",
            "redirect_uri": "https://evil.example/admin/callback",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
        timeout=30,
    )
    assert wrong.status_code == 400
    assert main(realm.args("--public-url", public)) == 0
    again = capsys.readouterr().out
    assert again.splitlines()[0] == f"realm {realm.name}: nothing to change"
    assert "pwreset-admin: create" not in again and "KCPR_CONSOLE__CLIENT_SECRET=" not in again
