"""In-process fixtures for the security tests: the app over a fake Keycloak and a memory mailbox.

Named apart from the real-stack fixtures of tests/conftest.py (``keycloak``, ``service``,
``sink``, ``account``, …), which tests/security/test_logs.py uses.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from keycloak_pwreset.gateway import SignupRules
from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.settings import Settings
from keycloak_pwreset.store.db import open_database
from keycloak_pwreset.web.app import create_app
from tests.unit.conftest import PUBLIC_URL, make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport

KEYCLOAK_URL = "http://keycloak.test"  # make_settings' keycloak_url
RESTART_PATH = "/realms/demo/login-actions/restart"


def security_settings(**overrides: Any) -> Settings:
    """The unit tests' settings; rate limits off (when the setting exists) so that the many
    requests of one test from one client address are never throttled."""
    if "limits" in Settings.model_fields:
        overrides.setdefault("limits", {"enabled": False})
    return make_settings(**overrides)


@dataclass
class Site:
    """The whole service in this process: pages and API, flows, worker, fakes around them."""

    services: Services
    keycloak: FakeKeycloak
    transport: MemoryTransport
    clock: FakeClock
    app: FastAPI
    client: TestClient

    def run_worker(self) -> None:
        self.services.worker.run_once()

    def fresh(self, rules: SignupRules | None = None) -> Site:
        """Back to a new visitor, an empty mailbox and a realm with only alice, so that one
        site (templates compiled once) serves many tests; a day later, so that no email
        cooldown carries over, and with any job an earlier test left crashed dropped."""
        self.client.cookies.clear()
        self.transport.sent.clear()
        self.keycloak.users.clear()
        self.keycloak.passwords.clear()
        self.keycloak.created.clear()
        self.keycloak.add_user("alice", "alice@example.org")
        self.keycloak.rules = rules or SignupRules()
        self.keycloak.down = False
        self.clock.advance(days=1)
        outbox = self.services.outbox
        while jobs := outbox.lease_due(limit=100):
            for job in jobs:
                outbox.complete(job)
        return self


def build_site(tmp_path: Path, **overrides: Any) -> Iterator[Site]:
    keycloak = FakeKeycloak()
    keycloak.add_user("alice", "alice@example.org")
    transport = MemoryTransport()
    clock = FakeClock()
    db = open_database(f"sqlite:///{tmp_path / 'store.db'}")
    services = build_services(
        security_settings(**overrides),
        gateway=keycloak,
        transport=transport,
        db=db,
        clock=clock,
    )
    app = create_app(services)
    # raise_server_exceptions=False: a crash must show as the 500 a browser would get,
    # so that the tests can say which input caused it.
    with TestClient(app, base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        yield Site(services, keycloak, transport, clock, app, client)
    db.dispose()


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture
def site(shared_site: Site) -> Site:
    """The module's site, fresh for this test."""
    return shared_site.fresh()


def reparsed(message: EmailMessage) -> EmailMessage:
    """The message as a receiving MTA sees it: serialized for SMTP, parsed again."""
    wire = message.as_bytes(policy=email.policy.SMTP)
    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed
