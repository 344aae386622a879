"""Hostile input in every field of every form and JSON endpoint, in process.

For each field and each payload (CR/LF, NUL, Unicode line separators, RFC 2047 encoded
words, 10 kB and 100 kB, confusables, bidi controls, HTML, lone surrogates):

- never a 5xx;
- every email that goes out, serialized for SMTP and parsed again as a receiving server
  would, has only the headers we write, each once, with the one intended recipient;
- what the request accepted, the worker can process (no crashed outbox job);
- no log line carries a line break out of the input (forged log lines);
- HTML is escaped in the pages (and, with a realm that allows ``<`` in names, in emails).

The realm here is the most permissive one (names may contain any character, usernames apart
from emails, one extra required attribute), so that input reaches as far as it can.
"""

from __future__ import annotations

import email.policy
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest

from keycloak_pwreset.gateway import ExtraAttribute, SignupRules
from tests.security.conftest import Site, reparsed
from tests.unit.fakes import SentMail

GOOD = "Better2password"
MARKER = "Bcc: evil@attacker.example"
HTML = '"><img src=x onerror=alert(1)>'
PAYLOADS: dict[str, str] = {
    "crlf": f"x\r\n{MARKER}",
    "lf": f"x\n{MARKER}",
    "nul": "x\x00y",
    "line_separator": f"x\u2028{MARKER}",
    "encoded_word": "=?UTF-8?Q?x=0D=0ABcc:_evil@attacker.example?=",
    "10kB": "a" * 10_000,
    "100kB": "a" * 100_000,
    "html": HTML,
    "cyrillic_a": "\u0430lice@example.org",
    "fullwidth_at": "alice\uff20example.org",
    "zero_width_joiner": "al\u200dice@example.org",
    "rtl_override": "\u202egro.elpmaxe@ecila",
}
# JSON can carry what a form cannot: a lone surrogate (not encodable as UTF-8).
JSON_PAYLOADS = {**PAYLOADS, "lone_surrogate": "x\ud800y"}
# Confusables matter only where a value names or shows someone; passwords, tokens and
# language tags get the rest.
IDENTITY_ONLY = {"lf", "cyrillic_a", "fullwidth_at", "zero_width_joiner", "rtl_override"}
NOT_IDENTITY = {
    "password",
    "password_confirmation",
    "both",
    "token",
    "locale",
}
RULES = SignupRules(
    email_as_username=False,
    names_check_characters=False,
    extra_attributes=(ExtraAttribute("department", "Department"),),
)
# Everything the service writes into a message's top level; anything else was injected.
HEADERS = {
    "subject",
    "from",
    "to",
    "reply-to",
    "date",
    "message-id",
    "auto-submitted",
    "content-language",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}

BUG_ENCODED_WORD = pytest.mark.regression
BUG_SMTPUTF8 = pytest.mark.regression
BUG_SURROGATE = pytest.mark.regression


@pytest.fixture
def hostile(shared_site: Site, caplog: pytest.LogCaptureFixture) -> Site:
    caplog.set_level(logging.INFO)
    return shared_site.fresh(RULES)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert match, html[:2000]
    return match.group(1)


def reset_token(site: Site) -> str:
    return site.services.tokens.issue(
        purpose="reset", ttl=timedelta(minutes=30), user_id="id-alice", email="alice@example.org"
    )


def signup_token(site: Site) -> str:
    return site.services.tokens.issue(
        purpose="signup",
        ttl=timedelta(minutes=30),
        email="nina@example.org",
        locale="en",
        data={
            "first_name": "Nina",
            "last_name": "New",
            "username": "nina_new",
            "attributes": {"department": "Sales"},
        },
    )


def open_form(site: Site, path: str) -> str:
    """The CSRF token of the form at ``path``; for a link's form, follow a live link first."""
    if path == "/reset-password":
        site.client.get(f"{path}?token={reset_token(site)}")
    elif path == "/signup/complete":
        site.client.get(f"{path}?token={signup_token(site)}")
    page = site.client.get(path)
    assert page.status_code == 200, page.text[:2000]
    return csrf_of(page.text)


# "website" is the request forms' honeypot: a person leaves it empty, as here; filled (with
# any payload) the request must be dropped without an email.
FORMS: dict[str, dict[str, str]] = {
    "/forgot-password": {"identifier": "alice", "locale": "en", "website": ""},
    "/signup": {
        "first_name": "Nina",
        "last_name": "New",
        "email": "nina@example.org",
        "username": "nina_new",
        "attr_department": "Sales",
        "locale": "en",
        "website": "",
    },
    "/reset-password": {"password": GOOD, "password_confirmation": GOOD},
    "/signup/complete": {"password": GOOD, "password_confirmation": GOOD, "username": "nina_n"},
}
PASSWORD_FIELDS = ("password", "password_confirmation")


def with_payload(base: dict[str, Any], field: str, payload: str) -> dict[str, Any]:
    """``base`` with ``payload`` in ``field``; "both" fills password and confirmation alike
    (so that the value reaches Keycloak), "attribute_name" uses it as an attribute's name."""
    values = {**base}
    if field == "both":
        values.update(dict.fromkeys(PASSWORD_FIELDS, payload))
    elif field == "attribute_name":
        values["attributes"] = {**values["attributes"], payload: "x"}
    elif field == "attribute_value":
        values["attributes"] = {**values["attributes"], "department": payload}
    else:
        values[field] = payload
    return values


def params(
    fields: list[tuple[str, str]], payloads: dict[str, str], bugs: dict[tuple[str, str, str], Any]
) -> list[Any]:
    return [
        pytest.param(
            path,
            field,
            name,
            id=f"{path}-{field}-{name}",
            marks=bugs.get((path, field, name), ()),
        )
        for path, field in fields
        for name in payloads
        if field not in NOT_IDENTITY or name not in IDENTITY_ONLY
    ]


FORM_FIELDS = [
    *((path, field) for path, base in FORMS.items() for field in base),
    ("/reset-password", "both"),
    ("/signup/complete", "both"),
]
FORM_BUGS = {
    ("/signup", "email", "cyrillic_a"): BUG_SMTPUTF8,
    ("/signup", "first_name", "encoded_word"): BUG_ENCODED_WORD,
    ("/signup", "last_name", "encoded_word"): BUG_ENCODED_WORD,
}


def check_aftermath(
    site: Site,
    response: httpx.Response,
    payload: str,
    caplog: pytest.LogCaptureFixture,
    *,
    secret: bool,
) -> None:
    assert response.status_code < 500, response.text[:500]
    assert "bcc" not in {name.lower() for name in response.headers}
    if response.headers.get("content-type", "").startswith("text/html"):
        assert "<img src=x" not in response.text  # the HTML payload, if shown, is escaped
    site.run_worker()
    assert site.services.outbox.pending_count() == 0, "a job the request accepted crashed"
    for sent in site.transport.sent:
        check_headers(sent)
        if secret:  # a password never travels in an email
            assert payload not in sent.message.as_string()
    for record in caplog.records:
        message = record.getMessage()
        for breaker in ("\r", "\n", "\x85", "\u2028"):
            assert breaker + MARKER not in message, f"forged log line: {message!r}"
        if secret and len(payload) > 3:
            assert payload not in message


def check_headers(sent: SentMail) -> None:
    wire = sent.message.as_bytes(policy=email.policy.SMTP)
    head = wire.split(b"\r\n\r\n", 1)[0]
    bare = head.replace(b"\r\n", b"")
    assert b"\r" not in bare and b"\n" not in bare and b"\0" not in head, head
    parsed = reparsed(sent.message)
    names = [name.lower() for name in parsed]
    assert set(names) <= HEADERS, f"injected header(s): {set(names) - HEADERS}\n{head!r}"
    assert len(names) == len(set(names)), f"a header twice: {names}"
    recipients = [address.addr_spec for address in parsed["To"].addresses]
    assert recipients == [sent.to], (recipients, sent.to)
    for name in parsed:
        assert not re.search(r"[\r\n\0]", str(parsed[name])), (name, str(parsed[name]))


@pytest.mark.parametrize(
    ("path", "field", "payload_name"), params(FORM_FIELDS, PAYLOADS, FORM_BUGS)
)
def test_hostile_form_input(
    hostile: Site, caplog: pytest.LogCaptureFixture, path: str, field: str, payload_name: str
) -> None:
    payload = PAYLOADS[payload_name]
    csrf = open_form(hostile, path)
    data = with_payload(FORMS[path], field, payload)
    response = hostile.client.post(path, data={**data, "csrf_token": csrf}, follow_redirects=False)
    secret = field in (*PASSWORD_FIELDS, "both")
    check_aftermath(hostile, response, payload, caplog, secret=secret)
    if field == "website":
        assert hostile.transport.sent == [], "a filled honeypot still sent an email"


API: dict[str, dict[str, Any]] = {
    "/api/v1/password-resets": {"identifier": "alice", "locale": "en"},
    "/api/v1/password-resets/complete": {
        "token": "",
        "password": GOOD,
        "password_confirmation": GOOD,
    },
    "/api/v1/signups": {
        "email": "nina@example.org",
        "first_name": "Nina",
        "last_name": "New",
        "username": "nina_new",
        "attributes": {"department": "Sales"},
        "locale": "en",
    },
    "/api/v1/signups/complete": {
        "token": "",
        "password": GOOD,
        "password_confirmation": GOOD,
        "username": "nina_n",
    },
}
API_FIELDS = [
    *((path, field) for path, base in API.items() for field in base if field != "attributes"),
    ("/api/v1/password-resets/complete", "both"),
    ("/api/v1/signups/complete", "both"),
    ("/api/v1/signups", "attribute_name"),
    ("/api/v1/signups", "attribute_value"),
]
API_BUGS = {
    ("/api/v1/signups", "email", "cyrillic_a"): BUG_SMTPUTF8,
    ("/api/v1/signups", "first_name", "encoded_word"): BUG_ENCODED_WORD,
    ("/api/v1/signups", "last_name", "encoded_word"): BUG_ENCODED_WORD,
    ("/api/v1/signups", "first_name", "lone_surrogate"): BUG_SURROGATE,
    ("/api/v1/signups", "last_name", "lone_surrogate"): BUG_SURROGATE,
}


@pytest.mark.parametrize(
    ("path", "field", "payload_name"), params(API_FIELDS, JSON_PAYLOADS, API_BUGS)
)
def test_hostile_api_input(
    hostile: Site, caplog: pytest.LogCaptureFixture, path: str, field: str, payload_name: str
) -> None:
    payload = JSON_PAYLOADS[payload_name]
    body = {**API[path]}
    if path == "/api/v1/password-resets/complete":
        body["token"] = reset_token(hostile)
    elif path == "/api/v1/signups/complete":
        body["token"] = signup_token(hostile)
    body = with_payload(body, field, payload)
    # json.dumps escapes what is not ASCII, so a lone surrogate travels as \\ud800.
    response = hostile.client.post(
        path, content=json.dumps(body), headers={"content-type": "application/json"}
    )
    if response.status_code != 413:
        assert response.json()["result"]  # the API's own terms, whatever the input
    secret = field in (*PASSWORD_FIELDS, "both", "token")
    check_aftermath(hostile, response, payload, caplog, secret=secret)


BUG_TOKEN_COOKIE = pytest.mark.regression


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("x%0D%0ASet-Cookie:%20evil=1", id="crlf"),
        pytest.param("x%3B%20Domain%3Devil.example%3B%20Path%3D%2F", id="cookie_attributes"),
        pytest.param("x%00y", id="nul"),
        pytest.param("a" * 10_000, id="10kB"),
        pytest.param("%C3%A9", id="latin1"),
        pytest.param("%C4%81", id="beyond_latin1", marks=BUG_TOKEN_COOKIE),
        pytest.param("%F0%9F%94%91", id="emoji", marks=BUG_TOKEN_COOKIE),
        pytest.param("%E9", id="not_utf8", marks=BUG_TOKEN_COOKIE),
    ],
)
@pytest.mark.parametrize("path", ["/reset-password", "/signup/complete"])
def test_hostile_link_token(site: Site, path: str, query: str) -> None:
    moved = site.client.get(f"{path}?token={query}", follow_redirects=False)
    assert moved.status_code < 500
    for header in moved.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        # The public URL is https: __Host- cookies, which must have Path=/ and no Domain.
        assert list(cookie) in (["__Host-kcpr_reset"], ["__Host-kcpr_signup"]), header
        assert all(not morsel["domain"] for morsel in cookie.values()), header
        assert all(morsel["path"] == "/" and morsel["secure"] for morsel in cookie.values())
    page = site.client.get(path)
    assert page.status_code == 400 and 'data-result="recovery_token_expired"' in page.text


# --- HTML in names: escaped in pages and in emails ---------------------------------------

NAME = "<b>Nina</b> <script>alert(1)</script>"


def assert_escaped(html: str, raw: str = "<script>alert(1)</script>") -> None:
    assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def html_and_text(sent: SentMail) -> tuple[str, str]:
    html = sent.message.get_body(("html",))
    text = sent.message.get_body(("plain",))
    assert html is not None and text is not None
    return html.get_content(), text.get_content()


def test_html_in_sign_up_names_is_escaped_in_pages_and_emails(site: Site) -> None:
    site.keycloak.rules = SignupRules(names_check_characters=False)
    csrf = csrf_of(site.client.get("/signup").text)
    # Re-shown form (an invalid email): the names come back as escaped values.
    again = site.client.post(
        "/signup",
        data={"first_name": NAME, "last_name": HTML, "email": "nope", "csrf_token": csrf},
    )
    assert 'data-result="invalid_email"' in again.text
    assert_escaped(again.text)
    assert "<img src=x" not in again.text
    sent = site.client.post(
        "/signup",
        data={
            "first_name": NAME,
            "last_name": HTML,
            "email": "nina@example.org",
            "csrf_token": csrf,
        },
    )
    assert sent.status_code == 200
    site.run_worker()
    (mail,) = site.transport.sent
    html, text = html_and_text(mail)
    # Typed names reach no inbox before the address is proven: neither raw nor escaped.
    for typed in ("Nina", "img src", "alert(1)"):
        assert typed not in html and typed not in text
    check_headers(mail)
    assert str(reparsed(mail.message)["To"].addresses[0].display_name) == ""
    link = re.search(r"/signup/complete\?token=([\w-]+)", text)
    assert link
    site.client.get(f"/signup/complete?token={link.group(1)}")
    welcome = site.client.get("/signup/complete")
    assert welcome.status_code == 200
    assert_escaped(welcome.text)


def test_html_in_names_of_an_existing_account_is_escaped_in_emails(site: Site) -> None:
    """The account-exists email (names from the form), then reset and password-changed
    (names from Keycloak, where the person may have set them)."""
    site.keycloak.rules = SignupRules(names_check_characters=False)
    alice = site.keycloak.users["id-alice"]
    site.keycloak.users["id-alice"] = replace(alice, first_name=NAME, last_name=HTML)
    csrf = csrf_of(site.client.get("/signup").text)
    site.client.post(
        "/signup",
        data={
            "first_name": NAME,
            "last_name": HTML,
            "email": "alice@example.org",
            "csrf_token": csrf,
        },
    )
    site.client.post("/forgot-password", data={"identifier": "alice", "csrf_token": csrf})
    site.run_worker()
    exists, reset = site.transport.sent
    token = re.search(r"/reset-password\?token=([\w-]+)", html_and_text(reset)[1])
    assert token
    site.client.get(f"/reset-password?token={token.group(1)}")
    csrf = csrf_of(site.client.get("/reset-password").text)
    done = site.client.post(
        "/reset-password",
        data={"password": GOOD, "password_confirmation": GOOD, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 200
    site.run_worker()
    changed = site.transport.sent[-1]
    assert len(site.transport.sent) == 3
    for mail in (exists, reset, changed):
        assert mail.to == "alice@example.org"
        assert_escaped(html_and_text(mail)[0])
        assert "<img src=x" not in html_and_text(mail)[0]
        check_headers(mail)


@BUG_ENCODED_WORD
def test_names_from_keycloak_cannot_inject_headers(site: Site) -> None:
    """The reset email's To name comes from the account, which its owner may edit."""
    alice = site.keycloak.users["id-alice"]
    site.keycloak.users["id-alice"] = replace(alice, first_name=PAYLOADS["encoded_word"])
    csrf = csrf_of(site.client.get("/forgot-password").text)
    site.client.post("/forgot-password", data={"identifier": "alice", "csrf_token": csrf})
    site.run_worker()
    (mail,) = site.transport.sent
    check_headers(mail)


# --- Confusables never reach the account they resemble ------------------------------------

CONFUSABLES = {
    "cyrillic_a": "\u0430lice@example.org",
    "cyrillic_a_in_domain": "alice@ex\u0430mple.org",
    "fullwidth_at": "alice\uff20example.org",
    "fullwidth_a": "\uff41lice@example.org",
    "zero_width_joiner": "al\u200dice@example.org",
    "zero_width_space": "alice@example.org\u200b",
    "rtl_override": "\u202ealice@example.org",
    "cyrillic_username": "\u0430lice",
    "dotless_i_username": "al\u0131ce",
}


def ask_everywhere(site: Site, identifier: str) -> None:
    client = site.client
    csrf = csrf_of(client.get("/forgot-password").text)
    for response in (
        client.post("/forgot-password", data={"identifier": identifier, "csrf_token": csrf}),
        client.post("/api/v1/password-resets", json={"identifier": identifier}),
        client.post(
            "/signup",
            data={"first_name": "A", "last_name": "B", "email": identifier, "csrf_token": csrf},
        ),
        client.post(
            "/api/v1/signups", json={"first_name": "A", "last_name": "B", "email": identifier}
        ),
    ):
        assert response.status_code < 500


@pytest.mark.parametrize("identifier", CONFUSABLES.values(), ids=CONFUSABLES.keys())
def test_a_confusable_never_reaches_the_account_it_resembles(site: Site, identifier: str) -> None:
    ask_everywhere(site, identifier)
    site.run_worker()
    for mail in site.transport.sent:
        assert mail.to != "alice@example.org"
        subject = str(mail.message["Subject"])
        assert "Confirm your email" in subject, f"not a sign-up email to {mail.to!r}: {subject}"
        check_headers(mail)


def test_the_control_reaches_the_account(site: Site) -> None:
    """The same requests with the real address do reach alice: the check above can fail."""
    ask_everywhere(site, "alice@example.org")
    site.run_worker()
    # Two reset emails and the account-exists ones (as many as the per-account email cap lets
    # through).
    assert len(site.transport.sent) >= 2
    assert {m.to for m in site.transport.sent} == {"alice@example.org"}


# --- Bodies over the cap ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/password-resets", "/forgot-password"])
def test_a_chunked_body_over_the_cap_is_refused(site: Site, path: str) -> None:
    if path.startswith("/api/"):
        body = b'{"identifier": "' + b"a" * 200_000 + b'"}'
        kind = "application/json"
    else:
        body = b"identifier=" + b"a" * 200_000
        kind = "application/x-www-form-urlencoded"

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    response = site.client.post(path, content=chunks(), headers={"content-type": kind})
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413
