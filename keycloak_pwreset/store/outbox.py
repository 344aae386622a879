"""The outbox: durable work items with leases, retries and backoff.

The request path only inserts a row here, which costs the same whether or not
the account exists. A worker leases due rows, does the work, and deletes the
row only when the work is done; a crash leaves the lease to run out and
another attempt follows. Work is therefore done at least once, never lost.

Three rules keep that at least once from becoming twice, and keep one client
from starving the others:
- a lease is named (``lease_id``): only its holder can finish the job, and the
  holder keeps it alive (``renew``) for as long as it works, so a slow job is
  never handed to a second worker while the first still runs it;
- requests that wait unstarted with the same ``coalesce_key`` are one job;
- due jobs are handed out by their rank within their client, so that one
  client's thousand rows wait behind everyone else's first.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import ReturningInsert

from keycloak_pwreset.clock import Clock, utc_now
from keycloak_pwreset.errors import LeaseLost
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.models import OutboxItem
from keycloak_pwreset.store.prepared import Prepared

# Short, because a crashed worker's jobs wait this long before another worker
# may take them; a live worker renews its leases long before they run out.
LEASE = timedelta(seconds=60)
BASE_DELAY = timedelta(seconds=5)
MAX_DELAY = timedelta(hours=1)
# About two days of retries at the capped delay: long enough for an SMTP or
# Keycloak outage over a weekend to heal without anyone resending by hand.
MAX_ATTEMPTS = 60


@dataclass(frozen=True)
class OutboxJob:
    id: int
    kind: str
    # The row's JSON as stored: flows/jobs.py reads it as its kind's job.
    payload: Mapping[str, object]
    attempts: int
    # The lease this copy was handed by ``lease_due``: finishing the job
    # (``complete``, ``retry_later``, ``fail``) acts only while it is still held.
    lease_id: str = ""


@dataclass(frozen=True)
class OutboxDepth:
    """How much waits, for the metrics: due now, due later (retries), failed for good."""

    due: int
    later: int
    failed: int
    oldest_due_age_seconds: float


def backoff(attempts: int) -> timedelta:
    """Exponential delay with jitter, so that many failed rows do not retry in lockstep."""
    exponent = min(max(attempts - 1, 0), 20)
    # Jitter applies after the cap (so MAX_DELAY is nominal, ±20%): capped
    # rows must not fall into lockstep either.
    delay = min(BASE_DELAY * (1 << exponent), MAX_DELAY)
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security


# What finishing an attempt writes besides its outcome: the lease ends.
_UNLEASED: dict[str, Any] = {"locked_until": None, "lease_id": None}


def _changed_one(result: Result[Any]) -> bool:
    return isinstance(result, CursorResult) and result.rowcount == 1


OUTBOX = cast(Table, OutboxItem.__table__)
# The columns a new job is given, in the order of the statements below.
_NEW_JOB = (
    "kind",
    "payload",
    "created_at",
    "attempts",
    "next_attempt_at",
    "last_error",
    "client",
    "coalesce_key",
)


def _insert_unless_waiting() -> ReturningInsert[tuple[int]]:
    """INSERT … SELECT … WHERE NOT EXISTS (an unstarted job with the same key) RETURNING id.

    Built once with bound parameters, so the request path only executes it
    (SQLAlchemy caches its compiled form).
    """
    columns = OUTBOX.c
    waiting = select(columns.id).where(
        columns.coalesce_key == bindparam("coalesce_key"),
        columns.kind == bindparam("kind"),
        columns.attempts == 0,
        columns.locked_until.is_(None),
        columns.failed_at.is_(None),
    )
    row = select(*(bindparam(name, type_=columns[name].type) for name in _NEW_JOB))
    return (
        insert(OUTBOX)
        .from_select(list(_NEW_JOB), row.where(~exists(waiting)))
        .returning(columns.id)
    )


def unleased_at(now: datetime) -> ColumnElement[bool]:
    """No worker holds the job: never leased, or its lease ran out."""
    return or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until < now)


# Core statements, not the ORM: the request path's one write needs no unit of work.
INSERT_JOB = insert(OUTBOX).returning(OUTBOX.c.id)
INSERT_JOB_UNLESS_WAITING = _insert_unless_waiting()


class Outbox:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        # On SQLite the two inserts run on the driver's cursor (store/prepared.py).
        self._prepared: dict[bool, Prepared] = {}
        if db.local:
            dialect = db.engine.dialect
            self._prepared = {
                False: Prepared(INSERT_JOB, dialect, _NEW_JOB),
                True: Prepared(INSERT_JOB_UNLESS_WAITING, dialect, _NEW_JOB),
            }
        self._clock = clock

    def add(
        self,
        kind: str,
        payload: Mapping[str, object],
        *,
        client: str = "",
        coalesce_key: str | None = None,
    ) -> int | None:
        """Record a job; None when a waiting job with the same ``coalesce_key`` absorbs it.

        Absorbed only by a job that has not started (never leased, so never
        looked up or sent): one that has may already have sent its email, and
        a new request must then get its own. One statement either way, so the
        request path costs the same whatever is queued. Two requests racing on
        PostgreSQL may both insert: harmless, the email cooldown still holds.
        """
        now = self._clock()
        values: dict[str, Any] = {
            "kind": kind,
            "payload": dict(payload),
            "created_at": now,
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": "",
            "client": client,
            "coalesce_key": coalesce_key,
        }
        coalescing = coalesce_key is not None
        prepared = self._prepared.get(coalescing)
        if prepared is not None:
            with self._db.driver_writing() as driver:
                job_id: int | None = prepared.scalar(driver, values)
            return job_id
        statement = INSERT_JOB_UNLESS_WAITING if coalescing else INSERT_JOB
        with self._db.writing() as connection:
            job_id = connection.execute(statement, values).scalar()
        return job_id

    def _free(self, now: datetime) -> Any:
        return unleased_at(now)

    def _due(self, now: datetime, limit: int) -> Select[int]:
        """The next due ids, each client's oldest first: round-robin between clients.

        Ranked within their client (1 for each client's oldest due row, 2 for
        the next, ...), so a flood of 500 rows from one network delays another
        network's first row by at most one row per flooding client. Each call
        ranks every due row: cheap for the few thousand that the per-client
        request limits let a flood queue. On PostgreSQL the rows are locked as
        they are picked, skipping those another worker is leasing right now
        (``FOR UPDATE SKIP LOCKED``; SQLite has no row locks and renders none),
        so concurrent workers take different jobs instead of waiting on the
        same ones.
        """
        rank = func.row_number().over(partition_by=OUTBOX.c.client, order_by=OUTBOX.c.id)
        due = (
            select(OUTBOX.c.id, rank.label("rank"))
            .where(OUTBOX.c.failed_at.is_(None), OUTBOX.c.next_attempt_at <= now, self._free(now))
            .subquery()
        )
        return (
            select(OUTBOX.c.id)
            .join(due, due.c.id == OUTBOX.c.id)
            .order_by(due.c.rank, OUTBOX.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=OUTBOX)
        )

    def lease_due(self, limit: int = 10) -> list[OutboxJob]:
        """Lease up to ``limit`` due items under one new lease; safe with several workers.

        One UPDATE for all of them, which leases only those still free (another
        worker may have taken some since they were ranked), then one read of
        what this lease got, in the ranked order. On PostgreSQL the pick and
        the UPDATE are one transaction (the pick's row locks hold until the
        UPDATE); on SQLite the pick is a read of its own, because a read
        transaction that then writes fails at once if a writer came between.
        """
        now = self._clock()
        lease_id = secrets.token_hex(16)
        if self._db.local:
            with self._db.session() as session:
                ids = list(session.scalars(self._due(now, limit)).all())
            if not ids:
                return []
        with self._db.session() as session:
            if not self._db.local:
                ids = list(session.scalars(self._due(now, limit)).all())
            held = self._take(session, ids, now, lease_id)
        return [held[item_id] for item_id in ids if item_id in held]

    def _take(
        self, session: Session, ids: list[int], now: datetime, lease_id: str
    ) -> dict[int, OutboxJob]:
        if not ids:
            return {}
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(ids), self._free(now))
            .values(locked_until=now + LEASE, lease_id=lease_id, attempts=OutboxItem.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        items = session.scalars(select(OutboxItem).where(OutboxItem.lease_id == lease_id))
        # As stored, even if not an object: reading it is its kind's job.
        return {i.id: OutboxJob(i.id, i.kind, i.payload, i.attempts, lease_id) for i in items}

    def renew(self, lease_id: str) -> int:
        """Extend every job still held under this lease; return how many.

        Called by the worker's heartbeat while it works the lease's jobs. A
        lease that ran out but that no one took over is still its holder's
        (no one else can have started the job), so renewing it is safe.
        """
        with self._db.session() as session:
            result = session.execute(
                update(OutboxItem)
                .where(OutboxItem.lease_id == lease_id, OutboxItem.locked_until.is_not(None))
                .values(locked_until=self._clock() + LEASE)
            )
            return result.rowcount if isinstance(result, CursorResult) else 0

    def _finish(self, job: OutboxJob, statement: Any) -> None:
        """Run a statement that finishes ``job``, if the job is still under its lease.

        A lease that ran out but was not taken over still finishes: the work is
        done, and keeping the row would only have it done a second time.
        """
        with self._db.session() as session:
            held = and_(OutboxItem.id == job.id, OutboxItem.lease_id == job.lease_id)
            if not _changed_one(session.execute(statement.where(held))):
                raise LeaseLost(f"job #{job.id} is no longer held by this worker's lease")

    def complete(self, job: OutboxJob) -> None:
        """Delete a finished job; LeaseLost if another worker holds it now."""
        self._finish(job, delete(OutboxItem))

    def retry_later(self, job: OutboxJob, error: str) -> datetime | None:
        """Schedule the next attempt, or give up after MAX_ATTEMPTS; return when, if at all.

        LeaseLost if another worker holds the job now: its outcome is that worker's.
        """
        now = self._clock()
        values: dict[str, Any] = {"last_error": error[:2000], **_UNLEASED}
        when: datetime | None = None
        if job.attempts >= MAX_ATTEMPTS:
            values["failed_at"] = now
        else:
            when = now + backoff(job.attempts)
            values["next_attempt_at"] = when
        self._finish(job, update(OutboxItem).values(**values))
        return when

    def fail(self, job: OutboxJob, reason: str) -> None:
        """Give up on a job at once (a permanent refusal); LeaseLost as for ``retry_later``."""
        values = {"last_error": reason[:2000], "failed_at": self._clock(), **_UNLEASED}
        self._finish(job, update(OutboxItem).values(**values))

    def pending_count(self) -> int:
        with self._db.session() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(OutboxItem)
                    .where(OutboxItem.failed_at.is_(None))
                )
                or 0
            )

    def depth(self) -> OutboxDepth:
        """One query: the three counts and the oldest due job's wait (leased ones count as due)."""
        now = self._clock()
        waiting = OUTBOX.c.failed_at.is_(None)
        due = and_(waiting, OUTBOX.c.next_attempt_at <= now)
        statement = select(
            func.count().filter(due),
            func.count().filter(waiting, OUTBOX.c.next_attempt_at > now),
            func.count().filter(OUTBOX.c.failed_at.is_not(None)),
            func.min(OUTBOX.c.next_attempt_at).filter(due),
        )
        with self._db.session() as session:
            row = session.execute(statement).one()
        oldest = row[3]
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        return OutboxDepth(row[0], row[1], row[2], max(0.0, age))

    def next_due(self) -> datetime | None:
        with self._db.session() as session:
            return session.scalar(
                select(func.min(OutboxItem.next_attempt_at)).where(OutboxItem.failed_at.is_(None))
            )
