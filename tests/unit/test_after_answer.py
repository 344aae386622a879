"""The worker is woken by a request only once its answer has been sent (web/after_answer.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from keycloak_pwreset.flows.signup import SignupRequest
from keycloak_pwreset.gateway import SignupRules
from keycloak_pwreset.results import Result
from keycloak_pwreset.services import Services
from keycloak_pwreset.web.app import create_app
from tests.unit.conftest import PUBLIC_URL
from tests.unit.test_web_pages import csrf_of


@pytest.fixture
def wakes(services: Services, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(services.worker, "wake", lambda: calls.append("wake"))
    services.reset.wake_worker = services.signup.wake_worker = lambda: calls.append("flow")
    return calls


def test_the_request_flows_leave_waking_to_the_web_layer(
    services: Services, wakes: list[str]
) -> None:
    assert services.reset.request("alice") is Result.SUCCESS
    person = SignupRequest("new@example.org", "New", "Person", username="newp")
    assert services.signup.request(person, SignupRules()) is Result.SUCCESS
    assert wakes == []
    assert services.outbox.pending_count() == 2


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/password-resets", {"identifier": "alice"}),
        (
            "/api/v1/signups",
            {"email": "new@example.org", "first_name": "N", "last_name": "P", "username": "np"},
        ),
    ],
)
def test_an_accepted_api_request_wakes_the_worker_after_answering(
    services: Services, wakes: list[str], path: str, body: dict[str, str]
) -> None:
    with TestClient(create_app(services), base_url=PUBLIC_URL) as client:
        assert client.post(path, json=body).status_code == 202
        assert wakes == ["wake"]
        assert client.post(path, json={}).status_code == 400  # refused: no work, no wake
        assert wakes == ["wake"]


def test_an_accepted_form_wakes_the_worker_after_answering(
    services: Services, wakes: list[str]
) -> None:
    with TestClient(create_app(services), base_url=PUBLIC_URL) as client:
        csrf = csrf_of(client.get("/forgot-password").text)
        sent = client.post("/forgot-password", data={"identifier": "bob", "csrf_token": csrf})
        assert sent.status_code == 200
        assert wakes == ["wake"]
