"""`keycloak-pwreset requests list|revoke` and `outbox list|retry|discard` on a real store."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from keycloak_pwreset.cli import main
from keycloak_pwreset.store.db import Database, open_database
from keycloak_pwreset.store.link_tokens import TokenStore
from keycloak_pwreset.store.outbox import Outbox


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    for name, value in {
        "KCPR_KEYCLOAK_URL": "http://127.0.0.1:9",  # never asked: these commands need no Keycloak
        "KCPR_REALM": "demo",
        "KCPR_CLIENT_ID": "c",
        "KCPR_CLIENT_SECRET": "s",
        "KCPR_PUBLIC_URL": "https://help.example.org",
        "KCPR_SECRET_KEY": "k" * 40,
        "KCPR_MAIL__FROM_ADDRESS": "help@example.org",
        "KCPR_DATABASE_URL": url,
        "KCPR_CONFIG_FILE": "",
    }.items():
        monkeypatch.setenv(name, value)
    return open_database(url)


def test_requests_list_shows_who_and_when_never_the_token(
    store: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    token = TokenStore(store).issue(
        purpose="reset", ttl=timedelta(hours=1), user_id="u-1", email="alice@example.org"
    )
    assert main(["requests", "list"]) == 0
    table = capsys.readouterr().out
    assert "alice@example.org" in table and "u-1" in table and "reset" in table
    assert main(["requests", "list", "--json", "--address", "ALICE@example.org"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["email"], row["purpose"], row["emails_this_hour"]) == (
        "alice@example.org",
        "reset",
        0,
    )
    assert token not in table and token not in json.dumps(row)
    assert main(["requests", "list", "--purpose", "signup"]) == 0
    assert "(none)" in capsys.readouterr().out


def test_requests_revoke_kills_the_link_and_is_audited(
    store: Database, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "keycloak_pwreset.audit")
    tokens = TokenStore(store)
    token = tokens.issue(purpose="signup", ttl=timedelta(hours=1), email="bob@example.org")
    assert main(["requests", "list", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert main(["requests", "revoke", str(row["id"])]) == 0
    assert tokens.find_live(token, "signup") is None
    assert any(r.message == f"link_revoked by=cli item={row['id']}" for r in caplog.records)
    assert main(["requests", "revoke", str(row["id"])]) == 2
    assert "no such link, or not in a state to change" in capsys.readouterr().err


def test_outbox_list_retry_and_discard(store: Database, capsys: pytest.CaptureFixture[str]) -> None:
    outbox = Outbox(store)
    outbox.add("reset_request", {"identifier": "alice@example.org"})
    outbox.add("reset_request", {"identifier": "bob@example.org"})
    first, second = outbox.lease_due(2)
    outbox.fail(first, "550 mailbox unavailable")
    outbox.retry_later(second, "451 try later")
    assert main(["outbox", "list", "--state", "failed", "--json"]) == 0
    [failed] = json.loads(capsys.readouterr().out)
    assert (failed["subject"], failed["last_error"]) == (
        "alice@example.org",
        "550 mailbox unavailable",
    )
    assert main(["outbox", "retry", str(first.id)]) == 0
    assert main(["outbox", "discard", str(second.id)]) == 0
    capsys.readouterr()
    assert main(["outbox", "list"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "id",
        "kind",
        "state",
        "subject",
        "attempts",
        "created_at",
        "next_attempt_at",
        "last_error",
    ]
    assert len(table) == 2 and " due " in table[1] and "alice@example.org" in table[1]
    assert main(["outbox", "discard", "999"]) == 2
