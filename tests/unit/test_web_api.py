"""The JSON API and the health endpoints."""

from __future__ import annotations

from fastapi.testclient import TestClient

from keycloak_pwreset.services import Services
from tests.unit.fakes import FakeKeycloak, MemoryTransport
from tests.unit.test_flows_reset import GOOD, token_from


def test_request_is_202_for_known_and_unknown_alike(client: TestClient) -> None:
    known = client.post("/api/v1/password-resets", json={"identifier": "alice"})
    unknown = client.post("/api/v1/password-resets", json={"identifier": "ghost"})
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert dict(known.headers) == dict(unknown.headers)


def test_complete_over_the_api(
    client: TestClient, services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    client.post("/api/v1/password-resets", json={"identifier": "alice", "locale": "de"})
    services.worker.run_once()
    token = token_from(transport)
    weak = client.post(
        "/api/v1/password-resets/complete",
        json={"token": token, "password": "nodigits!", "password_confirmation": "nodigits!"},
    )
    assert weak.status_code == 400
    assert weak.json()["result"] == "must_contain_numbers_and_characters"
    assert weak.json()["message"]
    ok = client.post(
        "/api/v1/password-resets/complete",
        json={"token": token, "password": GOOD, "password_confirmation": GOOD},
    )
    assert ok.status_code == 200
    assert ok.json()["result"] == "success"
    reused = client.post(
        "/api/v1/password-resets/complete",
        json={"token": token, "password": GOOD, "password_confirmation": GOOD},
    )
    assert reused.status_code == 410
    assert reused.json()["result"] == "recovery_token_expired"
    assert keycloak.password_changes == 1


def test_malformed_bodies_get_result_codes_not_500(client: TestClient) -> None:
    for body in ['{"identifier": 5}', "not json", "[]", '{"identifier": null}']:
        response = client.post(
            "/api/v1/password-resets", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, body
        assert response.json()["result"] in {"missing_value", "invalid_characters"}


def test_empty_identifier(client: TestClient) -> None:
    response = client.post("/api/v1/password-resets", json={})
    assert response.status_code == 400
    assert response.json()["result"] == "missing_value"


def test_oversized_body_is_refused(client: TestClient) -> None:
    response = client.post("/api/v1/password-resets", json={"identifier": "a" * 100_000})
    assert response.status_code == 413


def test_keycloak_down_on_complete_is_503(
    client: TestClient, services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    client.post("/api/v1/password-resets", json={"identifier": "alice"})
    services.worker.run_once()
    token = token_from(transport)
    keycloak.down = True
    response = client.post(
        "/api/v1/password-resets/complete",
        json={"token": token, "password": GOOD, "password_confirmation": GOOD},
    )
    assert response.status_code == 503
    assert response.json()["result"] == "service_unavailable"


def test_health_and_readiness(client: TestClient, keycloak: FakeKeycloak) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    keycloak.down = True
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["keycloak"] == "unreachable"


def test_openapi_documents_the_api_only(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "/api/v1/password-resets" in schema["paths"]
    assert "/api/v1/password-resets/complete" in schema["paths"]
    assert "/forgot-password" not in schema["paths"]
