"""No flow call that can wait on a network runs on the event loop: one blocking call in an
``async def`` stalls every other request of the process meanwhile.

The one exception is web/store_calls.py's: a request for a link only writes an outbox row, and
when the store is a local SQLite file that write runs on the loop (a thread would cost more
than the write). With a store over the network (PostgreSQL), every flow call is off the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keycloak_pwreset.services import Services
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.web.app import create_app
from tests.unit.conftest import PUBLIC_URL
from tests.unit.fakes import MemoryTransport
from tests.unit.test_flows_reset import GOOD, token_from
from tests.unit.test_flows_signup import link_in
from tests.unit.test_web_pages import csrf_of

FLOW_METHODS = {
    "reset": ("request", "check", "complete"),
    "signup": ("rules", "request", "check", "complete"),
}


def on_the_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False  # a worker thread: fine
    return True


class LoopWatch:
    """Wraps the flows' methods; remembers every call that ran on the event loop's thread."""

    def __init__(self, services: Services) -> None:
        self.calls: list[str] = []
        self.on_loop: list[str] = []
        for flow_name, methods in FLOW_METHODS.items():
            flow = getattr(services, flow_name)
            for method in methods:
                setattr(flow, method, self.wrap(f"{flow_name}.{method}", getattr(flow, method)))

    def wrap(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def watched(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if on_the_event_loop():
                self.on_loop.append(name)
            return original(*args, **kwargs)

        return watched


LOCAL, NETWORK = "local store", "store over the network"


@pytest.fixture(params=[LOCAL, NETWORK])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    kind = str(request.param)
    monkeypatch.setattr(Database, "local", property(lambda _db: kind == LOCAL))
    return kind


@pytest.fixture
def client(services: Services, store: str) -> Iterator[TestClient]:
    with TestClient(create_app(services), base_url=PUBLIC_URL) as test_client:
        yield test_client


@pytest.fixture
def watch(services: Services) -> LoopWatch:
    return LoopWatch(services)


def test_reset_pages_and_api_call_the_flow_off_the_loop(
    client: TestClient, services: Services, transport: MemoryTransport, watch: LoopWatch, store: str
) -> None:
    csrf = csrf_of(client.get("/forgot-password").text)
    client.post("/forgot-password", data={"identifier": "alice", "csrf_token": csrf})
    services.worker.run_once()
    client.get(f"/reset-password?token={token_from(transport)}")
    csrf = csrf_of(client.get("/reset-password").text)
    client.post(
        "/reset-password",
        data={"password": GOOD, "password_confirmation": GOOD, "csrf_token": csrf},
        follow_redirects=False,
    )
    client.post("/api/v1/password-resets", json={"identifier": "alice"})
    client.post("/api/v1/password-resets/complete", json={"token": "x", "password": GOOD})
    assert {"reset.request", "reset.check", "reset.complete"} <= set(watch.calls)
    # The form's request and the API's: the outbox row only.
    assert watch.on_loop == (["reset.request"] * 2 if store == LOCAL else [])


def test_signup_pages_and_api_call_the_flow_off_the_loop(
    client: TestClient, services: Services, transport: MemoryTransport, watch: LoopWatch, store: str
) -> None:
    person = {"first_name": "Nina", "last_name": "New", "email": "nina@example.org"}
    csrf = csrf_of(client.get("/signup").text)
    client.post("/signup", data={**person, "csrf_token": csrf})
    services.worker.run_once()
    client.get(f"/signup/complete?token={link_in(transport, '/signup/complete')}")
    csrf = csrf_of(client.get("/signup/complete").text)
    client.post(  # refused (too short): the form again, after flow.check
        "/signup/complete", data={"password": "x", "password_confirmation": "x", "csrf_token": csrf}
    )
    client.post(
        "/signup/complete",
        data={"password": GOOD, "password_confirmation": GOOD, "csrf_token": csrf},
        follow_redirects=False,
    )
    client.post("/api/v1/signups", json=person)
    client.post("/api/v1/signups/complete", json={"token": "x", "password": GOOD})
    assert {"signup.rules", "signup.request", "signup.check", "signup.complete"} <= set(watch.calls)
    # The form's request, after the page read the rules off the loop; the API's request reads
    # the rules itself (Keycloak), so it stays in a thread.
    assert watch.on_loop == (["signup.request"] if store == LOCAL else [])
