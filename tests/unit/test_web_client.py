"""Who the client is: network keys (an IPv6 /64 is one client), and peers that forward
without being trusted proxies (noted for `check`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keycloak_pwreset.commands.check import forwarding_warnings
from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.forwarding import ForwardingPeers
from keycloak_pwreset.web.app import create_app
from keycloak_pwreset.web.client import network_key
from tests.unit.conftest import PUBLIC_URL, make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport
from tests.unit.test_web_pages import csrf_of


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::FFFF", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # IPv4-mapped: the IPv4 client
        ("fe80::1%eth0", "fe80::/64"),  # a zone id is no part of the network
        ("::1", "::/64"),
        ("testclient", "testclient"),  # not an address: kept as it is
        ("x" * 100, "x" * 64),
    ],
)
def test_network_key(address: str, key: str) -> None:
    assert network_key(address) == key


def site(
    keycloak: FakeKeycloak, db: Database, clock: FakeClock, peer: str, **overrides: Any
) -> tuple[TestClient, Services]:
    services = build_services(
        make_settings(**overrides),
        gateway=keycloak,
        db=db,
        clock=clock,
        transport=MemoryTransport(),
    )
    return TestClient(create_app(services), base_url=PUBLIC_URL, client=(peer, 4711)), services


def test_one_ipv6_64_is_one_client_for_the_limits(
    keycloak: FakeKeycloak, db: Database, clock: FakeClock
) -> None:
    limits = {"requests_per_client": "3/minute"}
    first, _ = site(keycloak, db, clock, "2001:db8:1:2::1", limits=limits)
    app = first.app
    same_64 = [
        TestClient(app, base_url=PUBLIC_URL, client=(f"2001:db8:1:2::{n:x}", 4711))
        for n in range(2, 5)
    ]
    answers = [first.post("/api/v1/password-resets", json={"identifier": "a"}).status_code]
    answers += [
        c.post("/api/v1/password-resets", json={"identifier": "a"}).status_code for c in same_64
    ]
    assert answers == [202, 202, 202, 429]  # four addresses of one /64: one budget
    other_64 = TestClient(app, base_url=PUBLIC_URL, client=("2001:db8:1:3::1", 4711))
    assert other_64.post("/api/v1/password-resets", json={"identifier": "a"}).status_code == 202


class Spy:
    """Records the ``client`` each request method of a flow is given."""

    def __init__(self, services: Services) -> None:
        self.clients: list[str] = []
        for flow in (services.reset, services.signup):
            original = flow.request

            def request(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                self.clients.append(kwargs.get("client", "<none>"))
                return _original(*args, **kwargs)

            flow.request = request  # type: ignore[method-assign]


@pytest.mark.parametrize(
    ("peer", "key"),
    [("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"), ("198.51.100.4", "198.51.100.4")],
)
def test_every_request_handler_gives_the_flow_the_network_key(
    keycloak: FakeKeycloak, db: Database, clock: FakeClock, peer: str, key: str
) -> None:
    client, services = site(keycloak, db, clock, peer)
    spy = Spy(services)
    person = {"first_name": "Nina", "last_name": "New", "email": "nina@example.org"}
    csrf = csrf_of(client.get("/forgot-password").text)
    client.post("/forgot-password", data={"identifier": "alice", "csrf_token": csrf})
    client.post("/signup", data={**person, "csrf_token": csrf})
    client.post("/api/v1/password-resets", json={"identifier": "alice"})
    client.post("/api/v1/signups", json=person)
    assert spy.clients == [key] * 4


def test_forwarded_for_from_a_trusted_proxy_is_keyed_by_the_clients_64(
    keycloak: FakeKeycloak, db: Database, clock: FakeClock
) -> None:
    client, services = site(keycloak, db, clock, "10.0.0.2", trusted_proxies=["10.0.0.2"])
    spy = Spy(services)
    client.post(
        "/api/v1/password-resets",
        json={"identifier": "alice"},
        headers={"X-Forwarded-For": "2001:db8:9:9::42"},
    )
    assert spy.clients == ["2001:db8:9:9::/64"]
    assert ForwardingPeers(db).recent() == []  # a trusted proxy is not reported


# -- peers that forward without being trusted -------------------------------------------


@pytest.fixture
def untrusted(
    keycloak: FakeKeycloak, db: Database, clock: FakeClock
) -> Iterator[tuple[TestClient, Services]]:
    client, services = site(keycloak, db, clock, "172.18.0.3", trusted_proxies=["10.0.0.2"])
    with client:
        yield client, services


def test_an_untrusted_forwarding_peer_is_noted_once_and_logged_once(
    untrusted: tuple[TestClient, Services],
    db: Database,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.WARNING, logger="keycloak_pwreset.web.forwarding")
    client, _ = untrusted
    writes: list[str] = []
    original = ForwardingPeers.note

    def note(self: ForwardingPeers, peer: str) -> None:
        writes.append(peer)
        original(self, peer)

    monkeypatch.setattr(ForwardingPeers, "note", note)
    client.get("/forgot-password")  # no header: nothing to note
    assert writes == []
    for _ in range(3):
        page = client.get("/forgot-password", headers={"X-Forwarded-For": "203.0.113.9"})
        assert page.status_code == 200
    assert writes == ["172.18.0.3"]  # once per peer and process
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "172.18.0.3" in warnings[0]
    assert "KCPR_TRUSTED_PROXIES" in warnings[0]
    assert [sighting.peer for sighting in ForwardingPeers(db).recent()] == ["172.18.0.3"]


def test_the_forwarding_store_upserts_and_forgets_old_sightings(
    db: Database, clock: FakeClock
) -> None:
    peers = ForwardingPeers(db, clock)
    peers.note("172.18.0.3")
    clock.advance(days=3)
    peers.note("2001:db8::7")
    clock.advance(hours=1)
    peers.note("172.18.0.3")  # again (say, by another instance): one row, seen later
    assert [(s.peer, s.last_seen) for s in peers.recent()] == [
        ("172.18.0.3", clock()),
        ("2001:db8::7", clock() - timedelta(hours=1)),
    ]
    clock.advance(days=8)
    assert peers.recent() == []
    assert len(peers.recent(within=timedelta(days=30))) == 2


def test_check_names_the_peers_and_the_fix(db: Database) -> None:
    assert forwarding_warnings(db) == []
    ForwardingPeers(db).note("172.18.0.3")
    (line,) = forwarding_warnings(db)
    assert "172.18.0.3" in line
    assert "KCPR_TRUSTED_PROXIES='[\"172.18.0.3\"]'" in line


def test_check_names_a_handful_of_peers_at_most(db: Database) -> None:
    for n in range(9):
        ForwardingPeers(db).note(f"198.51.100.{n}")
    (line,) = forwarding_warnings(db)
    assert line.count("198.51.100.") == 10  # five named, five in the example
    assert "(and 4 more)" in line


@pytest.mark.parametrize(
    ("forwarded", "key"),
    [
        ("198.51.100.4:5678", "198.51.100.4"),
        ("[2001:db8:9:9::42]:443", "2001:db8:9:9::/64"),
        ("2001:db8:9:9::42", "2001:db8:9:9::/64"),
        ("::ffff:198.51.100.4", "198.51.100.4"),
        ("unknown", "unknown"),
    ],
)
def test_a_forwarded_port_or_bracket_is_no_part_of_the_client(
    keycloak: FakeKeycloak, db: Database, clock: FakeClock, forwarded: str, key: str
) -> None:
    client, services = site(keycloak, db, clock, "10.0.0.2", trusted_proxies=["10.0.0.2"])
    spy = Spy(services)
    client.post(
        "/api/v1/password-resets",
        json={"identifier": "alice"},
        headers={"X-Forwarded-For": f"{forwarded}, 10.0.0.2"},
    )
    assert spy.clients == [key]
