"""Sign-up pages and API through FastAPI's test client."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from keycloak_pwreset.gateway import SignupRules
from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.store.db import open_database
from keycloak_pwreset.web.app import create_app
from tests.unit.conftest import PUBLIC_URL, make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport
from tests.unit.test_flows_signup import GOOD, link_in
from tests.unit.test_web_pages import csrf_of, way_back

PERSON = {"first_name": "Nina", "last_name": "New", "email": "nina@example.org"}


def sign_up(client: TestClient, **fields: str) -> object:
    token = csrf_of(client.get("/signup").text)
    return client.post("/signup", data={**PERSON, **fields, "csrf_token": token})


def test_signup_form_follows_the_realm(client: TestClient, keycloak: FakeKeycloak) -> None:
    page = client.get("/signup")
    assert page.status_code == 200
    assert 'name="username"' not in page.text  # email as username
    keycloak.rules = SignupRules(email_as_username=False)
    assert 'name="username"' in client.get("/signup").text


def test_existing_and_new_emails_get_identical_answers(client: TestClient) -> None:
    existing = sign_up(client, email="alice@example.org")
    new = sign_up(client, email="nobody-yet@example.org")
    assert existing.status_code == new.status_code == 200  # type: ignore[attr-defined]
    assert existing.content == new.content  # type: ignore[attr-defined]
    assert dict(existing.headers) == dict(new.headers)  # type: ignore[attr-defined]


def test_full_signup_through_the_pages(
    client: TestClient, services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    sign_up(client)
    services.worker.run_once()
    token = link_in(transport, "/signup/complete")
    moved = client.get(f"/signup/complete?token={token}", follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/signup/complete"
    page = client.get("/signup/complete")
    assert "Welcome, Nina!" in page.text and "nina@example.org" in page.text
    csrf = csrf_of(page.text)
    weak = client.post(
        "/signup/complete",
        data={"password": "weak", "password_confirmation": "weak", "csrf_token": csrf},
    )
    assert weak.status_code == 200 and 'data-result="invalid_password_length"' in weak.text
    assert keycloak.created == []
    done = client.post(
        "/signup/complete",
        data={"password": GOOD, "password_confirmation": GOOD, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert way_back(done) == (
        "http://keycloak.test/realms/demo/account?kcpr_status=account_created"
        "&login_hint=nina%40example.org"
    )
    assert keycloak.find_user_by_email("nina@example.org") is not None


def test_names_with_html_are_refused_and_shown_escaped(client: TestClient) -> None:
    response = sign_up(client, first_name="<script>x</script>")
    assert response.status_code == 200  # type: ignore[attr-defined]
    text = response.text  # type: ignore[attr-defined]
    assert 'data-result="invalid_name"' in text
    assert "<script>x</script>" not in text and "&lt;script&gt;x&lt;/script&gt;" in text


def test_signup_api(
    client: TestClient, services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    accepted = client.post("/api/v1/signups", json={**PERSON, "locale": "fr"})
    assert accepted.status_code == 202
    bad = client.post("/api/v1/signups", json={**PERSON, "email": "nope"})
    assert bad.status_code == 400 and bad.json()["result"] == "invalid_email"
    services.worker.run_once()
    token = link_in(transport, "/signup/complete")
    body = {"token": token, "password": GOOD, "password_confirmation": GOOD}
    created = client.post("/api/v1/signups/complete", json=body)
    assert created.status_code == 201 and created.json()["result"] == "success"
    assert keycloak.created[-1].locale == "fr"
    again = client.post("/api/v1/signups/complete", json=body)
    assert again.status_code == 410


def test_keycloak_down_on_signup_form(client: TestClient, keycloak: FakeKeycloak) -> None:
    keycloak.down = True
    assert client.get("/signup").status_code == 503
    assert client.post("/api/v1/signups", json=PERSON).status_code == 503


def test_signup_disabled_is_404_and_reset_still_works(
    keycloak: FakeKeycloak, transport: MemoryTransport, tmp_path: Path, clock: FakeClock
) -> None:
    services = build_services(
        make_settings(signup_enabled=False),
        gateway=keycloak,
        transport=transport,
        db=open_database(f"sqlite:///{tmp_path / 'db.sqlite'}"),
        clock=clock,
    )
    client = TestClient(create_app(services), base_url=PUBLIC_URL)
    for path in ("/signup", "/signup/complete"):
        assert client.get(path).status_code == 404
        assert client.post(path).status_code == 404
    assert client.post("/api/v1/signups", json=PERSON).status_code == 404
    assert client.post("/api/v1/signups/complete", json={}).status_code == 404
    assert client.get("/forgot-password").status_code == 200
    assert client.post("/api/v1/password-resets", json={"identifier": "alice"}).status_code == 202
