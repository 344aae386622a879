"""Guarantees that hold between processes sharing one database (contract suite: SQLite and
PostgreSQL under READ COMMITTED). Each "process" here is a Database of its own on the same
URL, so its connections, transactions and locks are its own."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from keycloak_pwreset.services import build_services
from keycloak_pwreset.store.db import Database, open_database
from keycloak_pwreset.store.link_tokens import TokenStore
from keycloak_pwreset.store.locks import Locks, lock_key
from keycloak_pwreset.store.models import LinkToken
from keycloak_pwreset_demo.postgres import PostgresCluster
from tests.unit.conftest import STORES, make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, SlowTransport

PROCESSES = 6


@pytest.fixture
def processes(store_url: str) -> Iterator[list[Database]]:
    databases = [open_database(store_url) for _ in range(PROCESSES)]
    yield databases
    for database in databases:
        database.dispose()


def at_once(work: list[Callable[[], object]]) -> None:
    """Run every callable in a thread of its own, released together; re-raise what failed."""
    barrier = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            call()
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def test_lock_keys_are_stable_signed_64_bit_numbers() -> None:
    assert lock_key("turn", "alice") == lock_key("turn", "alice")
    assert lock_key("turn", "alice") != lock_key("turn", "bob")
    assert lock_key("a", "bc") != lock_key("ab", "c")
    assert -(2**63) <= lock_key("turn", "alice") < 2**63


def test_one_live_link_per_account_when_processes_mint_at_once(
    processes: list[Database], clock: FakeClock
) -> None:
    stores = [TokenStore(db, clock) for db in processes]
    ttl = timedelta(hours=1)
    at_once(
        [
            lambda s=store: s.issue(purpose="reset", ttl=ttl, user_id="u1", email="u1@x.org")
            for store in stores
            for _ in range(3)
        ]
    )
    with processes[0].session() as session:
        live = session.scalar(
            select(func.count()).where(
                LinkToken.user_id == "u1",
                LinkToken.revoked_at.is_(None),
                LinkToken.used_at.is_(None),
            )
        )
    assert live == 1


def test_a_held_lock_makes_another_process_wait_and_only_for_its_name(
    processes: list[Database],
) -> None:
    first, second = Locks(processes[0]), Locks(processes[1])
    if processes[0].local:
        pytest.skip("SQLite: one writer at a time already; the locks are no-ops")
    events: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with first.held("turn", "alice"):
            events.append("first holds")
            holding.set()
            release.wait(10)
            events.append("first releases")

    def wait_for_it() -> None:
        with second.held("turn", "alice"):
            events.append("second holds")

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    with second.held("turn", "bob"):  # another name: no wait
        events.append("bob")
    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    time.sleep(0.3)
    assert "second holds" not in events
    release.set()
    holder.join(10)
    waiter.join(10)
    assert events == ["first holds", "bob", "first releases", "second holds"]


def test_two_workers_keep_an_accounts_email_limit(
    processes: list[Database], clock: FakeClock, keycloak: FakeKeycloak
) -> None:
    """Twenty networks ask for one account; two workers (each its own process, pool of 8)
    drain at once; the account's hourly budget (10) holds across them."""
    if processes[0].local:
        pytest.skip("several worker processes on one SQLite file: not supported (README)")
    transport = SlowTransport()
    settings = make_settings(worker={"concurrency": 8})
    sites = [
        build_services(settings, gateway=keycloak, transport=transport, db=db, clock=clock)
        for db in processes[:2]
    ]
    for n in range(20):
        sites[n % 2].reset.request("alice", client=f"198.51.100.{n}")
    at_once([site.worker.run_once for site in sites])
    assert len(transport.sent) == settings.limits.emails_per_account_per_hour == 10


@pytest.mark.parametrize("store", STORES)
def test_instances_started_together_migrate_a_fresh_database_once(
    request: pytest.FixtureRequest, tmp_path: Path, store: str
) -> None:
    """Four instances open one empty database at the same moment: every one of them starts,
    and the schema is there once (PostgreSQL: the migrations' advisory lock)."""
    url = fresh_database_url(request, tmp_path, store)
    opened: list[Database] = []
    at_once([lambda: opened.append(open_database(url)) for _ in range(4)])
    try:
        with opened[0].session() as session:
            versions = session.execute(text("SELECT version_num FROM alembic_version")).all()
        assert len(versions) == 1
    finally:
        for database in opened:
            database.dispose()


def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path, store: str) -> str:
    """An empty database, never migrated: the store_url fixture's are copies of a migrated one."""
    if store == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    name = f"fresh_{secrets.token_hex(4)}"
    cluster.create_database(name)
    return cluster.database_url(name)
