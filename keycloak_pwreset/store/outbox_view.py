"""The outbox as an operator sees it: what waits, what is retried, what failed; retry now, discard.

Apart from store/outbox.py, which is the workers' side (add, lease, finish). A job
a worker holds right now (its lease is running) is neither retried nor discarded
here: the worker is deciding its outcome, and would only find it changed under
its feet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.sql import Executable

from keycloak_pwreset.clock import Clock, utc_now
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.models import OutboxItem
from keycloak_pwreset.store.outbox import unleased_at

State = Literal["due", "running", "later", "failed"]
STATES: tuple[State, ...] = ("due", "running", "later", "failed")
LIST_LIMIT = 500
# Who a job is for, read from its payload: the first of these it has.
SUBJECT_FIELDS = ("identifier", "email", "user_id")


@dataclass(frozen=True)
class QueuedJob:
    id: int
    kind: str
    state: State
    subject: str  # the address, identifier or account the job is for
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str


def _subject(payload: Mapping[str, object]) -> str:
    for name in SUBJECT_FIELDS:
        value = payload.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


class OutboxView:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def _state(self, row: OutboxItem, now: datetime) -> State:
        if row.failed_at is not None:
            return "failed"
        if row.locked_until is not None and row.locked_until >= now:
            return "running"
        return "due" if row.next_attempt_at <= now else "later"

    def _where(self, state: State, now: datetime) -> ColumnElement[bool]:
        """The rows in ``state``; the same four-way split as ``_state``."""
        if state == "failed":
            return OutboxItem.failed_at.is_not(None)
        waiting = OutboxItem.failed_at.is_(None)
        if state == "running":
            return and_(waiting, OutboxItem.locked_until >= now)
        due = (
            OutboxItem.next_attempt_at <= now
            if state == "due"
            else OutboxItem.next_attempt_at > now
        )
        return and_(waiting, unleased_at(now), due)

    def jobs(self, state: State | None = None) -> list[QueuedJob]:
        """The jobs, oldest first, optionally of one state (at most LIST_LIMIT)."""
        now = self._clock()
        query = select(OutboxItem).order_by(OutboxItem.id).limit(LIST_LIMIT)
        if state is not None:
            query = query.where(self._where(state, now))
        with self._db.session() as session:
            return [
                QueuedJob(
                    row.id,
                    row.kind,
                    self._state(row, now),
                    _subject(row.payload),
                    row.attempts,
                    row.created_at,
                    row.next_attempt_at,
                    row.last_error,
                )
                for row in session.scalars(query)
            ]

    def retry_now(self, job_id: int) -> bool:
        """Make a waiting or failed job due at once, with its attempts counted afresh.

        False for an unknown job or one a worker holds right now.
        """
        now = self._clock()
        statement = (
            update(OutboxItem)
            .where(OutboxItem.id == job_id, unleased_at(now))
            .values(next_attempt_at=now, failed_at=None, attempts=0)
        )
        return self._changed(statement)

    def discard(self, job_id: int) -> bool:
        """Delete a job that is not running; False if unknown or held by a worker."""
        now = self._clock()
        return self._changed(delete(OutboxItem).where(OutboxItem.id == job_id, unleased_at(now)))

    def _changed(self, statement: Executable) -> bool:
        with self._db.session() as session:
            result = session.execute(statement)
            return isinstance(result, CursorResult) and result.rowcount == 1
