"""The admin console's pages (/admin) through FastAPI's test client.

The sign-in itself (Authlib against Keycloak's login page) runs against the real
Keycloak in tests/e2e/test_console.py; here a session cookie is made the way the
callback makes one, to test what a signed-in administrator sees and does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.responses import Response

from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.web.app import create_app
from keycloak_pwreset.web.console_session import SESSION_COOKIE, ConsoleSessions
from keycloak_pwreset.web.cookies import HOST_PREFIX, Cookies
from tests.unit.conftest import PUBLIC_URL, make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport
from tests.unit.test_flows_reset import token_from
from tests.unit.test_web_pages import csrf_of

CONSOLE = {"client_secret": "console-secret"}


def session_cookie(services: Services, user_id: str = "id-admin") -> str:
    """The cookie the callback sets for a signed-in administrator."""
    settings = services.settings
    sessions = ConsoleSessions(
        settings.secret_key.get_secret_value(), Cookies(secure=False, base="")
    )
    response = Response()
    sessions.start(response, user_id, "admin", "id-token")
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=strict" in header
    return re.match(rf"{SESSION_COOKIE}=([^;]+)", header).group(1)  # type: ignore[union-attr]


@pytest.fixture
def console(
    keycloak: FakeKeycloak, db: Database, clock: FakeClock, transport: MemoryTransport
) -> Iterator[tuple[TestClient, Services]]:
    services = build_services(
        make_settings(console=CONSOLE, signup_default_groups=["/customers"]),
        gateway=keycloak,
        transport=transport,
        db=db,
        clock=clock,
    )
    with TestClient(create_app(services), base_url=PUBLIC_URL) as client:
        yield client, services
    services.close()


def signed_in(client: TestClient, services: Services) -> TestClient:
    client.cookies.set(HOST_PREFIX + SESSION_COOKIE, session_cookie(services))
    return client


def test_absent_until_configured(
    keycloak: FakeKeycloak, db: Database, clock: FakeClock, transport: MemoryTransport
) -> None:
    services = build_services(
        make_settings(), gateway=keycloak, transport=transport, db=db, clock=clock
    )
    with TestClient(create_app(services), base_url=PUBLIC_URL) as client:
        for path in ("/admin", "/admin/login", "/admin/outbox", "/admin/emails"):
            assert client.get(path).status_code == 404, path
    services.close()


def test_signed_out_pages_offer_sign_in_and_actions_do_nothing(
    console: tuple[TestClient, Services],
) -> None:
    client, services = console
    for path in ("/admin", "/admin/outbox", "/admin/invitations", "/admin/settings"):
        page = client.get(path)
        assert page.status_code == 200 and 'href="/admin/login"' in page.text, path
        assert "<table" not in page.text and "Sign out" not in page.text
    assert client.post("/admin/requests/1/revoke", data={}).status_code == 401
    client.cookies.set(HOST_PREFIX + SESSION_COOKIE, session_cookie(services) + "x")  # altered
    assert 'href="/admin/login"' in client.get("/admin").text


def test_list_and_revoke_a_pending_reset(
    console: tuple[TestClient, Services],
    transport: MemoryTransport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "keycloak_pwreset.audit")
    client, services = console
    client.post("/api/v1/password-resets", json={"identifier": "alice"})
    services.worker.run_once()
    token = token_from(transport)
    client = signed_in(client, services)
    page = client.get("/admin?address=ALICE@example.org")
    assert page.status_code == 200 and "alice@example.org" in page.text
    assert token not in page.text
    link_id = re.search(r'data-link="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    forged = client.post(f"/admin/requests/{link_id}/revoke", data={"csrf_token": "0" * 64})
    assert forged.status_code == 403 and services.tokens.find_live(token, "reset") is not None
    done = client.post(
        f"/admin/requests/{link_id}/revoke",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/admin?done=")
    assert services.tokens.find_live(token, "reset") is None
    assert any(r.message == f"link_revoked by=id-admin item={link_id}" for r in caplog.records)
    assert "No live links" in client.get("/admin").text


def test_send_a_new_reset_link_from_the_accounts_page(
    console: tuple[TestClient, Services], transport: MemoryTransport
) -> None:
    client, services = signed_in(*console), console[1]
    page = client.get("/admin/accounts?q=alice@example.org")
    assert "id-alice" in page.text
    answer = client.post(
        "/admin/accounts/reset-link",
        data={"account_id": "id-alice", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and "done=" in answer.headers["location"]
    services.worker.run_once()
    assert transport.sent[-1].to == "alice@example.org"
    assert "No enabled account" in client.get("/admin/accounts?q=nobody").text


def test_invite_from_the_console(
    console: tuple[TestClient, Services], transport: MemoryTransport
) -> None:
    client, services = signed_in(*console), console[1]
    page = client.get("/admin/invitations")
    assert 'value="/staff/support"' in page.text
    assert 'value="/customers" checked' in page.text  # KCPR_SIGNUP_DEFAULT_GROUPS
    form = {
        "email": "ines@example.org",
        "first_name": "Ines",
        "groups": ["/staff", "/customers"],
        "locale": "fr",
        "valid_days": "3",
        "csrf_token": csrf_of(page.text),
    }
    answer = client.post("/admin/invitations", data=form, follow_redirects=False)
    assert answer.status_code == 303 and "done=" in answer.headers["location"]
    services.worker.run_once()
    assert transport.sent[-1].to == "ines@example.org"
    listed = client.get("/admin/invitations").text
    assert "ines@example.org" in listed and "pending" in listed and "/staff, /customers" in listed
    exists = client.post(
        "/admin/invitations", data={**form, "email": "alice@example.org"}, follow_redirects=False
    )
    assert "problem=" in exists.headers["location"]


def test_outbox_retry_and_discard_from_the_console(console: tuple[TestClient, Services]) -> None:
    client = signed_in(*console)
    client.post("/api/v1/password-resets", json={"identifier": "alice"})
    page = client.get("/admin/outbox")
    job = re.search(r'data-job="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    csrf = csrf_of(page.text)
    assert client.post(f"/admin/outbox/{job}/retry", data={"csrf_token": csrf}).status_code == 200
    client.post(f"/admin/outbox/{job}/discard", data={"csrf_token": csrf})
    assert "Nothing waits" in client.get("/admin/outbox").text


def test_previews_every_kind_and_send_a_test(
    console: tuple[TestClient, Services], transport: MemoryTransport
) -> None:
    client = signed_in(*console)
    page = client.get("/admin/emails?kind=invite&locale=de")
    assert page.status_code == 200 and "Sie wurden eingeladen" in page.text
    assert "help@example.org" in page.text  # the sender it would use
    for kind in ("reset", "password-changed", "signup", "account-exists", "no-account", "invite"):
        assert f"kind={kind}&amp;locale=en" in page.text
    html = client.get("/admin/emails/html?kind=reset&locale=en")
    assert "frame-ancestors 'self'" in html.headers["content-security-policy"]
    assert "<html" in html.text
    sent = client.post(
        "/admin/emails/test",
        data={
            "kind": "invite",
            "locale": "de",
            "to": "me@example.org",
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert "done=" in sent.headers["location"] and transport.sent[-1].to == "me@example.org"


def test_settings_mask_every_secret(console: tuple[TestClient, Services]) -> None:
    client = signed_in(*console)
    page = client.get("/admin/settings").text
    assert "KCPR_REALM" in page and "KCPR_CONSOLE__CLIENT_SECRET" in page
    for secret in ("s3cret", "console-secret", "k" * 40):
        assert secret not in page
    assert "(set, hidden)" in page


def test_a_callback_without_its_sign_in_state_is_refused(
    console: tuple[TestClient, Services],
) -> None:
    client, _ = console
    # No login cookie (a forged or replayed way back): Authlib's state check refuses it
    # before any code is exchanged, and no session is made.
    answer = client.get("/admin/callback?code=stolen&state=guessed")
    assert answer.status_code == 400 and "Sign in again" in answer.text
    assert "set-cookie" not in answer.headers or "kcpr_console=" not in answer.headers["set-cookie"]


def test_sign_out_needs_the_form_token(console: tuple[TestClient, Services]) -> None:
    client = signed_in(*console)
    forged = client.post("/admin/logout", data={"csrf_token": "0" * 64}, follow_redirects=False)
    assert forged.status_code == 303 and forged.headers["location"] == "/admin"
    assert "Sign out" in client.get("/admin").text  # still signed in


def test_an_expired_invitation_is_sent_again(
    console: tuple[TestClient, Services], transport: MemoryTransport, clock: FakeClock
) -> None:
    client, services = signed_in(*console), console[1]
    page = client.get("/admin/invitations")
    form = {"email": "late@example.org", "valid_days": "1", "csrf_token": csrf_of(page.text)}
    client.post("/admin/invitations", data=form)
    services.worker.run_once()
    clock.advance(days=2)
    page = client.get("/admin/invitations")
    assert "expired" in page.text
    item = re.search(r'data-invitation="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    again = client.post(
        f"/admin/invitations/{item}/again",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert "done=" in again.headers["location"]
    services.worker.run_once()
    assert [m.to for m in transport.sent] == ["late@example.org", "late@example.org"]
    states = re.findall(r"<td>(pending|expired)</td>", client.get("/admin/invitations").text)
    assert states == ["pending", "expired"]
