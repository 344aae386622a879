"""The outbox as an operator sees it (store/outbox_view.py): states, retry now, discard.

Part of the store's contract suite: runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.outbox import MAX_ATTEMPTS, Outbox
from keycloak_pwreset.store.outbox_view import OutboxView
from tests.unit.fakes import FakeClock


@pytest.fixture
def db(any_db: Database) -> Database:
    return any_db


def test_each_job_is_in_one_state(db: Database, clock: FakeClock) -> None:
    outbox, view = Outbox(db, clock), OutboxView(db, clock)
    outbox.add("reset_request", {"identifier": "alice@example.org"})
    outbox.add("signup_request", {"email": "bob@example.org"})
    outbox.add("password_changed", {"user_id": "u-3"})
    outbox.add("reset_request", {"identifier": "dora"})
    first, second, third = outbox.lease_due(3)
    outbox.retry_later(first, "SMTP said 451 for alice@example.org")
    outbox.fail(second, "refused")
    states = {job.subject: job.state for job in view.jobs()}
    assert states == {
        "alice@example.org": "later",
        "bob@example.org": "failed",
        "u-3": "running",
        "dora": "due",
    }
    [later] = view.jobs("later")
    assert (later.kind, later.attempts) == ("reset_request", 1)
    assert later.last_error == "SMTP said 451 for alice@example.org"
    assert [j.subject for j in view.jobs("failed")] == ["bob@example.org"]
    assert [j.subject for j in view.jobs("running")] == ["u-3"]
    assert [j.subject for j in view.jobs("due")] == ["dora"]
    outbox.complete(third)
    assert [j.subject for j in view.jobs()] == ["alice@example.org", "bob@example.org", "dora"]


def test_retry_now_makes_a_job_due_with_fresh_attempts(db: Database, clock: FakeClock) -> None:
    outbox, view = Outbox(db, clock), OutboxView(db, clock)
    outbox.add("reset_request", {"identifier": "alice"})
    [job] = outbox.lease_due(1)
    assert not view.retry_now(job.id)  # a worker holds it
    outbox.fail(job, "gave up")
    assert view.retry_now(job.id)
    [again] = outbox.lease_due(1)
    assert (again.id, again.attempts) == (job.id, 1)
    outbox.retry_later(again, "still down")
    assert [j.state for j in view.jobs()] == ["later"]
    assert view.retry_now(job.id)
    assert [j.state for j in view.jobs()] == ["due"]
    assert not view.retry_now(job.id + 1000)


def test_a_job_given_up_on_gets_a_whole_new_round(db: Database, clock: FakeClock) -> None:
    outbox, view = Outbox(db, clock), OutboxView(db, clock)
    outbox.add("reset_request", {"identifier": "alice"})
    for _ in range(MAX_ATTEMPTS):
        [job] = outbox.lease_due(1)
        outbox.retry_later(job, "down")
        clock.advance(hours=2)
    assert [j.state for j in view.jobs()] == ["failed"]
    assert view.retry_now(job.id)
    [job] = outbox.lease_due(1)
    assert outbox.retry_later(job, "down again") is not None  # retried, not given up at once


def test_discard_deletes_a_job_that_is_not_running(db: Database, clock: FakeClock) -> None:
    outbox, view = Outbox(db, clock), OutboxView(db, clock)
    outbox.add("reset_request", {"identifier": "alice"})
    outbox.add("reset_request", {"identifier": "bob"})
    [running] = outbox.lease_due(1)
    waiting = next(j for j in view.jobs() if j.state == "due")
    assert not view.discard(running.id)
    assert view.discard(waiting.id)
    assert not view.discard(waiting.id)
    assert [j.id for j in view.jobs()] == [running.id]
    clock.advance(seconds=timedelta(minutes=2).total_seconds())  # its lease ran out
    assert view.discard(running.id)
    assert view.jobs() == []
