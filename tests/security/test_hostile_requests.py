"""Hostile values where test_injection.py does not put them: the CSRF field, every cookie and
the headers the service reads, on every form route; in process.

Whatever the value, the answer is a clear page (2xx, 3xx or 4xx), never a 500. A CSRF field
that is not a token is the normal "session expired" form (400), as a stale one is; this is
what Debian's wapiti found (a non-ASCII ``csrf_token`` made ``hmac.compare_digest`` raise).
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.security.conftest import Site

GOOD = "Better2password"
CSRF = "__Host-kcpr_csrf"  # the public URL is https: every cookie is a __Host- cookie
SESSION_EXPIRED = "Your session expired"

# What a form field can carry (the form is UTF-8 encoded by the client).
FIELD_PAYLOADS: dict[str, str] = {
    "scanner": "\u00bf'\"(",  # wapiti's probe, sent as %C2%BF%27%22%28
    "non_ascii_64": "\u00e9" * 64,
    "hex_then_non_ascii": "a" * 63 + "\u00e9",
    "emoji": "\U0001f511" * 16,
    "nul": "\x00" * 64,
    "control": "\x01\x7f\x1b[31m",
    "crlf": "x\r\nSet-Cookie: evil=1",
    "10kB": "a" * 10_000,
    "60kB": "f" * 60_000,
    "uppercase_hex": "A" * 64,
    "empty": "",
}
# What a header (a cookie, Accept-Language, Origin …) can carry: bytes, not text. A real
# server forbids CR, LF and NUL in headers, so those are left out.
HEADER_PAYLOADS: dict[str, bytes] = {
    "non_ascii_utf8": "\u00bf'\"(\u00e9".encode(),
    "emoji_utf8": "\U0001f511".encode(),
    "latin1_not_utf8": b"\xe9\xff",
    "control": b"\x01\x02\x7f\x1b[31m",
    "tab": b"a\tb",
    "quotes": b'"x"',
    "backslash": b"\\x\\",
    "equals": b"a=b=c",
    "semicolon": b"a; Path=/; Domain=evil.example",
    "comma": b"de, fr, x",
    "10kB": b"a" * 10_000,
    "token_shaped_wrong": b"A" * 43,
    "empty": b"",
}
COOKIES = ("kcpr_csrf", "kcpr_locale", "kcpr_return", "kcpr_reset", "kcpr_signup")
FORMS: dict[str, dict[str, str]] = {
    "/forgot-password": {"identifier": "alice"},
    "/signup": {"first_name": "Nina", "last_name": "New", "email": "nina@example.org"},
    "/reset-password": {"password": GOOD, "password_confirmation": GOOD},
    "/signup/complete": {"password": GOOD, "password_confirmation": GOOD},
}


def live_link(site: Site, path: str) -> None:
    """For a link's form, a live token in this browser's cookie (the others need none)."""
    tokens = site.services.tokens
    if path == "/reset-password":
        token = tokens.issue(
            purpose="reset",
            ttl=timedelta(minutes=30),
            user_id="id-alice",
            email="alice@example.org",
        )
    elif path == "/signup/complete":
        token = tokens.issue(
            purpose="signup",
            ttl=timedelta(minutes=30),
            email="nina@example.org",
            locale="en",
            data={"first_name": "Nina", "last_name": "New", "username": "", "attributes": {}},
        )
    else:
        return
    assert site.client.get(f"{path}?token={token}", follow_redirects=False).status_code == 303


def form_and_cookies(site: Site, path: str) -> tuple[str, dict[str, str]]:
    """The form's CSRF value and the browser's cookies, after opening the form."""
    live_link(site, path)
    page = site.client.get(path)
    assert page.status_code == 200, page.text[:500]
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return token, dict(site.client.cookies.items())


def cookie_header(cookies: dict[str, str], name: str, value: bytes) -> bytes:
    jar = {k: v.encode() for k, v in cookies.items() if k != name}
    jar[name] = value
    return b"; ".join(k.encode() + b"=" + v for k, v in jar.items())


def post(
    site: Site, path: str, fields: dict[str, str], headers: dict[str, bytes]
) -> httpx.Response:
    site.client.cookies.clear()  # the Cookie header below is the whole truth
    response: httpx.Response = site.client.post(
        path, data=fields, headers=headers, follow_redirects=False
    )
    return response


def clear(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400 and response.status_code != 413:
        assert response.headers["content-type"].startswith("text/html"), response.headers
        assert "data-result=" in response.text or SESSION_EXPIRED in response.text


# --- the CSRF field --------------------------------------------------------------------


@pytest.mark.parametrize("payload", FIELD_PAYLOADS.values(), ids=FIELD_PAYLOADS.keys())
@pytest.mark.parametrize("path", FORMS)
def test_any_csrf_field_is_the_session_expired_page(site: Site, path: str, payload: str) -> None:
    _, cookies = form_and_cookies(site, path)
    headers = {"cookie": cookie_header(cookies, CSRF, cookies[CSRF].encode())}
    changes = site.keycloak.password_changes
    response = post(site, path, {**FORMS[path], "csrf_token": payload}, headers)
    assert response.status_code == 400, response.text[:500]
    assert SESSION_EXPIRED in response.text
    assert site.services.outbox.pending_count() == 0
    assert site.keycloak.password_changes == changes and site.keycloak.created == []


@pytest.mark.parametrize("path", FORMS)
def test_a_csrf_field_given_twice_or_as_a_file_is_no_500(site: Site, path: str) -> None:
    token, cookies = form_and_cookies(site, path)
    headers = {"cookie": cookie_header(cookies, CSRF, cookies[CSRF].encode())}
    twice = site.client.post(
        path,
        content=f"csrf_token={token}&csrf_token=%C2%BF%27%22%28",
        headers={**headers, "content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    clear(twice)
    site.client.cookies.clear()
    as_file = site.client.post(
        path,
        data=FORMS[path],
        files={"csrf_token": ("x.txt", b"\xbf'\"(")},
        headers=headers,
        follow_redirects=False,
    )
    assert as_file.status_code == 400 and SESSION_EXPIRED in as_file.text


# --- every cookie ------------------------------------------------------------------------


@pytest.mark.parametrize("payload", HEADER_PAYLOADS.values(), ids=HEADER_PAYLOADS.keys())
@pytest.mark.parametrize("prefix", ["__Host-", ""], ids=["host_prefix", "no_prefix"])
@pytest.mark.parametrize("cookie", COOKIES)
@pytest.mark.parametrize("path", FORMS)
def test_any_cookie_value_gets_a_clear_page(
    site: Site, path: str, cookie: str, prefix: str, payload: bytes
) -> None:
    token, cookies = form_and_cookies(site, path)
    headers = {"cookie": cookie_header(cookies, prefix + cookie, payload)}
    site.client.cookies.clear()
    clear(site.client.get(path, headers=headers, follow_redirects=False))
    clear(site.client.get(f"{path}?kc_locale=de", headers=headers, follow_redirects=False))
    clear(post(site, path, {**FORMS[path], "csrf_token": token}, headers))
    site.run_worker()
    assert site.services.outbox.pending_count() == 0, "a job the request accepted crashed"


def test_the_cookie_tests_can_fail(site: Site) -> None:
    """The control: with its real cookies the reset form does change the password."""
    token, cookies = form_and_cookies(site, "/reset-password")
    headers = {"cookie": cookie_header(cookies, CSRF, cookies[CSRF].encode())}
    changes = site.keycloak.password_changes
    done = post(site, "/reset-password", {**FORMS["/reset-password"], "csrf_token": token}, headers)
    assert done.status_code == 200 and site.keycloak.password_changes == changes + 1


# --- headers the service reads -------------------------------------------------------------

HEADERS = ("accept-language", "origin", "sec-fetch-site", "x-forwarded-for", "referer")


@pytest.mark.parametrize("payload", HEADER_PAYLOADS.values(), ids=HEADER_PAYLOADS.keys())
@pytest.mark.parametrize("header", HEADERS)
@pytest.mark.parametrize("path", FORMS)
def test_any_header_value_gets_a_clear_page(
    site: Site, path: str, header: str, payload: bytes
) -> None:
    token, cookies = form_and_cookies(site, path)
    headers = {"cookie": cookie_header(cookies, CSRF, cookies[CSRF].encode()), header: payload}
    site.client.cookies.clear()
    clear(site.client.get(path, headers=headers, follow_redirects=False))
    clear(post(site, path, {**FORMS[path], "csrf_token": token}, headers))


CONTENT_TYPES = {
    "multipart_without_boundary": b"multipart/form-data",
    "multipart_junk_boundary": b"multipart/form-data; boundary=\xe9\xff",
    "unknown_charset": b"application/x-www-form-urlencoded; charset=x-unknown",
    "json": b"application/json",
    "text": b"text/plain",
    "non_ascii": "application/x-www-form-urlencoded; x=\u00e9".encode(),
}


@pytest.mark.parametrize("kind", CONTENT_TYPES.values(), ids=CONTENT_TYPES.keys())
@pytest.mark.parametrize("path", FORMS)
def test_any_content_type_gets_a_clear_answer(site: Site, path: str, kind: bytes) -> None:
    token, cookies = form_and_cookies(site, path)
    headers = {"cookie": cookie_header(cookies, CSRF, cookies[CSRF].encode()), "content-type": kind}
    site.client.cookies.clear()
    body = f"csrf_token={token}&identifier=alice&password={GOOD}".encode()
    response = site.client.post(path, content=body, headers=headers, follow_redirects=False)
    assert response.status_code < 500, response.text[:500]
