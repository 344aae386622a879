"""The worker's leases: held while a job runs, finished only by their holder."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.models import OutboxItem
from keycloak_pwreset.store.outbox import LEASE, MAX_ATTEMPTS, Outbox
from keycloak_pwreset.worker import BATCH, RETENTION_EVERY, Handler, Worker
from tests.unit.fakes import FakeClock

BEAT = 0.01  # real seconds between heartbeats in these tests


@pytest.fixture
def db(any_db: Database) -> Database:
    """Part of the store's contract suite: SQLite and PostgreSQL (tests/unit/conftest.py)."""
    return any_db


@pytest.fixture
def outbox(db: Database, clock: FakeClock) -> Outbox:
    return Outbox(db, clock)


def untyped(handlers: dict[str, Callable[[dict[str, Any]], None]]) -> dict[str, Handler]:
    """Handlers for these tests' own kinds of job, which take the payload as it is."""
    return {kind: Handler(dict, run) for kind, run in handlers.items()}


def locked_until(db: Database, job_id: int) -> Any:
    with db.session() as session:
        row = session.get(OutboxItem, job_id)
        return None if row is None else row.locked_until


def wait_for_renewal(db: Database, clock: FakeClock, job_id: int) -> None:
    """Until the heartbeat has renewed the job's lease from the (fake) present."""
    deadline = time.monotonic() + 5
    while locked_until(db, job_id) != clock.now + LEASE:
        assert time.monotonic() < deadline, "the heartbeat never renewed the lease"
        time.sleep(BEAT)


def slow_handler(
    db: Database, clock: FakeClock, rival: Worker, runs: list[Any], minutes: int = 5
) -> Callable[[dict[str, Any]], None]:
    """A job that takes ``minutes`` (fake) minutes, while a rival worker keeps polling."""

    def handle(payload: dict[str, Any]) -> None:
        runs.append(payload["n"])
        for _ in range(minutes * 2):
            clock.advance(seconds=30)
            wait_for_renewal(db, clock, payload["id"])
            assert rival.run_once() == 0  # nothing for it: the job is still held

    return handle


def add_jobs(outbox: Outbox, count: int) -> list[int]:
    ids = []
    for n in range(count):
        item_id = outbox.add("slow", {"n": n})
        assert item_id is not None
        ids.append(item_id)
    return ids


def test_no_other_worker_runs_a_job_while_it_is_worked(
    outbox: Outbox, db: Database, clock: FakeClock
) -> None:
    runs: list[Any] = []
    rival = Worker(Outbox(db, clock), untyped({"slow": lambda p: runs.append(("rival", p))}))
    [item_id] = add_jobs(outbox, 1)
    with db.session() as session:  # the job knows its own id, for the renewal check
        session.get_one(OutboxItem, item_id).payload = {"n": 0, "id": item_id}
    worker = Worker(
        outbox, untyped({"slow": slow_handler(db, clock, rival, runs)}), heartbeat_seconds=BEAT
    )
    assert worker.run_once() == 1  # five minutes: five times the lease
    assert runs == [0]
    assert outbox.pending_count() == 0


def test_later_jobs_of_a_batch_keep_their_lease_too(
    outbox: Outbox, db: Database, clock: FakeClock
) -> None:
    runs: list[Any] = []
    rival = Worker(Outbox(db, clock), untyped({"slow": lambda p: runs.append(("rival", p))}))
    ids = add_jobs(outbox, BATCH)
    with db.session() as session:
        for n, item_id in enumerate(ids):
            session.get_one(OutboxItem, item_id).payload = {"n": n, "id": ids[-1]}
    # Every job watches the batch's last lease: the one that waits longest.
    worker = Worker(
        outbox,
        untyped({"slow": slow_handler(db, clock, rival, runs, minutes=2)}),
        heartbeat_seconds=BEAT,
    )
    assert worker.run_once() == BATCH
    assert runs == list(range(BATCH))  # each once, by the worker that leased it


def stall(db: Database, clock: FakeClock, taken: list[Any]) -> None:
    """The process stalls longer than a lease (no heartbeat runs); a rival takes the job."""
    clock.advance(seconds=LEASE.total_seconds() + 1)
    taken.extend(Outbox(db, clock).lease_due())


@pytest.mark.parametrize("then_fail", [False, True], ids=["then-succeeds", "then-fails"])
def test_a_holder_whose_lease_was_taken_over_cannot_finish_the_job(
    outbox: Outbox,
    db: Database,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    then_fail: bool,
) -> None:
    [item_id] = add_jobs(outbox, 1)
    taken: list[Any] = []

    def handle(payload: dict[str, Any]) -> None:
        stall(db, clock, taken)
        if then_fail:
            raise ConnectionError("SMTP went away")

    worker = Worker(outbox, untyped({"slow": handle}), heartbeat_seconds=3600)
    with caplog.at_level(logging.WARNING, logger="keycloak_pwreset.worker"):
        assert worker.run_once() == 0
    assert "taken over by another worker" in caplog.text
    # Neither deleted nor rescheduled: the row is the rival's, as it left it.
    [rival] = taken
    with db.session() as session:
        row = session.get_one(OutboxItem, item_id)
        assert (row.lease_id, row.failed_at, row.last_error) == (rival.lease_id, None, "")
    Outbox(db, clock).complete(rival)
    assert outbox.pending_count() == 0


def test_the_heartbeat_ends_with_its_batch(outbox: Outbox) -> None:
    add_jobs(outbox, 3)
    assert Worker(outbox, untyped({"slow": lambda p: None}), heartbeat_seconds=BEAT).run_once() == 3
    assert [t for t in threading.enumerate() if t.name == "outbox-heartbeat"] == []


# -- retention, run by the worker ---------------------------------------------


def test_the_retention_sweep_runs_at_most_once_an_hour(outbox: Outbox, clock: FakeClock) -> None:
    sweeps: list[Any] = []
    worker = Worker(outbox, {}, retention=lambda: sweeps.append(clock.now), clock=clock)
    assert worker.sweep_if_due() is True
    clock.advance(seconds=RETENTION_EVERY.total_seconds() - 1)
    assert worker.sweep_if_due() is False
    clock.advance(seconds=1)
    assert worker.sweep_if_due() is True
    assert len(sweeps) == 2


def test_a_failing_sweep_is_not_retried_at_every_poll(outbox: Outbox, clock: FakeClock) -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError("database locked")

    worker = Worker(outbox, {}, retention=broken, clock=clock)
    with pytest.raises(RuntimeError):
        worker.sweep_if_due()
    assert worker.sweep_if_due() is False
    assert calls == [1]


def test_run_forever_sweeps(outbox: Outbox, clock: FakeClock) -> None:
    swept = threading.Event()
    worker = Worker(outbox, {}, poll_seconds=0.05, retention=swept.set, clock=clock)
    worker.start()
    try:
        assert swept.wait(5)
    finally:
        worker.stop()


def test_giving_up_after_max_attempts_is_audited(
    outbox: Outbox, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    add_jobs(outbox, 1)
    worker = Worker(outbox, untyped({"slow": lambda p: 1 / 0}))
    with caplog.at_level(logging.INFO, logger="keycloak_pwreset"):
        for _ in range(MAX_ATTEMPTS):
            worker.run_once()
            clock.advance(hours=2)
    [event] = [r for r in caplog.records if getattr(r, "event", "") == "job_failed"]
    assert event.reason == f"gave up after {MAX_ATTEMPTS} attempts"  # type: ignore[attr-defined]
    assert outbox.pending_count() == 0


def test_a_payload_that_cannot_be_read_fails_at_once_quoting_nothing(
    outbox: Outbox, db: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    def decode(payload: object) -> object:
        raise ValueError(f"bad address {payload}")  # a message that quotes the payload

    [item_id] = add_jobs(outbox, 1)
    with db.session() as session:
        session.get_one(OutboxItem, item_id).payload = {"email": "alice@example.org"}
    ran: list[object] = []
    worker = Worker(outbox, {"slow": Handler(decode, ran.append)})
    with caplog.at_level(logging.INFO, logger="keycloak_pwreset"):
        assert worker.run_once() == 0
    assert ran == []
    with db.session() as session:
        row = session.get_one(OutboxItem, item_id)
        assert (row.failed_at, row.last_error) == (
            clock.now,
            "the slow payload cannot be read (ValueError)",
        )
    assert caplog.records and "alice" not in caplog.text
