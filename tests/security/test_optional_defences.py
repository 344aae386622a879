"""The opt-in defences on the real stack: the unknown-account notice and the CAPTCHA.

Real Keycloak, real SMTP server, the service over HTTP. The CAPTCHA providers' siteverify
endpoints are on the internet, which these machines cannot reach: the test stands a small
siteverify server of its own on 127.0.0.1 in their place (KCPR_CAPTCHA__VERIFY_URL), speaking
their documented protocol, and checks what the service sends it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests

from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import ServiceHandle
from tests.helpers import FIGURES, Account, Browser, data_result
from tests.integration.test_reset_flow import mails, wait_count
from tests.security.test_abuse import comparable, drained

NOTICE = "Password reset requested for %(site)s"
SOLVED = "a-real-person-solved-it"


@pytest.fixture
def noticing(realm: RealmInfo, sink: SmtpSink, tmp_path: Path) -> Iterator[ServiceHandle]:
    handle = ServiceHandle.start(
        realm, sink, tmp_path, unknown_account_notice=True, limits={"enabled": False}
    )
    yield handle
    handle.stop()


def ask(service: ServiceHandle, identifier: str) -> requests.Response:
    return requests.post(
        service.url + "/api/v1/password-resets", json={"identifier": identifier}, timeout=10
    )


def test_unknown_address_gets_a_notice_capped_like_every_email(
    noticing: ServiceHandle, sink: SmtpSink, account: Account, realm: RealmInfo
) -> None:
    nobody = f"nobody-{time.monotonic_ns()}@example.org"
    known, unknown = ask(noticing, account.user.email), ask(noticing, nobody)
    assert comparable(known) == comparable(unknown)  # the answer tells nothing
    notice = wait_count(sink, nobody, NOTICE % {"site": realm.realm}, 1)[0]
    assert "no account uses it" in notice.text_body()
    assert noticing.url + "/signup" in notice.text_body()
    assert "token=" not in notice.text_body()
    for _ in range(20):
        assert ask(noticing, nobody).status_code == 202
    drained(noticing)
    delivered = len(mails(sink, nobody, NOTICE % {"site": realm.realm}))
    FIGURES["unknown-account notice: emails delivered of 21 requests"] = str(delivered)
    limits = noticing.settings.limits
    assert 1 <= delivered <= limits.emails_per_account_per_client_per_hour == 3


class SiteVerify(BaseHTTPRequestHandler):
    """A stand-in for a provider's siteverify endpoint: accepts SOLVED, once per response."""

    seen: list[dict[str, list[str]]]
    used: set[str]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        self.seen.append(form)
        response = form.get("response", [""])[0]
        ok = form.get("secret") == ["captcha-secret"] and response == SOLVED
        ok = ok and response not in self.used  # one-time, like the real ones
        self.used.add(response)
        body = json.dumps({"success": ok, "hostname": "127.0.0.1"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def provider() -> Iterator[ThreadingHTTPServer]:
    handler = type("Handler", (SiteVerify,), {"seen": [], "used": set()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def guarded(
    realm: RealmInfo, sink: SmtpSink, tmp_path: Path, provider: ThreadingHTTPServer
) -> Iterator[ServiceHandle]:
    handle = ServiceHandle.start(
        realm,
        sink,
        tmp_path,
        limits={"enabled": False},
        captcha={
            "provider": "turnstile",
            "site_key": "site-key",
            "secret_key": "captcha-secret",
            "verify_url": f"http://127.0.0.1:{provider.server_address[1]}/siteverify",
        },
    )
    yield handle
    handle.stop()


def test_captcha_guards_the_reset_form_and_api(
    guarded: ServiceHandle,
    provider: ThreadingHTTPServer,
    sink: SmtpSink,
    account: Account,
    realm: RealmInfo,
) -> None:
    subject = f"Reset your password for {realm.realm}"
    browser = Browser(guarded.url)
    assert 'class="captcha cf-turnstile"' in browser.http.get(guarded.url + "/forgot-password").text
    assert data_result(browser.ask_for_link(account.user.email)) == "captcha_failed"
    refused = ask(guarded, account.user.email)
    assert refused.status_code == 400 and refused.json()["result"] == "captcha_failed"
    accepted = requests.post(
        guarded.url + "/api/v1/password-resets",
        json={"identifier": account.user.email, "captcha_response": SOLVED},
        timeout=10,
    )
    assert accepted.status_code == 202
    wait_count(sink, account.user.email, subject, 1)
    replayed = requests.post(
        guarded.url + "/api/v1/password-resets",
        json={"identifier": account.user.email, "captcha_response": SOLVED},
        timeout=10,
    )
    assert replayed.status_code == 400  # a response is good for one request
    handler = provider.RequestHandlerClass
    assert isinstance(handler, type) and issubclass(handler, SiteVerify)
    assert handler.seen[-1]["secret"] == ["captcha-secret"]
    assert handler.seen[-1]["remoteip"] == ["127.0.0.1"]
    drained(guarded)
    assert len(mails(sink, account.user.email, subject)) == 1


def test_captcha_provider_down_fails_closed(
    guarded: ServiceHandle, provider: ThreadingHTTPServer, account: Account
) -> None:
    provider.shutdown()
    provider.server_close()
    answer = requests.post(
        guarded.url + "/api/v1/password-resets",
        json={"identifier": account.user.email, "captcha_response": SOLVED},
        timeout=30,
    )
    assert answer.status_code == 400 and answer.json()["result"] == "captcha_failed"
    assert guarded.services.outbox.pending_count() == 0
