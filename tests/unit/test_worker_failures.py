"""Permanent SMTP refusals fail a job at once; temporary ones are retried.

Through the whole service (flow, mailer, real SMTP transport) against a real
aiosmtpd server on loopback that refuses the recipient.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.models import LinkToken, OutboxItem
from tests.unit.conftest import make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak
from tests.unit.test_mail_transport import HOST, SmtpServer, start_server


@pytest.fixture
def db(any_db: Database) -> Database:
    """Part of the store's contract suite: SQLite and PostgreSQL (tests/unit/conftest.py)."""
    return any_db


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    controller, server = start_server()
    yield server
    controller.stop()


@pytest.fixture
def smtp_services(
    smtp: SmtpServer, keycloak: FakeKeycloak, db: Database, clock: FakeClock
) -> Services:
    settings = make_settings(smtp={"host": HOST, "port": smtp.port, "timeout_seconds": 5})
    return build_services(settings, gateway=keycloak, db=db, clock=clock)


def outbox_rows(db: Database) -> list[OutboxItem]:
    with db.session() as session:
        return list(session.scalars(select(OutboxItem)))


def token_count(db: Database) -> int:
    with db.session() as session:
        return len(session.scalars(select(LinkToken.id)).all())


def test_a_550_recipient_refusal_fails_the_job_at_once(
    smtp: SmtpServer,
    smtp_services: Services,
    db: Database,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    smtp.handler.refuse_rcpt = "550 5.1.1 <alice@example.org>: no such mailbox"
    smtp_services.reset.request("alice")
    with caplog.at_level(logging.INFO):
        assert smtp_services.worker.run_once() == 0
    [row] = outbox_rows(db)
    assert row.failed_at == clock.now
    assert row.attempts == 1
    assert row.last_error == (
        "the SMTP server did not accept the message: recipient refused (550 5.1.1)"
    )
    [event] = [r for r in caplog.records if getattr(r, "event", "") == "job_failed"]
    assert (event.kind, event.reason) == ("reset_request", row.last_error)  # type: ignore[attr-defined]
    # Nothing this service logged names the address (the test server's own log does).
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("keycloak_pwreset")]
    assert ours and not [line for line in ours if "alice" in line]
    assert token_count(db) == 0  # the link that never left is gone
    assert smtp_services.outbox.pending_count() == 0
    clock.advance(hours=1)
    assert smtp_services.worker.run_once() == 0
    assert smtp.handler.received == []


def test_a_450_recipient_refusal_is_retried_and_then_delivered(
    smtp: SmtpServer, smtp_services: Services, db: Database, clock: FakeClock
) -> None:
    smtp.handler.refuse_rcpt = "450 4.2.1 <alice@example.org>: mailbox busy"
    smtp_services.reset.request("alice")
    assert smtp_services.worker.run_once() == 0
    [row] = outbox_rows(db)
    assert row.failed_at is None
    assert row.next_attempt_at > clock.now
    assert row.last_error.endswith("recipient refused (450 4.2.1)")
    assert "alice" not in row.last_error

    smtp.handler.refuse_rcpt = ""
    clock.now = row.next_attempt_at
    assert smtp_services.worker.run_once() == 1
    [mail] = smtp.handler.received
    assert mail.rcpt_tos == ["alice@example.org"]
    assert outbox_rows(db) == []
