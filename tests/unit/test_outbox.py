from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from keycloak_pwreset.errors import LeaseLost
from keycloak_pwreset.store import outbox as outbox_module
from keycloak_pwreset.store.db import Database, open_database
from keycloak_pwreset.store.models import OutboxItem
from keycloak_pwreset.store.outbox import (
    BASE_DELAY,
    LEASE,
    MAX_ATTEMPTS,
    MAX_DELAY,
    Outbox,
    backoff,
)
from tests.unit.fakes import FakeClock


@pytest.fixture
def db(any_db: Database) -> Database:
    """Part of the store's contract suite: SQLite and PostgreSQL (tests/unit/conftest.py)."""
    return any_db


@pytest.fixture
def outbox(db: Database, clock: FakeClock) -> Outbox:
    return Outbox(db, clock)


def item(db: Database, item_id: int) -> OutboxItem | None:
    with db.session() as session:
        return session.get(OutboxItem, item_id)


def test_add_then_lease_returns_the_job(outbox: Outbox, db: Database, clock: FakeClock) -> None:
    item_id = outbox.add("reset_request", {"identifier": "alice", "locale": "de"})
    assert outbox.pending_count() == 1
    [job] = outbox.lease_due()
    assert (job.id, job.kind, job.payload, job.attempts) == (
        item_id,
        "reset_request",
        {"identifier": "alice", "locale": "de"},
        1,
    )
    row = item(db, item_id)
    assert row is not None
    assert row.locked_until == clock.now + LEASE
    assert row.attempts == 1
    assert row.lease_id == job.lease_id
    assert len(job.lease_id) == 32


def test_complete_deletes_the_item(outbox: Outbox, db: Database) -> None:
    outbox.add("a", {})
    [job] = outbox.lease_due()
    outbox.complete(job)
    assert item(db, job.id) is None
    assert outbox.pending_count() == 0
    assert outbox.lease_due() == []


def test_lease_respects_the_limit_and_order(outbox: Outbox) -> None:
    ids = [outbox.add("k", {"n": n}) for n in range(5)]
    first = outbox.lease_due(limit=2)
    assert [job.id for job in first] == ids[:2]
    rest = outbox.lease_due(limit=10)
    assert [job.id for job in rest] == ids[2:]


def test_leased_items_are_not_leased_again_until_the_lease_runs_out(
    outbox: Outbox, clock: FakeClock
) -> None:
    item_id = outbox.add("k", {})
    assert [job.id for job in outbox.lease_due()] == [item_id]
    assert outbox.lease_due() == []
    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert outbox.lease_due() == []
    assert outbox.pending_count() == 1  # leased work is still pending
    clock.advance(seconds=2)
    [again] = outbox.lease_due()
    assert again.id == item_id
    assert again.attempts == 2  # the crashed attempt counts


def test_items_added_in_the_future_of_a_lease_are_due_immediately(
    outbox: Outbox, clock: FakeClock
) -> None:
    outbox.add("k", {})
    outbox.lease_due()
    clock.advance(seconds=1)
    newer = outbox.add("k", {"n": 2})
    assert [job.id for job in outbox.lease_due()] == [newer]


def test_retry_later_schedules_with_backoff(outbox: Outbox, db: Database, clock: FakeClock) -> None:
    item_id = outbox.add("k", {})
    [job] = outbox.lease_due()
    when = outbox.retry_later(job, "SMTP down")
    assert when is not None
    delay = when - clock.now
    assert BASE_DELAY * 0.8 <= delay <= BASE_DELAY * 1.2
    row = item(db, item_id)
    assert row is not None
    assert row.next_attempt_at == when
    assert row.locked_until is None
    assert row.last_error == "SMTP down"
    assert row.failed_at is None
    assert outbox.next_due() == when

    # Not due before its time, even though the lease is gone.
    clock.now = when - timedelta(milliseconds=1)
    assert outbox.lease_due() == []
    clock.now = when
    [again] = outbox.lease_due()
    assert again.attempts == 2


def test_retry_later_truncates_huge_errors(outbox: Outbox, db: Database) -> None:
    outbox.add("k", {})
    [job] = outbox.lease_due()
    outbox.retry_later(job, "x" * 10_000)
    row = item(db, job.id)
    assert row is not None
    assert len(row.last_error) == 2000


def test_backoff_grows_and_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox_module.random, "uniform", lambda low, high: 1.0)
    delays = [backoff(n) for n in range(1, 25)]
    assert delays[0] == BASE_DELAY
    assert delays[1] == BASE_DELAY * 2
    assert delays[2] == BASE_DELAY * 4
    assert all(later >= earlier for earlier, later in itertools.pairwise(delays))
    assert max(delays) == MAX_DELAY
    assert delays[-1] == MAX_DELAY
    assert backoff(MAX_ATTEMPTS) == MAX_DELAY
    assert backoff(10**6) == MAX_DELAY  # no overflow on absurd attempt counts
    assert backoff(0) == BASE_DELAY


@pytest.mark.parametrize("factor", [0.8, 1.2])
def test_backoff_jitter_bounds(monkeypatch: pytest.MonkeyPatch, factor: float) -> None:
    requested: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        requested.append((low, high))
        return factor

    monkeypatch.setattr(outbox_module.random, "uniform", uniform)
    assert backoff(1) == BASE_DELAY * factor
    assert backoff(50) == MAX_DELAY * factor
    assert requested == [(0.8, 1.2), (0.8, 1.2)]


def test_backoff_jitter_is_real_and_within_twenty_percent() -> None:
    for attempts in (1, 4, MAX_ATTEMPTS):
        nominal = min(BASE_DELAY * (1 << min(attempts - 1, 20)), MAX_DELAY)
        samples = [backoff(attempts) for _ in range(200)]
        assert all(nominal * 0.8 <= s <= nominal * 1.2 for s in samples)
        assert len(set(samples)) > 100  # not in lockstep
        # MAX_DELAY caps the nominal delay; jitter may add at most 20 % to it.
        assert max(samples) <= MAX_DELAY * 1.2


def test_gives_up_after_max_attempts(outbox: Outbox, db: Database, clock: FakeClock) -> None:
    item_id = outbox.add("k", {})
    for attempt in range(1, MAX_ATTEMPTS + 1):
        [job] = outbox.lease_due()
        assert job.attempts == attempt
        when = outbox.retry_later(job, f"failure {attempt}")
        if attempt < MAX_ATTEMPTS:
            assert when is not None
            clock.now = when
        else:
            assert when is None
    row = item(db, item_id)
    assert row is not None
    assert row.failed_at == clock.now
    assert row.last_error == f"failure {MAX_ATTEMPTS}"
    assert outbox.pending_count() == 0
    assert outbox.next_due() is None
    clock.advance(days=30)
    assert outbox.lease_due() == []


def test_retry_later_before_the_limit_does_not_give_up(outbox: Outbox, db: Database) -> None:
    outbox.add("k", {})
    [job] = outbox.lease_due()
    almost = replace(job, attempts=MAX_ATTEMPTS - 1)
    assert outbox.retry_later(almost, "e") is not None
    row = item(db, job.id)
    assert row is not None and row.failed_at is None


def test_failed_items_do_not_block_others(outbox: Outbox, clock: FakeClock) -> None:
    dead = outbox.add("k", {"n": 1})
    [job] = outbox.lease_due()
    outbox.retry_later(replace(job, attempts=MAX_ATTEMPTS), "gone")
    alive = outbox.add("k", {"n": 2})
    assert outbox.pending_count() == 1
    assert [j.id for j in outbox.lease_due()] == [alive]
    assert dead != alive


def test_next_due_is_the_earliest_pending(outbox: Outbox, clock: FakeClock) -> None:
    assert outbox.next_due() is None
    start = clock.now
    outbox.add("k", {})
    clock.advance(minutes=1)
    outbox.add("k", {})
    assert outbox.next_due() == start


def test_payload_is_a_copy(outbox: Outbox) -> None:
    payload = {"identifier": "alice"}
    outbox.add("k", payload)
    payload["identifier"] = "mallory"
    [job] = outbox.lease_due()
    assert job.payload == {"identifier": "alice"}


@pytest.fixture
def two_databases(store_url: str) -> Iterator[tuple[Database, Database]]:
    first, second = open_database(store_url), open_database(store_url)
    yield first, second
    first.dispose()
    second.dispose()


def test_two_outboxes_on_one_file_never_lease_the_same_item_twice(
    two_databases: tuple[Database, Database], clock: FakeClock
) -> None:
    first_db, second_db = two_databases
    producer = Outbox(first_db, clock)
    ids = {producer.add("k", {"n": n}) for n in range(60)}
    workers = [Outbox(first_db, clock), Outbox(second_db, clock)] * 2
    barrier = threading.Barrier(len(workers))
    leased: list[list[int]] = [[] for _ in workers]
    errors: list[BaseException] = []

    def drain(index: int) -> None:
        try:
            barrier.wait(timeout=5)
            # Bounded, so that a broken lease (handing items out again) fails
            # the test instead of spinning forever.
            while len(leased[index]) <= len(ids) and (jobs := workers[index].lease_due(limit=3)):
                leased[index].extend(job.id for job in jobs)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    everything = [job_id for batch in leased for job_id in batch]
    assert sorted(everything) == sorted(ids)  # each leased exactly once
    assert len(set(everything)) == len(everything)
    with first_db.session() as session:
        attempts = session.scalars(select(OutboxItem.attempts)).all()
    assert set(attempts) == {1}


# -- lease ownership (a lease is named; only its holder finishes the job) -----


def test_a_batch_shares_one_lease_and_each_batch_gets_a_new_one(outbox: Outbox) -> None:
    for n in range(3):
        outbox.add("k", {"n": n})
    first = outbox.lease_due(limit=2)
    second = outbox.lease_due(limit=2)
    assert len({job.lease_id for job in first}) == 1
    assert second[0].lease_id != first[0].lease_id


def test_an_expired_leases_holder_cannot_finish_what_another_worker_took(
    outbox: Outbox, db: Database, clock: FakeClock
) -> None:
    item_id = outbox.add("k", {})
    [stale] = outbox.lease_due()
    clock.advance(seconds=LEASE.total_seconds() + 1)
    [taken] = outbox.lease_due()  # the first worker stalled; a second one takes over
    assert taken.id == stale.id and taken.lease_id != stale.lease_id
    for finish in (
        lambda: outbox.complete(stale),
        lambda: outbox.retry_later(stale, "late"),
        lambda: outbox.fail(stale, "late"),
    ):
        with pytest.raises(LeaseLost):
            finish()
    row = item(db, item_id)
    assert row is not None
    assert (row.lease_id, row.last_error, row.failed_at) == (taken.lease_id, "", None)
    outbox.complete(taken)
    assert item(db, item_id) is None


def test_an_expired_lease_no_one_took_still_completes(
    outbox: Outbox, db: Database, clock: FakeClock
) -> None:
    # The work is done; refusing to record that would only have it done twice.
    item_id = outbox.add("k", {})
    [job] = outbox.lease_due()
    clock.advance(seconds=LEASE.total_seconds() + 1)
    outbox.complete(job)
    assert item(db, item_id) is None


def test_a_renewed_lease_is_not_handed_to_another_worker(
    outbox: Outbox, db: Database, clock: FakeClock
) -> None:
    outbox.add("k", {})
    outbox.add("k", {})
    batch = outbox.lease_due()
    for _ in range(10):  # ten minutes of slow work, renewed every 30 s
        clock.advance(seconds=30)
        assert outbox.renew(batch[0].lease_id) == 2
        assert outbox.lease_due() == []
    row = item(db, batch[1].id)
    assert row is not None and row.locked_until == clock.now + LEASE


def test_renew_extends_only_what_the_lease_still_holds(
    outbox: Outbox, db: Database, clock: FakeClock
) -> None:
    done = outbox.add("k", {})
    retried = outbox.add("k", {})
    held = outbox.add("k", {})
    jobs = {job.id: job for job in outbox.lease_due()}
    outbox.complete(jobs[done])
    outbox.retry_later(jobs[retried], "later")
    clock.advance(seconds=10)
    assert outbox.renew(jobs[held].lease_id) == 1
    row = item(db, retried)
    assert row is not None and row.locked_until is None and row.lease_id is None


def test_renew_cannot_take_back_a_lease_another_worker_holds(
    outbox: Outbox, db: Database, clock: FakeClock
) -> None:
    item_id = outbox.add("k", {})
    [stale] = outbox.lease_due()
    clock.advance(seconds=LEASE.total_seconds() + 1)
    [taken] = outbox.lease_due()
    assert outbox.renew(stale.lease_id) == 0
    row = item(db, item_id)
    assert row is not None and row.lease_id == taken.lease_id


def test_fail_marks_the_job_failed_at_once(outbox: Outbox, db: Database, clock: FakeClock) -> None:
    item_id = outbox.add("k", {})
    [job] = outbox.lease_due()
    outbox.fail(job, "recipient refused (550 5.1.1)")
    row = item(db, item_id)
    assert row is not None
    assert row.failed_at == clock.now
    assert row.last_error == "recipient refused (550 5.1.1)"
    assert (row.locked_until, row.lease_id, row.attempts) == (None, None, 1)
    assert outbox.pending_count() == 0
    clock.advance(days=1)
    assert outbox.lease_due() == []


# -- coalescing (one waiting job per key) ------------------------------------


def test_a_waiting_job_absorbs_a_request_with_the_same_key(outbox: Outbox, db: Database) -> None:
    first = outbox.add("reset_request", {"n": 1}, client="net-a", coalesce_key="r:net-a:bob")
    assert first is not None
    assert outbox.add("reset_request", {"n": 2}, client="net-a", coalesce_key="r:net-a:bob") is None
    assert outbox.pending_count() == 1
    row = item(db, first)
    assert row is not None
    assert (row.payload, row.client, row.coalesce_key) == ({"n": 1}, "net-a", "r:net-a:bob")


def test_other_keys_and_other_kinds_are_not_absorbed(outbox: Outbox) -> None:
    ids = [
        outbox.add("reset_request", {}, coalesce_key="r:net-a:bob"),
        outbox.add("reset_request", {}, coalesce_key="r:net-b:bob"),
        outbox.add("reset_request", {}, coalesce_key="r:net-a:carol"),
        outbox.add("signup_request", {}, coalesce_key="r:net-a:bob"),
        outbox.add("reset_request", {}),
        outbox.add("reset_request", {}),
    ]
    assert None not in ids and len(set(ids)) == 6


def test_a_started_job_absorbs_nothing(outbox: Outbox) -> None:
    # Once leased it may have sent its email: a new request needs its own job.
    outbox.add("k", {}, coalesce_key="leased")
    outbox.add("k", {}, coalesce_key="retried")
    _leased, retried = outbox.lease_due()
    outbox.retry_later(retried, "SMTP down")  # waiting again, but it has run once
    assert outbox.add("k", {}, coalesce_key="leased") is not None
    assert outbox.add("k", {}, coalesce_key="retried") is not None
    # The new jobs have not started: they absorb what follows.
    assert outbox.add("k", {}, coalesce_key="leased") is None
    assert outbox.add("k", {}, coalesce_key="retried") is None
    assert outbox.pending_count() == 4


def test_a_failed_or_finished_job_absorbs_nothing(outbox: Outbox) -> None:
    outbox.add("k", {}, coalesce_key="key")
    [job] = outbox.lease_due()
    outbox.fail(job, "refused")
    second = outbox.add("k", {}, coalesce_key="key")
    assert second is not None
    [job] = outbox.lease_due()
    outbox.complete(job)
    assert outbox.add("k", {}, coalesce_key="key") is not None


@contextmanager
def statements_run(db: Database) -> Iterator[list[str]]:
    """Every statement sent to the database meanwhile. On SQLite the inserts run on the
    driver's cursor (store/prepared.py), which only the driver's trace callback sees."""
    statements: list[str] = []
    if not db.local:

        def record(*args: object) -> None:
            statements.append(str(args[2]))

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        return
    with db.driver_writing() as driver:
        driver.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        with db.driver_writing() as driver:
            driver.set_trace_callback(None)


def test_coalescing_add_is_one_statement(outbox: Outbox, db: Database) -> None:
    with statements_run(db) as statements:
        outbox.add("k", {"n": 1}, client="net-a", coalesce_key="key")
        outbox.add("k", {"n": 2}, client="net-a", coalesce_key="key")
    work = [s for s in statements if s.split()[0].upper() not in ("BEGIN", "COMMIT")]
    assert len(work) == 2
    assert all(s.lstrip().upper().startswith("INSERT") for s in work)


def test_a_worker_skips_the_jobs_another_is_leasing(
    outbox: Outbox, db: Database, clock: FakeClock
) -> None:
    """PostgreSQL: while one worker's lease transaction holds the first jobs, another worker
    takes the next ones at once (FOR UPDATE SKIP LOCKED), neither waiting nor idle."""
    if db.local:
        pytest.skip("SQLite has no row locks: one writer at a time is its whole story")
    ids = [outbox.add("k", {"n": n}) for n in range(6)]
    with db.engine.connect() as other, other.begin():
        held = other.execute(
            select(OutboxItem.id).order_by(OutboxItem.id).limit(3).with_for_update()
        ).scalars()
        assert list(held) == ids[:3]
        leased: list[list[int]] = []
        # In a thread: a lease that waited on the held rows would wait for this transaction.
        lease = threading.Thread(
            target=lambda: leased.append([job.id for job in outbox.lease_due(limit=3)])
        )
        lease.start()
        lease.join(timeout=5)
        waited = lease.is_alive()
    lease.join(timeout=30)
    assert not waited
    assert leased == [ids[3:]]
