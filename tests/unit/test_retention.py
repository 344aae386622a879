"""The retention sweep: what it deletes, what it keeps, and its settings."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from keycloak_pwreset.services import Services
from keycloak_pwreset.settings import RetentionSettings
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.link_tokens import TokenStore
from keycloak_pwreset.store.models import LinkToken, OutboxItem, SentEmail
from keycloak_pwreset.store.outbox import Outbox
from keycloak_pwreset.store.retention import Swept, sweep
from tests.unit.conftest import make_settings
from tests.unit.fakes import FakeClock

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
DEFAULTS = RetentionSettings()


@pytest.fixture
def db(any_db: Database) -> Database:
    """Part of the store's contract suite: SQLite and PostgreSQL (tests/unit/conftest.py)."""
    return any_db


def add_token(db: Database, name: str, **moments: datetime) -> None:
    """A token row whose life ended (or not) at the given moments."""
    start = moments.pop("created_at")
    with db.session() as session:
        session.add(
            LinkToken(
                token_hash=name.ljust(64, "0"),
                purpose="reset",
                user_id=name,
                email=f"{name}@example.org",
                created_at=start,
                expires_at=moments.pop("expires_at", start + timedelta(hours=1)),
                **moments,
            )
        )


def token_names(db: Database) -> set[str]:
    with db.session() as session:
        return set(session.scalars(select(LinkToken.user_id)))


def test_tokens_go_seven_days_after_they_stopped_being_live(db: Database, clock: FakeClock) -> None:
    now = clock.now
    cutoff = now - 7 * DAY
    old = cutoff - 2 * DAY
    add_token(db, "used", created_at=old, used_at=cutoff - SECOND)
    add_token(db, "revoked", created_at=old, revoked_at=cutoff - SECOND)
    add_token(db, "expired", created_at=old, expires_at=cutoff - SECOND)
    # Each of these stopped being live a second after the cutoff, at the earliest.
    recent = cutoff - timedelta(minutes=30)  # with the default TTL: expires after the cutoff
    add_token(db, "used-recently", created_at=recent, used_at=cutoff + SECOND)
    add_token(db, "revoked-recently", created_at=recent, revoked_at=cutoff + SECOND)
    add_token(db, "expired-recently", created_at=old, expires_at=cutoff + SECOND)
    # Made long ago, but live until next week: still someone's working link.
    add_token(db, "live", created_at=old, expires_at=now + 7 * DAY)
    swept = sweep(db, clock, DEFAULTS)
    assert swept.tokens == 3
    assert token_names(db) == {"used-recently", "revoked-recently", "expired-recently", "live"}


def test_failed_jobs_go_thirty_days_after_they_failed(db: Database, clock: FakeClock) -> None:
    outbox = Outbox(db, clock)
    start = clock.now
    for name in ("old-failure", "recent-failure", "pending"):
        outbox.add("k", {"name": name})
    jobs = outbox.lease_due()
    outbox.fail(jobs[0], "refused")
    clock.advance(days=2)
    outbox.fail(jobs[1], "refused")
    outbox.retry_later(jobs[2], "SMTP down")
    clock.now = start + 30 * DAY + SECOND
    assert sweep(db, clock, DEFAULTS).failed_jobs == 1
    with db.session() as session:
        left = [row.payload["name"] for row in session.scalars(select(OutboxItem))]
    # Pending work is never swept, however old.
    assert sorted(left) == ["pending", "recent-failure"]


def test_sent_email_records_go_after_two_days(db: Database, clock: FakeClock) -> None:
    with db.session() as session:
        for age in (2 * DAY + SECOND, 2 * DAY - SECOND, timedelta(0)):
            session.add(SentEmail(account="u1", network="", kind="reset", sent_at=clock.now - age))
    assert sweep(db, clock, DEFAULTS).sent_emails == 1
    with db.session() as session:
        assert len(session.scalars(select(SentEmail.id)).all()) == 2


def test_the_periods_come_from_the_settings(db: Database, clock: FakeClock) -> None:
    outbox = Outbox(db, clock)
    outbox.add("k", {})
    [job] = outbox.lease_due()
    outbox.fail(job, "refused")
    add_token(db, "used", created_at=clock.now, used_at=clock.now)
    clock.advance(days=2)
    assert sweep(db, clock, DEFAULTS) == Swept(0, 0, 0)
    short = RetentionSettings(token_days=1, failed_job_days=1)
    assert sweep(db, clock, short) == Swept(tokens=1, failed_jobs=1, sent_emails=0)


def test_a_sweep_logs_what_it_removed(
    db: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    add_token(db, "used", created_at=clock.now - 30 * DAY, used_at=clock.now - 30 * DAY)
    with caplog.at_level("INFO", logger="keycloak_pwreset.store.retention"):
        sweep(db, clock, DEFAULTS)
        sweep(db, clock, DEFAULTS)  # nothing left: nothing to say
    assert caplog.messages == ["retention: removed 1 tokens, 0 failed jobs, 0 sent-email records"]


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert make_settings().retention == RetentionSettings(token_days=7, failed_job_days=30)
    monkeypatch.setenv("KCPR_RETENTION__TOKEN_DAYS", "3")
    monkeypatch.setenv("KCPR_RETENTION__FAILED_JOB_DAYS", "90")
    assert make_settings().retention == RetentionSettings(token_days=3, failed_job_days=90)


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_bad_retention_settings_are_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("KCPR_RETENTION__TOKEN_DAYS", value)
    with pytest.raises(ValueError, match="token_days"):
        make_settings()


def test_the_services_worker_runs_the_sweep(
    services: Services, db: Database, clock: FakeClock
) -> None:
    tokens = TokenStore(db, clock)
    tokens.issue(purpose="reset", ttl=timedelta(hours=1), user_id="u1", email="u1@example.org")
    clock.advance(days=8)
    assert services.worker.sweep_if_due() is True
    assert token_names(db) == set()
