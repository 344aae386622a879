"""No open redirect, no link poisoning, no reflected language tag; in process.

- Forged Host, X-Forwarded-Host, Forwarded and X-Forwarded-Proto never change a link in an
  email, a form's action, a Location header or a cookie's scope: every link is built from
  KCPR_PUBLIC_URL, every redirect goes to a path of ours or to the configured login URL.
- ``return_to`` is followed only when it is the realm's own
  ``/login-actions/restart`` on Keycloak's origin; any other shape is ignored.
- ``kc_locale`` / ``ui_locales`` / ``Accept-Language`` / the language cookie with junk pick no
  language and are never reflected unescaped.
"""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from urllib.parse import quote, urlsplit

import httpx
import pytest

from tests.helpers import way_back
from tests.security.conftest import KEYCLOAK_URL, RESTART_PATH, Site
from tests.unit.conftest import PUBLIC_URL

GOOD = "Better2password"
ACCOUNT = f"{KEYCLOAK_URL}/realms/demo/account"
AFTER_RESET = f"{ACCOUNT}?kcpr_status=password_changed"
AFTER_SIGNUP = f"{ACCOUNT}?kcpr_status=account_created&login_hint=nina%40example.org"
RESTART = f"{RESTART_PATH}?client_id=app&tab_id=abc&client_data=xyz"

FORGED = {
    "host": {"Host": "evil.example"},
    "x_forwarded_host": {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"},
    "forwarded": {"Forwarded": 'for=1.2.3.4;host="evil.example";proto=http'},
    "x_forwarded_proto_http": {"X-Forwarded-Proto": "http", "X-Forwarded-Port": "8080"},
    "all_at_once": {
        "Host": "evil.example:8443",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Prefix": "/evil",
        "X-Original-URL": "//evil.example/",
        "Forwarded": "host=evil.example;proto=http",
    },
}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert match, html[:2000]
    return match.group(1)


def check_page(page: httpx.Response) -> None:
    """Nothing of the forged request in the page; actions and links are our own paths."""
    assert "evil" not in page.text
    for target in re.findall(r'(?:action|href|src)="([^"]*)"', page.text):
        assert target.startswith(("/", "?", "data:")) and not target.startswith("//"), target
    check_cookies(page)


def check_cookies(response: httpx.Response) -> None:
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        for morsel in cookie.values():
            assert not morsel["domain"], header
            assert "evil" not in morsel["path"], header
            if morsel["max-age"] != "0":  # a deletion carries no value to protect
                secure = morsel["secure"]
                assert secure, f"the public URL is https, X-Forwarded-Proto is not: {header}"


def check_location(response: httpx.Response, expected: str) -> None:
    assert response.status_code == 303, response.text[:500]
    assert response.headers.get_list("location") == [expected]
    assert "evil" not in response.headers["location"]
    check_cookies(response)


def links_in_mail(site: Site) -> list[str]:
    links = []
    for sent in site.transport.sent:
        whole = sent.message.as_string()
        assert "evil" not in whole
        for part in ("plain", "html"):
            body = sent.message.get_body((part,))
            assert body is not None
            links += re.findall(r"https?://[^\s\"'<>]+", body.get_content())
    assert links
    for link in links:
        assert link.startswith(PUBLIC_URL + "/"), link
    return links


def token_link(site: Site, path: str) -> str:
    found = [
        link
        for link in links_in_mail(site)
        if link.startswith(f"{PUBLIC_URL}{path}?token=") and "&" not in link
    ]
    assert found
    return found[-1].removeprefix(PUBLIC_URL)


def reset_flow(site: Site, headers: dict[str, str], query: str = "") -> str:
    """Ask, open the emailed link, set the password; the final redirect's target."""
    client = site.client
    page = client.get(f"/forgot-password{query}", headers=headers)
    assert page.status_code == 200
    check_page(page)
    sent = client.post(
        "/forgot-password",
        data={"identifier": "alice", "csrf_token": csrf_of(page.text)},
        headers=headers,
    )
    check_page(sent)
    site.run_worker()
    moved = client.get(token_link(site, "/reset-password"), headers=headers, follow_redirects=False)
    check_location(moved, "/reset-password")
    form = client.get("/reset-password", headers=headers)
    assert form.status_code == 200
    check_page(form)
    done = client.post(
        "/reset-password",
        data={"password": GOOD, "password_confirmation": GOOD, "csrf_token": csrf_of(form.text)},
        headers=headers,
        follow_redirects=False,
    )
    back = way_back(done)
    check_cookies(done)
    site.run_worker()  # the "password changed" email: its link too
    links_in_mail(site)
    return back


def signup_flow(site: Site, headers: dict[str, str], query: str = "") -> str:
    client = site.client
    page = client.get(f"/signup{query}", headers=headers)
    assert page.status_code == 200
    check_page(page)
    person = {"first_name": "Nina", "last_name": "New", "email": "nina@example.org"}
    sent = client.post(
        "/signup", data={**person, "csrf_token": csrf_of(page.text)}, headers=headers
    )
    check_page(sent)
    site.run_worker()
    moved = client.get(
        token_link(site, "/signup/complete"), headers=headers, follow_redirects=False
    )
    check_location(moved, "/signup/complete")
    form = client.get("/signup/complete", headers=headers)
    assert form.status_code == 200
    check_page(form)
    done = client.post(
        "/signup/complete",
        data={"password": GOOD, "password_confirmation": GOOD, "csrf_token": csrf_of(form.text)},
        headers=headers,
        follow_redirects=False,
    )
    back = way_back(done)
    check_cookies(done)
    return back


@pytest.mark.parametrize("headers", FORGED.values(), ids=FORGED.keys())
def test_forged_host_headers_change_no_link_in_the_reset_flow(
    site: Site, headers: dict[str, str]
) -> None:
    assert reset_flow(site, headers) == AFTER_RESET


@pytest.mark.parametrize("headers", FORGED.values(), ids=FORGED.keys())
def test_forged_host_headers_change_no_link_in_the_signup_flow(
    site: Site, headers: dict[str, str]
) -> None:
    assert signup_flow(site, headers) == AFTER_SIGNUP


def test_forged_host_headers_change_nothing_in_the_api(site: Site) -> None:
    headers = FORGED["all_at_once"]
    client = site.client
    person = {"first_name": "Nina", "last_name": "New", "email": "nina@example.org"}
    reset = client.post("/api/v1/password-resets", json={"identifier": "alice"}, headers=headers)
    signup = client.post("/api/v1/signups", json=person, headers=headers)
    assert reset.status_code == signup.status_code == 202
    site.run_worker()
    assert len(site.transport.sent) == 2
    links_in_mail(site)


# --- return_to ----------------------------------------------------------------------

IGNORED = {
    "other_origin": "https://evil.example" + RESTART,
    "scheme_relative": "//evil.example" + RESTART,
    "triple_slash": "///evil.example" + RESTART,
    "backslash": "/\\evil.example" + RESTART,
    "double_backslash": "\\\\evil.example" + RESTART,
    "backslash_after_scheme": "http:\\\\evil.example" + RESTART,
    "scheme_without_slashes": "http:evil.example" + RESTART,
    "scheme_and_path_only": "http:" + RESTART,
    "userinfo": "http://keycloak.test@evil.example" + RESTART,
    "userinfo_with_port": "http://keycloak.test:80@evil.example" + RESTART,
    "backslash_userinfo": "http://evil.example\\@keycloak.test" + RESTART,
    "fragment_userinfo": "http://evil.example#@keycloak.test" + RESTART,
    "suffix_domain": "http://keycloak.test.evil.example" + RESTART,
    "other_scheme_same_host": "https://keycloak.test" + RESTART,
    "javascript": "javascript:alert(document.domain)//" + RESTART,
    "data": "data:text/html,<script>alert(1)</script>",
    "leading_space": " //evil.example" + RESTART,
    "leading_tab": "\t//evil.example" + RESTART,
    "other_realm": "/realms/other/login-actions/restart?client_id=app",
    "other_endpoint": "/realms/demo/account",
    "dot_segments": RESTART_PATH + "/../../../../evil",
    "encoded_dot_segments": RESTART_PATH + "%2F..%2F..%2Fevil",
    "fragment": RESTART + "#@evil.example",
    "raw_crlf": RESTART + "\r\nLocation: https://evil.example/",
    "raw_nul": RESTART + "\x00https://evil.example/",
    "very_long": RESTART + "&pad=" + "a" * 5000,
    "very_long_evil": "https://evil.example/" + "a" * 10_000,
    "fullwidth_slashes": "\uff0f\uff0fevil.example" + RESTART,
}


@pytest.mark.parametrize("return_to", IGNORED.values(), ids=IGNORED.keys())
def test_return_to_anything_else_is_ignored(site: Site, return_to: str) -> None:
    query = f"?kc_locale=en&return_to={quote(return_to, safe='')}"
    assert reset_flow(site, {}, query) == AFTER_RESET


@pytest.mark.parametrize(
    "return_to", ["//evil.example" + RESTART, "http://keycloak.test@evil.example" + RESTART]
)
def test_return_to_is_ignored_by_the_signup_flow_too(site: Site, return_to: str) -> None:
    assert signup_flow(site, {}, f"?return_to={quote(return_to, safe='')}") == AFTER_SIGNUP


def test_return_to_cannot_be_set_by_cookie_from_elsewhere(site: Site) -> None:
    """The remembered way back is re-checked when used, not trusted from the cookie."""
    site.client.cookies.set("__Host-kcpr_return", "https://evil.example" + RESTART)
    assert reset_flow(site, {}) == AFTER_RESET


@pytest.mark.parametrize(
    "return_to",
    [RESTART, KEYCLOAK_URL + RESTART],
    ids=["path", "absolute"],
)
def test_the_realms_restart_url_is_followed(site: Site, return_to: str) -> None:
    """The control: a genuine way back works, so the ignored shapes above prove something."""
    query = f"?return_to={quote(return_to, safe='')}"
    assert reset_flow(site, {}, query) == KEYCLOAK_URL + RESTART


def test_encoded_crlf_in_the_restart_query_stays_encoded(site: Site) -> None:
    """%0d%0a inside the restart URL's own query is Keycloak's to read; it must reach the
    Location header still encoded (no header splitting), on Keycloak's origin."""
    return_to = RESTART + "&x=%0d%0aSet-Cookie:%20evil=1%0d%0aLocation:%20https://evil.example"
    location = reset_flow(site, {}, f"?return_to={quote(return_to, safe='')}")
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "keycloak.test", RESTART_PATH)
    assert not re.search(r"[\r\n\x00]", location)


@pytest.mark.parametrize("extra", ["%C4%81", "%E9", "%F0%9F%94%91"])
@pytest.mark.parametrize("page", ["/forgot-password", "/signup"])
def test_a_restart_url_with_non_latin1_query_is_not_a_500(
    site: Site, page: str, extra: str
) -> None:
    return_to = quote(RESTART + "&x=", safe="") + extra  # extra: once-encoded, as sent
    response = site.client.get(f"{page}?return_to={return_to}")
    assert response.status_code == 200


# --- Language tags ------------------------------------------------------------------

JUNK = {
    "script": "<script>alert(1)</script>",
    "attribute_breakout": '"><svg onload=alert(1)>',
    "tag_then_markup": 'de"><script>alert(1)</script>',
    "quote_only": "en'\"",
    "crlf": "de\r\nSet-Cookie: evil=1",
    "path": "../../../../etc/passwd",
    "accept_language_syntax": "de;q=1,<b>x</b>",
    "very_long": "de-" + "x" * 5000,
    "unicode": "d\u0435",  # Cyrillic e
    "rtl_override": "\u202eed",
}


LOCALE = "__Host-kcpr_locale"  # the public URL is https
OFFERED = {"en", "de", "fr", "es", "nl", "it", "pt-BR", "pl", "ja", "zh-CN"}


def check_no_reflection(page: httpx.Response, junk: str) -> None:
    """Junk is never echoed; at most a real tag inside it is taken ("de" of "de\r\n…")."""
    assert page.status_code == 200, page.text[:500]
    text = page.text
    for fragment in ("<script>alert(1)", "<svg", "onload=", "<b>x</b>", "etc/passwd", junk):
        if fragment.strip():
            assert fragment not in text, fragment
    lang = re.search(r'<html lang="([^"]*)" dir="(ltr|rtl)">', text)
    assert lang and lang.group(1) in OFFERED, text[:300]
    assert page.headers["content-language"] in OFFERED
    for header in page.headers.get_list("set-cookie"):
        assert "evil" not in header
        cookie = SimpleCookie()
        cookie.load(header)
        if LOCALE in cookie:
            assert cookie[LOCALE].value in OFFERED, header


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
@pytest.mark.parametrize("param", ["kc_locale", "ui_locales"])
@pytest.mark.parametrize("path", ["/forgot-password", "/signup", "/reset-password"])
def test_junk_language_in_the_url_is_never_reflected(
    site: Site, path: str, param: str, junk: str
) -> None:
    page = site.client.get(f"{path}?{param}={quote(junk, safe='')}")
    if path == "/reset-password":  # no link: the expired page, in the same language rules
        assert page.status_code == 400
        page = httpx.Response(200, headers=page.headers, text=page.text)
    check_no_reflection(page, junk)


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
def test_junk_language_elsewhere_is_never_reflected(site: Site, junk: str) -> None:
    client = site.client
    if "\r" not in junk and "\n" not in junk and junk.isascii():
        # Headers and cookies cannot carry CR/LF or non-ASCII text.
        check_no_reflection(client.get("/forgot-password", headers={"Accept-Language": junk}), junk)
        client.cookies.set(LOCALE, junk)
        check_no_reflection(client.get("/forgot-password"), junk)
        client.cookies.delete(LOCALE)
    page = client.get("/forgot-password")
    again = client.post(
        "/forgot-password",
        data={"identifier": "", "locale": junk, "csrf_token": csrf_of(page.text)},
    )
    check_no_reflection(again, junk)
    api = client.post("/api/v1/password-resets", json={"identifier": "alice", "locale": junk})
    assert api.status_code == 202
    site.run_worker()
    (mail,) = site.transport.sent
    assert mail.message["Content-Language"] in OFFERED


def test_a_genuine_language_is_taken(site: Site) -> None:
    """The control: kc_locale=de does switch the page, so the checks above can fail."""
    page = site.client.get("/forgot-password?kc_locale=de")
    assert '<html lang="de"' in page.text
    assert page.headers["content-language"] == "de"
