"""The worker's pool: several jobs at once, never more than its concurrency, each on its own."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from keycloak_pwreset.errors import KeycloakUnavailable
from keycloak_pwreset.settings import WorkerSettings
from keycloak_pwreset.settings.service import default_concurrency
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.models import OutboxItem
from keycloak_pwreset.store.outbox import LEASE, Outbox
from keycloak_pwreset.worker import Handler, Worker
from tests.unit.fakes import FakeClock


@pytest.fixture
def db(any_db: Database) -> Database:
    """Part of the store's contract suite: SQLite and PostgreSQL (tests/unit/conftest.py)."""
    return any_db


@pytest.fixture
def outbox(db: Database, clock: FakeClock) -> Outbox:
    return Outbox(db, clock)


class Gauge:
    """A job that holds its thread for a while and notes how many ran at once."""

    def __init__(self, seconds: float = 0.05) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.done: list[int] = []

    def __call__(self, payload: dict[str, Any]) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.seconds)
        with self.lock:
            self.now -= 1
            self.done.append(int(payload["n"]))


def add_jobs(outbox: Outbox, count: int, kind: str = "gauge") -> None:
    for n in range(count):
        outbox.add(kind, {"n": n}, client=f"net-{n % 3}")


def rows(db: Database) -> list[OutboxItem]:
    with db.session() as session:
        return list(session.query(OutboxItem).all())


def test_jobs_run_at_once_but_never_more_than_the_concurrency(outbox: Outbox) -> None:
    gauge = Gauge()
    add_jobs(outbox, 24)
    worker = Worker(outbox, {"gauge": Handler(dict, gauge)}, concurrency=4)
    assert worker.run_once() == 24
    assert gauge.peak == 4
    assert sorted(gauge.done) == list(range(24))
    assert outbox.pending_count() == 0


def test_a_failing_job_does_not_stop_the_others(db: Database, outbox: Outbox) -> None:
    gauge = Gauge(seconds=0.01)

    def flaky(payload: dict[str, Any]) -> None:
        if payload["n"] % 4 == 0:
            raise KeycloakUnavailable("Keycloak answered 503")
        if payload["n"] % 4 == 1:
            raise ValueError("a bug")
        gauge(payload)

    add_jobs(outbox, 12)
    worker = Worker(outbox, {"gauge": Handler(dict, flaky)}, concurrency=3)
    assert worker.run_once() == 6
    assert sorted(gauge.done) == [n for n in range(12) if n % 4 > 1]
    left = rows(db)
    assert sorted(r.payload["n"] for r in left) == [n for n in range(12) if n % 4 < 2]
    assert all(r.lease_id is None and r.attempts == 1 for r in left)  # retried later


def test_a_lost_outcome_does_not_stop_the_others(outbox: Outbox, monkeypatch: Any) -> None:
    gauge = Gauge(seconds=0.01)
    complete = outbox.complete

    def blinking(job: Any) -> None:
        if job.payload["n"] == 2:
            raise RuntimeError("database went away")
        complete(job)

    monkeypatch.setattr(outbox, "complete", blinking)
    add_jobs(outbox, 6)
    worker = Worker(outbox, {"gauge": Handler(dict, gauge)}, concurrency=3)
    assert worker.run_once() == 5
    assert outbox.pending_count() == 1  # still leased: tried again once its lease runs out


def test_stop_leases_no_more_and_lets_running_jobs_finish(
    db: Database, outbox: Outbox, clock: FakeClock
) -> None:
    gauge = Gauge(seconds=0.2)
    add_jobs(outbox, 10)
    worker = Worker(outbox, {"gauge": Handler(dict, gauge)}, concurrency=2, poll_seconds=0.05)
    worker.start()
    deadline = time.monotonic() + 5
    while gauge.now < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    worker.stop()
    assert gauge.now == 0  # the two running jobs finished
    assert len(gauge.done) == 2
    left = rows(db)
    assert len(left) == 8
    assert all(r.lease_id is None for r in left)  # none held unstarted
    # A job cut off by the process ending keeps its lease only until it runs out.
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert Worker(outbox, {"gauge": Handler(dict, Gauge(0))}, concurrency=2).run_once() == 8


def test_a_long_job_keeps_its_lease_in_the_pool(
    db: Database, outbox: Outbox, clock: FakeClock
) -> None:
    renewed = threading.Event()

    def slow(payload: dict[str, Any]) -> None:
        clock.advance(seconds=30)
        deadline = time.monotonic() + 5
        while not renewed.is_set():
            [row] = rows(db)
            if row.locked_until == clock.now + LEASE:
                renewed.set()
            assert time.monotonic() < deadline, "the heartbeat never renewed the lease"
            time.sleep(0.01)

    add_jobs(outbox, 1)
    worker = Worker(outbox, {"gauge": Handler(dict, slow)}, concurrency=4, heartbeat_seconds=0.01)
    assert worker.run_once() == 1


def test_the_default_concurrency_is_sized_for_the_machine(monkeypatch: Any) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert default_concurrency() == 8
    assert WorkerSettings().concurrency == 8
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    assert default_concurrency() == 32
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert default_concurrency() == 4


def test_the_concurrency_is_a_setting(monkeypatch: Any) -> None:
    from tests.unit.conftest import make_settings

    monkeypatch.setenv("KCPR_WORKER__CONCURRENCY", "3")
    assert make_settings().worker.concurrency == 3
