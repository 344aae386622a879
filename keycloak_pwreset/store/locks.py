"""Locks shared by every process on one database: PostgreSQL's advisory locks.

Several workers (and web instances) may share one PostgreSQL database. Under
READ COMMITTED two of them can each read "no live link" or "two emails this
hour" and act on it at once; a lock named after what they act on (an
account's links, an account's emails) makes them take turns. Advisory locks
are PostgreSQL's own tool for that: named by a number, held by a
transaction (``in_transaction``) or by a connection across transactions
(``held``), gone when the holder ends, even if its process dies.

SQLite takes one writer at a time across every process anyway, and a worker's
own jobs take turns in turns.py, so there these locks are no-ops: several
worker processes on one SQLite file are not a supported layout (README,
"Several instances").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

if TYPE_CHECKING:  # db.py takes the migrations' lock from here
    from keycloak_pwreset.store.db import Database


def lock_key(*parts: str) -> int:
    """A signed 64-bit number for a name (PostgreSQL's advisory locks take a bigint)."""
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_in_transaction(connection: Connection | Session, *name: str) -> None:
    """Hold the lock ``name`` until the transaction ends (PostgreSQL; elsewhere a no-op)."""
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    if bind.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(lock_key(*name))))


class Locks:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._shared = db.engine.dialect.name == "postgresql"

    def in_transaction(self, session: Session, *name: str) -> None:
        """Hold the lock ``name`` until ``session``'s transaction ends."""
        lock_in_transaction(session, *name)

    @contextmanager
    def held(self, *name: str) -> Iterator[None]:
        """Hold the lock ``name`` for the block, across transactions (an email is sent
        inside). On a connection of its own, with no transaction left open meanwhile."""
        if not self._shared:
            yield
            return
        key = lock_key(*name)
        with self._db.engine.connect() as connection:
            connection.execute(select(func.pg_advisory_lock(key)))
            connection.commit()
            try:
                yield
            finally:
                try:
                    connection.execute(select(func.pg_advisory_unlock(key)))
                    connection.commit()
                except Exception:
                    # Not returned to the pool holding the lock: closed for good, which
                    # ends its session and so the lock.
                    connection.invalidate()
                    raise
