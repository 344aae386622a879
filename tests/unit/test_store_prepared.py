"""The outbox's inserts on SQLite's own cursor store exactly what the Core path stores."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.models import OutboxItem
from keycloak_pwreset.store.outbox import (
    INSERT_JOB,
    INSERT_JOB_UNLESS_WAITING,
    OUTBOX,
    Outbox,
)
from tests.unit.fakes import FakeClock

PAYLOAD = {"identifier": "Zoë <zoe@example.org>", "locale": "de", "client": "203.0.113.0/24"}


def stored(db: Database) -> list[dict[str, Any]]:
    """Every row, as the ORM reads it back, without its id."""
    with db.session() as session:
        items = session.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
        return [
            {c.name: getattr(item, c.name) for c in OUTBOX.columns if c.name != "id"}
            for item in items
        ]


def values(clock: FakeClock, coalesce_key: str | None) -> dict[str, Any]:
    now = clock()
    return {
        "kind": "reset_request",
        "payload": PAYLOAD,
        "created_at": now,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "client": "203.0.113.0/24",
        "coalesce_key": coalesce_key,
    }


def clear(db: Database) -> None:
    with db.session() as session:
        session.query(OutboxItem).delete()


@pytest.mark.parametrize("coalesce_key", [None, "reset_request:net:zoe"])
def test_rows_are_those_the_core_statements_store(
    db: Database, clock: FakeClock, coalesce_key: str | None
) -> None:
    second = INSERT_JOB if coalesce_key is None else INSERT_JOB_UNLESS_WAITING
    with db.writing() as connection:  # SQLAlchemy's execution, as on every other database
        connection.execute(INSERT_JOB, values(clock, None))
        connection.execute(second, values(clock, coalesce_key))
    core_rows = stored(db)
    clear(db)
    outbox = Outbox(db, clock)
    outbox.add("reset_request", PAYLOAD, client="203.0.113.0/24")
    outbox.add("reset_request", PAYLOAD, client="203.0.113.0/24", coalesce_key=coalesce_key)
    prepared_rows = stored(db)
    assert len(prepared_rows) == 2
    assert prepared_rows == core_rows
    assert prepared_rows[0]["created_at"] == clock()  # time zone and all
    assert prepared_rows[0]["payload"] == PAYLOAD


def test_a_waiting_job_absorbs_a_request_with_its_key(db: Database, clock: FakeClock) -> None:
    outbox = Outbox(db, clock)
    first = outbox.add("reset_request", PAYLOAD, coalesce_key="k")
    assert first is not None
    assert outbox.add("reset_request", PAYLOAD, coalesce_key="k") is None
    assert outbox.add("signup_request", PAYLOAD, coalesce_key="k") is not None  # another kind
    outbox.lease_due()
    assert outbox.add("reset_request", PAYLOAD, coalesce_key="k") is not None  # it has started


def test_a_failed_write_is_rolled_back(db: Database, clock: FakeClock) -> None:
    with pytest.raises(RuntimeError), db.driver_writing() as driver:
        driver.execute(
            "INSERT INTO outbox (kind, payload, created_at, attempts, next_attempt_at,"
            " last_error, client) VALUES ('x', '{}', '2026-01-01', 0, '2026-01-01', '', '')"
        )
        raise RuntimeError("the request failed half way")
    assert stored(db) == []
    Outbox(db, clock).add("reset_request", PAYLOAD)  # the writer works on
    assert len(stored(db)) == 1
