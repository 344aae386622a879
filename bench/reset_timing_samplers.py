"""One timed sample of a reset request, per system: Keycloak's own form, the service's API
and its HTML form; and the bookkeeping of who was asked for (``Target``)."""

from __future__ import annotations

import html
import re
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from keycloak_pwreset_demo.smtp_sink import SmtpSink

LOOPBACK_PREFIX = "http://127.0.0.1:"
GET_TIMEOUT = 10.0
POST_TIMEOUT = 20.0  # Keycloak's own SMTP timeout is 10 s; its answer waits for the mail
KEYCLOAK_FROM = "kc@demo.example"
SERVICE_ENVELOPE_FROM = "bounces@demo.example"  # ServiceHandle's default envelope sender
KEYCLOAK_SENT_TEXT = "You should receive an email shortly"
KNOWN, UNKNOWN = "known", "unknown"
KINDS = (KNOWN, UNKNOWN)

KEYCLOAK = "keycloak"
SERVICE_API = "service-api"
SERVICE_FORM = "service-form"
LABELS = {
    KEYCLOAK: "Keycloak built-in (form POST)",
    SERVICE_API: "keycloak-pwreset (JSON API)",
    SERVICE_FORM: "keycloak-pwreset (HTML form)",
}
_FORM_ACTION = re.compile(r'<form\b[^>]*\baction="([^"]+)"', re.IGNORECASE)
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fresh_session() -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # no proxy from the environment: loopback only
    return http


def cookie_header(http: requests.Session) -> str:
    """The session's cookies as a browser would send them to 127.0.0.1.

    Keycloak marks its login cookies Secure. Browsers send Secure cookies to loopback over plain
    HTTP (a trustworthy origin); Python's cookie jar does not, and Keycloak would then answer
    "Restart login cookie not found". So the header is built by hand.
    """
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


@dataclass
class Target:
    """What one sample needs: where the systems live and who exists."""

    keycloak_url: str
    realm: str
    service_url: str
    sink: SmtpSink
    known: list[str]
    known_next: dict[str, int] = field(default_factory=dict)
    unknown_used: set[str] = field(default_factory=set)
    unknown_next: dict[str, int] = field(default_factory=dict)
    unknown_pool: list[str] = field(default_factory=list)
    keycloak_mail_at_answer: int = 0
    keycloak_mail_missing: list[str] = field(default_factory=list)
    sent_known: dict[str, int] = field(default_factory=dict)

    def identifier(self, system: str, kind: str) -> str:
        if kind == KNOWN:
            index = self.known_next.get(system, 0)
            self.known_next[system] = index + 1
            self.sent_known[system] = self.sent_known.get(system, 0) + 1
            return self.known[index % len(self.known)]
        # As many never-registered addresses as known accounts, taken in turn like them: the
        # service coalesces a repeated identifier while its job waits (a little cheaper), so
        # both kinds must repeat alike, or the repetition shows as a difference of kind.
        if not self.unknown_pool:
            self.unknown_pool = [bench_address() for _ in self.known]
            self.unknown_used.update(self.unknown_pool)
        index = self.unknown_next.get(system, 0)
        self.unknown_next[system] = index + 1
        return self.unknown_pool[index % len(self.unknown_pool)]


def bench_address() -> str:
    return f"kcpr-bench-{secrets.token_hex(6)}@example.org"


def mail_count(sink: SmtpSink, sender: str, to: str | None = None) -> int:
    return sum(1 for m in sink.messages if m.mail_from == sender and (to is None or m.is_for(to)))


def keycloak_sample(target: Target, identifier: str, kind: str) -> float:
    """Keycloak's "Forgot your password?" page, then the timed POST of the username field."""
    base = f"{target.keycloak_url}/realms/{target.realm}/login-actions/reset-credentials"
    with fresh_session() as http:
        page = http.get(base, params={"client_id": "account-console"}, timeout=GET_TIMEOUT)
        page.raise_for_status()
        action = _keycloak_form_action(page.text)
        before = mail_count(target.sink, KEYCLOAK_FROM, identifier) if kind == KNOWN else 0
        headers = {"Cookie": cookie_header(http)}
        started = time.perf_counter_ns()
        answer = http.post(
            action,
            data={"username": identifier},
            headers=headers,
            timeout=POST_TIMEOUT,
            allow_redirects=False,
        )
        elapsed = (time.perf_counter_ns() - started) / 1e6
    if answer.status_code != 200 or KEYCLOAK_SENT_TEXT not in answer.text:
        raise RuntimeError(
            f"Keycloak did not accept the reset request for {kind} account: "
            f"HTTP {answer.status_code} {answer.text[:300]!r}"
        )
    if kind == KNOWN:
        # Keycloak sends inside the request: the mail must already be at the sink.
        if mail_count(target.sink, KEYCLOAK_FROM, identifier) > before:
            target.keycloak_mail_at_answer += 1
        else:
            target.keycloak_mail_missing.append(identifier)
    return elapsed


def _keycloak_form_action(page: str) -> str:
    """Where the form on Keycloak's reset page posts to (on loopback, or RuntimeError)."""
    match = _FORM_ACTION.search(page)
    if match is None:
        raise RuntimeError(f"no form on Keycloak's reset page: {page[:300]!r}")
    action = html.unescape(match.group(1))
    if not action.startswith(LOOPBACK_PREFIX):
        raise RuntimeError(f"Keycloak's form posts off loopback: {action}")
    return action


def service_api_sample(target: Target, identifier: str, kind: str) -> float:
    with fresh_session() as http:
        # Open the connection first, as the Keycloak sample's GET does, so neither times it.
        http.get(f"{target.service_url}/healthz", timeout=GET_TIMEOUT).raise_for_status()
        started = time.perf_counter_ns()
        answer = http.post(
            f"{target.service_url}/api/v1/password-resets",
            json={"identifier": identifier},
            timeout=POST_TIMEOUT,
        )
        elapsed = (time.perf_counter_ns() - started) / 1e6
    if answer.status_code != 202:
        raise RuntimeError(f"service API answered HTTP {answer.status_code}: {answer.text[:300]!r}")
    return elapsed


def service_form_sample(target: Target, identifier: str, kind: str) -> float:
    with fresh_session() as http:
        page = http.get(f"{target.service_url}/forgot-password", timeout=GET_TIMEOUT)
        page.raise_for_status()
        match = _CSRF.search(page.text)
        if match is None:
            raise RuntimeError("no CSRF token on the service's forgot-password page")
        started = time.perf_counter_ns()
        answer = http.post(
            f"{target.service_url}/forgot-password",
            data={"identifier": identifier, "csrf_token": match.group(1)},
            timeout=POST_TIMEOUT,
            allow_redirects=False,
        )
        elapsed = (time.perf_counter_ns() - started) / 1e6
    if answer.status_code != 200 or 'data-result="success"' not in answer.text:
        raise RuntimeError(f"service form answered HTTP {answer.status_code}")
    return elapsed


SAMPLERS: dict[str, Callable[[Target, str, str], float]] = {
    KEYCLOAK: keycloak_sample,
    SERVICE_API: service_api_sample,
    SERVICE_FORM: service_form_sample,
}
