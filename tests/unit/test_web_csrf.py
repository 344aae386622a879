"""CSRF hardening: __Host- cookies over https, POSTs from other sites refused, link cookies
dropped when the flow ends or is abandoned, and a CSRF check no value can crash."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

import httpx
import pytest
from fastapi.testclient import TestClient

from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.web.app import create_app
from keycloak_pwreset.web.csrf import Csrf
from tests.unit.conftest import PUBLIC_URL, make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport
from tests.unit.test_flows_reset import GOOD, token_from
from tests.unit.test_flows_signup import link_in
from tests.unit.test_web_pages import csrf_of, open_link

PERSON = {"first_name": "Nina", "last_name": "New", "email": "nina@example.org"}


def set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    cookies = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        cookies.update({name: cookie for name in cookie})
    return cookies


# -- cookie names and scope ------------------------------------------------------------


def test_over_https_every_cookie_is_a_host_cookie(
    client: TestClient, services: Services, transport: MemoryTransport
) -> None:
    seen = set_cookies(
        client.get("/forgot-password?kc_locale=de&return_to=/realms/demo/login-actions/restart")
    )
    services.reset.request("alice")
    services.worker.run_once()
    moved = client.get(f"/reset-password?token={token_from(transport)}", follow_redirects=False)
    seen.update(set_cookies(moved))
    assert set(seen) == {
        "__Host-kcpr_csrf",
        "__Host-kcpr_locale",
        "__Host-kcpr_return",
        "__Host-kcpr_reset",
    }
    for name, cookie in seen.items():
        morsel = cookie[name]
        # What a browser demands of a __Host- cookie, or it drops it.
        assert morsel["secure"] and morsel["path"] == "/" and not morsel["domain"], name
        assert morsel["httponly"] and morsel["samesite"].lower() == "lax", name


def test_over_https_an_unprefixed_cookie_is_not_believed(
    client: TestClient, services: Services, transport: MemoryTransport
) -> None:
    """A sibling subdomain can toss a plain kcpr_reset cookie; only __Host- ones count."""
    services.reset.request("alice")
    services.worker.run_once()
    client.cookies.set("kcpr_reset", token_from(transport))
    assert client.get("/reset-password").status_code == 400  # the dead-link page


@pytest.fixture
def plain_http(
    keycloak: FakeKeycloak, transport: MemoryTransport, db: Database, clock: FakeClock
) -> tuple[TestClient, Services]:
    services = build_services(
        make_settings(public_url="http://127.0.0.1:8080/help"),
        gateway=keycloak,
        transport=transport,
        db=db,
        clock=clock,
    )
    return TestClient(create_app(services), base_url="http://127.0.0.1:8080"), services


def test_over_http_names_and_paths_stay_as_they_were(
    plain_http: tuple[TestClient, Services], transport: MemoryTransport
) -> None:
    client, services = plain_http
    page = set_cookies(client.get("/forgot-password?kc_locale=de"))
    assert {name: c[name]["path"] for name, c in page.items()} == {
        "kcpr_csrf": "/help",
        "kcpr_locale": "/help",
    }
    assert not page["kcpr_csrf"]["kcpr_csrf"]["secure"]
    services.reset.request("alice")
    services.worker.run_once()
    body = transport.sent[-1].message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    match = re.search(r"http://127\.0\.0\.1:8080/help/reset-password\?token=([\w-]+)", text)
    assert match, text
    token = match.group(1)
    moved = client.get(f"/reset-password?token={token}", follow_redirects=False)
    assert set_cookies(moved)["kcpr_reset"]["kcpr_reset"]["path"] == "/help/reset-password"


# -- POSTs from other sites ------------------------------------------------------------

CROSS_SITE = [
    {"Origin": "https://evil.example"},
    {"Origin": "http://help.example.org"},  # same host, other scheme: another origin
    {"Origin": "https://help.example.org.evil.example"},
    {"Origin": "https://help.example.org:8443"},
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # a sandboxed frame elsewhere
    {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is another origin too
    {"Origin": "https://[::1"},  # junk: not our origin either
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": PUBLIC_URL, "Sec-Fetch-Site": "cross-site"},
]
SAME_SITE = [
    {},  # old browsers and non-browser clients send no Origin
    {"Origin": PUBLIC_URL},
    {"Origin": "https://HELP.example.org:443"},
    {"Origin": PUBLIC_URL, "Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "none"},  # typed into the address bar
    # What a browser sends with our own forms: they are served with Referrer-Policy:
    # no-referrer, under which a POST's Origin is "null" (the Fetch standard).
    {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    {"Origin": "null"},
]


@pytest.mark.parametrize("headers", CROSS_SITE, ids=[str(h) for h in CROSS_SITE])
def test_a_form_post_from_another_site_is_refused(
    client: TestClient, services: Services, headers: dict[str, str]
) -> None:
    csrf = csrf_of(client.get("/forgot-password").text)  # even with a valid token
    refused = client.post(
        "/forgot-password", data={"identifier": "alice", "csrf_token": csrf}, headers=headers
    )
    assert refused.status_code == 400
    assert "Your session expired" in refused.text
    signup = client.post("/signup", data={**PERSON, "csrf_token": csrf}, headers=headers)
    assert signup.status_code == 400
    assert services.outbox.pending_count() == 0


@pytest.mark.parametrize("headers", SAME_SITE, ids=[str(h) for h in SAME_SITE])
def test_a_form_post_from_this_site_or_without_origin_is_accepted(
    client: TestClient, services: Services, headers: dict[str, str]
) -> None:
    csrf = csrf_of(client.get("/forgot-password").text)
    sent = client.post(
        "/forgot-password", data={"identifier": "alice", "csrf_token": csrf}, headers=headers
    )
    assert sent.status_code == 200 and "Check your inbox" in sent.text
    assert services.outbox.pending_count() == 1


def test_the_link_forms_refuse_other_sites_too(
    client: TestClient, services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    services.reset.request("alice")
    services.worker.run_once()
    csrf = open_link(client, token_from(transport))
    refused = client.post(
        "/reset-password",
        data={"password": GOOD, "password_confirmation": GOOD, "csrf_token": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert refused.status_code == 400
    assert keycloak.password_changes == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/password-resets", {"identifier": "alice"}),
        ("/api/v1/password-resets/complete", {"token": "x", "password": GOOD}),
        ("/api/v1/signups", PERSON),
        ("/api/v1/signups/complete", {"token": "x", "password": GOOD}),
    ],
)
def test_an_api_post_from_another_site_is_refused(
    client: TestClient, services: Services, path: str, body: dict[str, str]
) -> None:
    refused = client.post(path, json=body, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 400
    assert refused.json()["result"] == "cross_site_request"
    assert services.outbox.pending_count() == 0
    allowed = client.post(path, json=body, headers={"Origin": PUBLIC_URL})
    assert allowed.status_code != 400 or allowed.json()["result"] != "cross_site_request"


# -- the link cookie ends with the flow ------------------------------------------------


def deleted(response: httpx.Response, name: str) -> bool:
    cookie = set_cookies(response).get(name)
    return cookie is not None and cookie[name]["max-age"] == "0"


def test_the_reset_link_cookie_is_dropped_on_success(
    client: TestClient, services: Services, transport: MemoryTransport
) -> None:
    services.reset.request("alice")
    services.worker.run_once()
    csrf = open_link(client, token_from(transport))
    done = client.post(
        "/reset-password",
        data={"password": GOOD, "password_confirmation": GOOD, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 200 and deleted(done, "__Host-kcpr_reset")
    assert "__Host-kcpr_reset" not in client.cookies


def test_asking_again_abandons_the_reset_link(
    client: TestClient, services: Services, transport: MemoryTransport
) -> None:
    services.reset.request("alice")
    services.worker.run_once()
    token = token_from(transport)
    open_link(client, token)
    page = client.get("/forgot-password")
    assert deleted(page, "__Host-kcpr_reset")
    assert client.get("/reset-password").status_code == 400  # the form is gone
    assert services.reset.check(token) is not None  # the link itself still works
    assert not deleted(client.get("/forgot-password"), "__Host-kcpr_reset")  # nothing held


def test_the_signup_link_cookie_is_dropped_on_success_and_when_abandoned(
    client: TestClient, services: Services, transport: MemoryTransport
) -> None:
    def open_signup_link() -> str:
        csrf = csrf_of(client.get("/signup").text)
        client.post("/signup", data={**PERSON, "csrf_token": csrf})
        services.worker.run_once()
        client.get(f"/signup/complete?token={link_in(transport, '/signup/complete')}")
        return csrf_of(client.get("/signup/complete").text)

    open_signup_link()
    page = client.get("/signup")
    assert page.status_code == 200 and deleted(page, "__Host-kcpr_signup")
    assert client.get("/signup/complete").status_code == 400
    csrf = open_signup_link()
    done = client.post(
        "/signup/complete",
        data={"password": GOOD, "password_confirmation": GOOD, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 201 and deleted(done, "__Host-kcpr_signup")


# -- no value crashes the CSRF check (item 19) -----------------------------------------

HOSTILE = [
    "\u00bf'\"(",  # what the scanner sent: hmac.compare_digest refused it
    "é" * 64,
    "a" * 63 + "\u00e9",
    "\x00" * 64,
    "a" * 100_000,
    "\ud800",
    "",
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_verify_is_false_for_any_junk_never_an_error(value: str) -> None:
    csrf = Csrf("k" * 40)
    cookie = csrf.new_cookie_value()
    assert csrf.verify(cookie, value) is False
    assert csrf.verify(value, csrf.form_token(cookie)) is False
    assert csrf.verify(value, value) is False
    assert csrf.verify(cookie, csrf.form_token(cookie)) is True  # the control


@pytest.mark.parametrize("path", ["/forgot-password", "/signup"])
def test_a_non_ascii_csrf_field_is_the_session_expired_page(client: TestClient, path: str) -> None:
    client.get(path)
    response = client.post(path, data={**PERSON, "identifier": "alice", "csrf_token": "\u00bf'\"("})
    assert response.status_code == 400
    assert "Your session expired" in response.text
