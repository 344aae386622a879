"""No flow call runs on the event loop: each is a database query (or a Keycloak call), and one
blocking call in an ``async def`` stalls every other request of the process meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keycloak_pwreset.services import Services
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


@pytest.fixture
def watch(services: Services) -> LoopWatch:
    return LoopWatch(services)


def test_reset_pages_and_api_call_the_flow_off_the_loop(
    client: TestClient, services: Services, transport: MemoryTransport, watch: LoopWatch
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
    assert watch.on_loop == []


def test_signup_pages_and_api_call_the_flow_off_the_loop(
    client: TestClient, services: Services, transport: MemoryTransport, watch: LoopWatch
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
    assert watch.on_loop == []
