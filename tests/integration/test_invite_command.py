"""`keycloak-pwreset invite EMAIL` against the real Keycloak and SMTP server."""

from __future__ import annotations

from pathlib import Path

import pytest
from keycloak import KeycloakAdmin

from keycloak_pwreset.cli import main
from keycloak_pwreset.services import build_services
from keycloak_pwreset.settings import load_settings
from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from tests.helpers import Account
from tests.integration.test_check_command import configure
from tests.integration.test_reset_flow import wait_count


def test_invite_from_the_host(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    realm: RealmInfo,
    admin: KeycloakAdmin,
    sink: SmtpSink,
    account: Account,
) -> None:
    configure(monkeypatch, realm, sink.port)
    monkeypatch.setenv("KCPR_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    admin.create_group({"name": "cli-invited"}, skip_exists=True)
    invitee = f"cli-{account.user.username}@example.org"
    assert main(["invite", invitee, "--group", "/cli-invited", "--locale", "de"]) == 0
    assert f"invitation for {invitee} queued" in capsys.readouterr().out
    # The worker (here: one run of it) sends what the command queued.
    services = build_services(load_settings())
    try:
        services.worker.run_once()
    finally:
        services.close()
    [mail] = wait_count(sink, invitee, "eingeladen", 1)
    assert "/invitation?token=" in mail.text_body()
    # Refusals are one line, and nothing is queued.
    assert main(["invite", account.user.email]) == 2
    assert "already has an account" in capsys.readouterr().err
    assert main(["invite", "x@example.org", "--group", "/no-such-group"]) == 2
    assert "names a group the realm does not have" in capsys.readouterr().err
