"""The outbox: durable work items with leases, retries and backoff.

The request path only inserts a row here, which costs the same whether or not
the account exists. A worker leases due rows, does the work, and deletes the
row only when the work is done; a crash leaves the lease to run out and
another attempt follows. Work is therefore done at least once, never lost.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import CursorResult

from keycloak_pwreset.clock import Clock, utc_now
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.models import OutboxItem

LEASE = timedelta(minutes=5)
BASE_DELAY = timedelta(seconds=5)
MAX_DELAY = timedelta(hours=1)
# About two days of retries at the capped delay: long enough for an SMTP or
# Keycloak outage over a weekend to heal without anyone resending by hand.
MAX_ATTEMPTS = 60


@dataclass(frozen=True)
class OutboxJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


def backoff(attempts: int) -> timedelta:
    """Exponential delay with jitter, so that many failed rows do not retry in lockstep."""
    exponent = min(max(attempts - 1, 0), 20)
    # Jitter applies after the cap (so MAX_DELAY is nominal, ±20%): capped
    # rows must not fall into lockstep either.
    delay = min(BASE_DELAY * (1 << exponent), MAX_DELAY)
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security


class Outbox:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def add(self, kind: str, payload: dict[str, Any]) -> int:
        now = self._clock()
        with self._db.session() as session:
            item = OutboxItem(
                kind=kind,
                payload=payload,
                created_at=now,
                attempts=0,
                next_attempt_at=now,
                last_error="",
            )
            session.add(item)
            session.flush()
            return item.id

    def lease_due(self, limit: int = 10) -> list[OutboxJob]:
        """Lease up to ``limit`` due items; safe with several workers on one database."""
        now = self._clock()
        free = or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until < now)
        leased: list[OutboxJob] = []
        with self._db.session() as session:
            candidates = session.scalars(
                select(OutboxItem.id)
                .where(OutboxItem.failed_at.is_(None), OutboxItem.next_attempt_at <= now, free)
                .order_by(OutboxItem.id)
                .limit(limit)
            ).all()
        for item_id in candidates:
            with self._db.session() as session:
                result = session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id == item_id, free)
                    .values(locked_until=now + LEASE, attempts=OutboxItem.attempts + 1)
                )
                if not isinstance(result, CursorResult) or result.rowcount != 1:
                    continue  # another worker took it
                item = session.get_one(OutboxItem, item_id)
                leased.append(OutboxJob(item.id, item.kind, dict(item.payload), item.attempts))
        return leased

    def complete(self, job_id: int) -> None:
        with self._db.session() as session:
            session.execute(delete(OutboxItem).where(OutboxItem.id == job_id))

    def retry_later(self, job: OutboxJob, error: str) -> datetime | None:
        """Schedule the next attempt, or give up after MAX_ATTEMPTS; return when, if at all."""
        now = self._clock()
        values: dict[str, Any] = {"locked_until": None, "last_error": error[:2000]}
        when: datetime | None = None
        if job.attempts >= MAX_ATTEMPTS:
            values["failed_at"] = now
        else:
            when = now + backoff(job.attempts)
            values["next_attempt_at"] = when
        with self._db.session() as session:
            session.execute(update(OutboxItem).where(OutboxItem.id == job.id).values(**values))
        return when

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

    def next_due(self) -> datetime | None:
        with self._db.session() as session:
            return session.scalar(
                select(func.min(OutboxItem.next_attempt_at)).where(OutboxItem.failed_at.is_(None))
            )
