"""The database down (a restart, a failover): 503 and "try again", never a 500; one log line."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from keycloak_pwreset.services import Services
from keycloak_pwreset.web.app import create_app
from tests.unit.conftest import PUBLIC_URL


def refused(*_args: object, **_kwargs: object) -> None:
    raise OperationalError("INSERT", {}, Exception("connection refused"))


@pytest.fixture
def down(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    # This service's outbox only: a worker another test left running is not ours to break.
    monkeypatch.setattr(services.outbox, "add", refused)
    monkeypatch.setattr(services.outbox, "lease_due", refused)
    with TestClient(create_app(services), base_url=PUBLIC_URL) as client:
        yield client


def test_the_api_answers_503_with_a_result_code(down: TestClient) -> None:
    response = down.post("/api/v1/password-resets", json={"identifier": "alice"})
    assert response.status_code == 503
    assert response.json()["result"] == "service_unavailable"
    assert response.headers["retry-after"] == "5"


def test_a_form_answers_503_with_a_page(down: TestClient) -> None:
    page = down.get("/forgot-password")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    response = down.post(
        "/forgot-password", data={"identifier": "alice", "csrf_token": csrf.group(1)}
    )
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["retry-after"] == "5"
    assert "Internal Server Error" not in response.text


def logged(caplog: pytest.LogCaptureFixture, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in r.message for r in caplog.records):
        assert time.monotonic() < deadline, f"never logged: {text}"
        time.sleep(0.01)


def test_the_worker_says_so_once_and_again_when_it_is_back(
    services: Services, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "keycloak_pwreset.worker")
    worker = services.worker
    worker.poll_seconds = 0.01
    with monkeypatch.context() as patched:
        patched.setattr(services.outbox, "lease_due", refused)
        worker.start()
        logged(caplog, "unreachable")
        time.sleep(0.2)  # several polls fail meanwhile
    logged(caplog, "reachable again")
    worker.stop()
    messages = [r.message for r in caplog.records]
    assert sum("unreachable" in m for m in messages) == 1, messages
    assert not any(r.exc_info for r in caplog.records)
