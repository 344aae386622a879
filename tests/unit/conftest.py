from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.settings import Settings
from keycloak_pwreset.store.db import Database, open_database
from keycloak_pwreset.web.app import create_app
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
