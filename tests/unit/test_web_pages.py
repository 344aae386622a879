"""The HTML pages through FastAPI's test client: CSRF, token handling, identical answers."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.web.app import create_app
from tests.helpers import way_back
from tests.unit.conftest import PUBLIC_URL, make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport
from tests.unit.test_flows_reset import GOOD, token_from


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert match, html
    return match.group(1)


def ask_for_link(client: TestClient, identifier: str) -> object:
    page = client.get("/forgot-password")
    return client.post(
        "/forgot-password", data={"identifier": identifier, "csrf_token": csrf_of(page.text)}
    )


def open_link(client: TestClient, token: str) -> str:
    """Follow the emailed link like a browser; return the CSRF token of the form."""
    moved = client.get(f"/reset-password?token={token}", follow_redirects=False)
    assert moved.status_code == 303
    assert moved.headers["location"] == "/reset-password"  # the token left the URL
    page = client.get("/reset-password")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def test_forgot_password_form_has_labels_and_csrf(client: TestClient) -> None:
    page = client.get("/forgot-password")
    assert page.status_code == 200
    assert '<label for="identifier">' in page.text
    assert "kcpr_csrf" in page.headers["set-cookie"]
    assert "HttpOnly" in page.headers["set-cookie"]
    assert "Secure" in page.headers["set-cookie"]  # the public URL is https


def test_known_and_unknown_accounts_get_identical_responses(client: TestClient) -> None:
    known = ask_for_link(client, "alice@example.org")
    unknown = ask_for_link(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200  # type: ignore[attr-defined]
    assert known.content == unknown.content  # type: ignore[attr-defined]
    assert dict(known.headers) == dict(unknown.headers)  # type: ignore[attr-defined]


def test_post_without_csrf_token_is_refused(client: TestClient, services: Services) -> None:
    client.get("/forgot-password")
    response = client.post("/forgot-password", data={"identifier": "alice"})
    assert response.status_code == 400
    assert services.outbox.pending_count() == 0


def test_csrf_token_from_another_browser_is_refused(client: TestClient, services: Services) -> None:
    other = TestClient(create_app(services), base_url=PUBLIC_URL)
    stolen = csrf_of(other.get("/forgot-password").text)
    client.get("/forgot-password")
    response = client.post("/forgot-password", data={"identifier": "alice", "csrf_token": stolen})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("identifier", "result"),
    [("", "missing_value"), ("a" * 300, "value_too_long"), ("a\r\nb", "invalid_characters")],
)
def test_bad_identifier_shows_its_message(client: TestClient, identifier: str, result: str) -> None:
    response = ask_for_link(client, identifier)
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert f'data-result="{result}"' in response.text  # type: ignore[attr-defined]


def test_full_reset_through_the_pages(
    client: TestClient, services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    ask_for_link(client, "alice")
    services.worker.run_once()
    csrf = open_link(client, token_from(transport))
    weak = client.post(
        "/reset-password",
        data={"password": "weak", "password_confirmation": "weak", "csrf_token": csrf},
    )
    assert weak.status_code == 200
    assert 'data-result="invalid_password_length"' in weak.text
    done = client.post(
        "/reset-password",
        data={"password": GOOD, "password_confirmation": GOOD, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert way_back(done) == (
        "http://keycloak.test/realms/demo/account?kcpr_status=password_changed"
    )
    assert keycloak.current_password("id-alice") == GOOD
    again = client.get("/reset-password")
    assert 'data-result="recovery_token_expired"' in again.text


def test_get_never_uses_the_token(
    client: TestClient, services: Services, transport: MemoryTransport
) -> None:
    ask_for_link(client, "alice")
    services.worker.run_once()
    token = token_from(transport)
    for _ in range(3):  # a mail scanner, a preview, then the person
        open_link(client, token)
    assert services.reset.check(token) is not None


def test_unknown_token_page(client: TestClient) -> None:
    client.get("/reset-password?token=" + "A" * 43, follow_redirects=False)
    page = client.get("/reset-password")
    assert page.status_code == 400
    assert 'data-result="recovery_token_expired"' in page.text


def test_keycloak_down_shows_try_later_and_keeps_token(
    client: TestClient, services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    ask_for_link(client, "alice")
    services.worker.run_once()
    token = token_from(transport)
    csrf = open_link(client, token)
    keycloak.down = True
    response = client.post(
        "/reset-password",
        data={"password": GOOD, "password_confirmation": GOOD, "csrf_token": csrf},
    )
    assert response.status_code == 503
    assert "try again later" in response.text
    assert services.reset.check(token) is not None


def test_forged_host_header_never_changes_the_link(
    client: TestClient, services: Services, transport: MemoryTransport
) -> None:
    page = client.get("/forgot-password", headers={"Host": "evil.example"})
    client.post(
        "/forgot-password",
        data={"identifier": "alice", "csrf_token": csrf_of(page.text)},
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    services.worker.run_once()
    body = transport.sent[0].message.get_body(("plain",)).get_content()
    assert "evil" not in body
    assert f"{PUBLIC_URL}/reset-password?token=" in body


def test_security_headers_on_pages(client: TestClient) -> None:
    headers = client.get("/forgot-password").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src" not in headers["content-security-policy"]  # default-src 'none'
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["strict-transport-security"].startswith("max-age=")


def test_success_page_when_no_login_url(
    keycloak: FakeKeycloak, transport: MemoryTransport, db: object, clock: FakeClock
) -> None:
    services = build_services(
        make_settings(login_url=""),
        gateway=keycloak,
        transport=transport,
        db=db,
        clock=clock,  # type: ignore[arg-type]
    )
    client = TestClient(create_app(services), base_url=PUBLIC_URL)
    ask_for_link(client, "alice")
    services.worker.run_once()
    csrf = open_link(client, token_from(transport))
    done = client.post(
        "/reset-password",
        data={"password": GOOD, "password_confirmation": GOOD, "csrf_token": csrf},
    )
    assert done.status_code == 200
    assert 'data-result="success"' in done.text


def test_service_under_a_path_prefix(
    keycloak: FakeKeycloak, transport: MemoryTransport, db: object, clock: FakeClock
) -> None:
    services = build_services(
        make_settings(public_url="https://example.org/account-help"),
        gateway=keycloak,
        transport=transport,
        db=db,
        clock=clock,  # type: ignore[arg-type]
    )
    client = TestClient(create_app(services), base_url=PUBLIC_URL)
    page = client.get("/forgot-password")
    assert 'action="/account-help/forgot-password"' in page.text
    assert 'href="/account-help/static/style.css"' in page.text
