from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.settings import Settings
from keycloak_pwreset.store.db import Database, open_database
from keycloak_pwreset.web.app import create_app
from keycloak_pwreset_demo.postgres import PostgresCluster
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport

PUBLIC_URL = "https://help.example.org"


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "keycloak_url": "http://keycloak.test",
        "realm": "demo",
        "client_id": "keycloak-pwreset",
        "client_secret": "s3cret",
        "public_url": PUBLIC_URL,
        "secret_key": "k" * 40,
        "database_url": "sqlite://",
        "mail": {"from_address": "help@example.org", "from_name": "Example Help"},
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keycloak() -> FakeKeycloak:
    kc = FakeKeycloak()
    kc.add_user("alice", "alice@example.org")
    return kc


@pytest.fixture
def transport() -> MemoryTransport:
    return MemoryTransport()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    # A real file, not :memory:: one in-memory connection cannot be shared by
    # concurrent threads, and the concurrency tests need real transactions.
    database = open_database(f"sqlite:///{tmp_path / 'store.db'}")
    yield database
    database.dispose()


STORES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def migrated_template(postgres: PostgresCluster) -> str:
    """A database with the schema at head, copied for each test (faster than migrating)."""
    postgres.create_database("store_template")
    open_database(postgres.database_url("store_template")).dispose()
    return "store_template"


_databases = itertools.count()


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store's contract runs twice: on a SQLite file, and on a fresh database of the
    run's PostgreSQL cluster (tests/conftest.py)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    name = f"store_{next(_databases)}"
    cluster.create_database(name, template=request.getfixturevalue("migrated_template"))
    return cluster.database_url(name)


@pytest.fixture
def any_db(store_url: str) -> Iterator[Database]:
    """A test module that takes this as its ``db`` is part of the store's contract suite."""
    database = open_database(store_url)
    yield database
    database.dispose()


@pytest.fixture
def services(
    keycloak: FakeKeycloak, transport: MemoryTransport, db: Database, clock: FakeClock
) -> Services:
    return build_services(
        make_settings(), gateway=keycloak, transport=transport, db=db, clock=clock
    )


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services), base_url=PUBLIC_URL) as test_client:
        yield test_client
