"""`keycloak-pwreset check` against the real Keycloak and SMTP server."""

from __future__ import annotations

import secrets

import pytest
from keycloak import KeycloakAdmin

from keycloak_pwreset.cli import main
from keycloak_pwreset_demo.ports import free_port
from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import KeycloakHandle

# Also run on Keycloak 24 and 25 by tests/run (keycloak_pwreset/keycloak_versions.py).
pytestmark = pytest.mark.keycloak_core


def configure(monkeypatch: pytest.MonkeyPatch, realm: RealmInfo, smtp_port: int) -> None:
    values = {
        "KCPR_KEYCLOAK_URL": realm.server_url,
        "KCPR_REALM": realm.realm,
        "KCPR_CLIENT_ID": realm.client_id,
        "KCPR_CLIENT_SECRET": realm.client_secret,
        "KCPR_PUBLIC_URL": "http://127.0.0.1:9",
        "KCPR_SECRET_KEY": secrets.token_hex(32),
        "KCPR_DATABASE_URL": "sqlite://",
        "KCPR_SMTP__HOST": "127.0.0.1",
        "KCPR_SMTP__PORT": str(smtp_port),
        "KCPR_MAIL__FROM_ADDRESS": "help@demo.example",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_check_passes_on_a_good_setup(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    realm: RealmInfo,
    sink: SmtpSink,
) -> None:
    configure(monkeypatch, realm, sink.port)
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "ok: Keycloak" in out and "ok: SMTP" in out


def test_check_names_missing_roles_bad_secret_and_dead_smtp(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    keycloak: KeycloakHandle,
) -> None:
    realm = keycloak.new_realm(f"check-{secrets.token_hex(3)}")
    server = keycloak.server
    admin = KeycloakAdmin(
        server_url=server.url,
        username=server.admin_user,
        password=server.admin_password,
        realm_name=realm.realm,
        user_realm_name="master",
    )
    client_uuid = admin.get_client_id(realm.client_id)
    account = admin.get_client_service_account_user(client_uuid)
    management = admin.get_client_id("realm-management")
    admin.delete_client_roles_of_user(
        account["id"], management, [admin.get_client_role(management, "view-realm")]
    )
    dead_port = free_port()
    configure(monkeypatch, realm, dead_port)
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "lacks the realm-management role 'view-realm'" in out
    assert "manage-users" not in out
    assert f"SMTP profile 'default': cannot reach the SMTP server at 127.0.0.1:{dead_port}" in out

    monkeypatch.setenv("KCPR_CLIENT_SECRET", "wrong-secret")
    assert main(["check"]) == 1
    assert "check KCPR_CLIENT_ID and KCPR_CLIENT_SECRET" in capsys.readouterr().out


def test_check_reports_bad_settings_in_one_line_each(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], realm: RealmInfo
) -> None:
    configure(monkeypatch, realm, 25)
    monkeypatch.setenv("KCPR_SECRET_KEY", "short")
    monkeypatch.setenv("KCPR_SMTP__SECURITY", "tls-please")
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert "KCPR_SECRET_KEY: must be at least 32 characters" in err
    assert "KCPR_SMTP__SECURITY:" in err
    assert "Traceback" not in err


def test_check_reports_unreachable_keycloak(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    realm: RealmInfo,
    sink: SmtpSink,
) -> None:
    configure(monkeypatch, realm, sink.port)
    monkeypatch.setenv("KCPR_KEYCLOAK_URL", f"http://127.0.0.1:{free_port()}")
    assert main(["check"]) == 1
    assert "is not reachable at http://127.0.0.1:" in capsys.readouterr().out


def test_check_names_a_missing_default_group(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    realm: RealmInfo,
    sink: SmtpSink,
) -> None:
    configure(monkeypatch, realm, sink.port)
    monkeypatch.setenv("KCPR_SIGNUP_DEFAULT_GROUPS", '["/no-such-group"]')
    assert main(["check"]) == 1
    assert "group '/no-such-group' (KCPR_SIGNUP_DEFAULT_GROUPS) does not exist" in (
        capsys.readouterr().out
    )
