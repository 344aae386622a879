"""lease_due is fair between clients: one network's flood cannot delay another's work."""

from __future__ import annotations

import pytest

from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.outbox import Outbox
from tests.unit.fakes import FakeClock

FLOOD = "198.51.100.0"
VICTIM = "203.0.113.0"


@pytest.fixture
def db(any_db: Database) -> Database:
    """Part of the store's contract suite: SQLite and PostgreSQL (tests/unit/conftest.py)."""
    return any_db


@pytest.fixture
def outbox(db: Database, clock: FakeClock) -> Outbox:
    return Outbox(db, clock)


def flood(outbox: Outbox, client: str = FLOOD, rows: int = 500) -> list[int]:
    """``rows`` requests for unknown identifiers, keyed as the reset flow keys them."""
    ids = []
    for n in range(rows):
        key = f"reset_request:{client}:nobody{n}"
        item_id = outbox.add(
            "reset_request", {"identifier": f"nobody{n}"}, client=client, coalesce_key=key
        )
        assert item_id is not None
        ids.append(item_id)
    return ids


def test_another_clients_row_is_in_the_first_batch_behind_a_flood(outbox: Outbox) -> None:
    flooded = flood(outbox)
    victim = outbox.add("reset_request", {"identifier": "alice"}, client=VICTIM)
    batch = [job.id for job in outbox.lease_due(limit=5)]
    # Each client's oldest first: the flood's first row, then the victim's.
    assert batch == [flooded[0], victim, *flooded[1:4]]


def test_clients_take_turns(outbox: Outbox) -> None:
    a = flood(outbox, "net-a", 3)
    b = flood(outbox, "net-b", 2)
    service = outbox.add("password_changed", {})  # work the service made itself: client ""
    order = [job.id for job in outbox.lease_due(limit=10)]
    assert order == [a[0], b[0], service, a[1], b[1], a[2]]


def test_within_one_client_the_order_stays_first_in_first_out(outbox: Outbox) -> None:
    ids = flood(outbox, "net-a", 20)
    leased = [job.id for _ in range(4) for job in outbox.lease_due(limit=5)]
    assert leased == ids


def test_rows_not_due_do_not_count_against_their_client(outbox: Outbox, clock: FakeClock) -> None:
    # A client's rows waiting for a retry do not push its new row back.
    flood(outbox, "net-a", 3)
    for job in outbox.lease_due(limit=3):
        outbox.retry_later(job, "Keycloak down")
    other = flood(outbox, "net-b", 2)
    fresh = outbox.add("k", {}, client="net-a")
    assert [job.id for job in outbox.lease_due(limit=2)] == [other[0], fresh]


def test_a_flood_of_leased_rows_is_skipped(outbox: Outbox) -> None:
    flooded = flood(outbox, rows=30)
    first = outbox.lease_due(limit=10)
    victim = outbox.add("k", {}, client=VICTIM)
    second = [job.id for job in outbox.lease_due(limit=3)]
    assert [job.id for job in first] == flooded[:10]
    assert second == [flooded[10], victim, flooded[11]]
