"""Abuse against the real stack: inbox bombing, token races, rate limits that reveal nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from keycloak_pwreset_demo.realm import RealmInfo, password_grant
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import ServiceHandle
from tests.helpers import FIGURES, Account, Browser, reset_link
from tests.integration.test_reset_flow import mails, wait_count

SUBJECT = "Reset your password for %(site)s"


def drained(service: ServiceHandle, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while service.services.outbox.pending_count() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert service.services.outbox.pending_count() == 0


def test_inbox_bombing_is_capped_by_the_account_cooldown(
    service: ServiceHandle, sink: SmtpSink, account: Account, realm: RealmInfo
) -> None:
    with requests.Session() as http:
        for _ in range(50):
            answer = http.post(
                service.url + "/api/v1/password-resets",
                json={"identifier": account.user.email},
                timeout=10,
            )
            assert answer.status_code == 202
    drained(service)
    delivered = len(mails(sink, account.user.email, SUBJECT % {"site": realm.realm}))
    FIGURES["inbox bombing: emails delivered of 50 requests"] = str(delivered)
    # At most the cooldown's share for one network; fewer when waiting requests coalesce.
    assert 1 <= delivered <= service.settings.limits.emails_per_account_per_client_per_hour == 3


def test_twenty_concurrent_submissions_change_the_password_once(
    service: ServiceHandle, sink: SmtpSink, account: Account, realm: RealmInfo
) -> None:
    Browser(service.url).ask_for_link(account.user.email)
    mail = wait_count(sink, account.user.email, SUBJECT % {"site": realm.realm}, 1)[0]
    token = reset_link(mail, service).split("token=")[1]
    barrier = threading.Barrier(20)
    outcomes: list[tuple[int, str]] = []

    def submit(n: int) -> None:
        password = f"Racing-{n:02d}-pass"
        barrier.wait()
        answer = requests.post(
            service.url + "/api/v1/password-resets/complete",
            json={"token": token, "password": password, "password_confirmation": password},
            timeout=60,
        )
        outcomes.append((answer.status_code, password))

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [p for status, p in outcomes if status == 200]
    FIGURES["token race: successes of 20 concurrent submissions"] = str(len(winners))
    assert len(winners) == 1 and sorted(s for s, _ in outcomes) == [200] + [410] * 19
    assert password_grant(
        realm.server_url, realm.realm, realm.login_client_id, account.user.username, winners[0]
    )


@pytest.fixture
def limited(realm: RealmInfo, sink: SmtpSink, tmp_path: Path) -> Iterator[ServiceHandle]:
    """A service with the default per-client limits (20 POSTs a minute)."""
    handle = ServiceHandle.start(realm, sink, tmp_path)
    yield handle
    handle.stop()


def comparable(response: requests.Response) -> tuple[int, bytes, dict[str, str]]:
    headers = {k.lower(): v for k, v in response.headers.items() if k.lower() != "date"}
    return response.status_code, response.content, headers


def test_rate_limit_answers_the_same_for_known_and_unknown(
    limited: ServiceHandle, account: Account
) -> None:
    answers: dict[str, list[tuple[int, bytes, dict[str, str]]]] = {"known": [], "unknown": []}
    with requests.Session() as http:
        for n in range(24):
            who = "known" if n % 2 == 0 else "unknown"
            identifier = account.user.email if who == "known" else "nobody-x@example.org"
            answer = http.post(
                limited.url + "/api/v1/password-resets", json={"identifier": identifier}, timeout=10
            )
            answers[who].append(comparable(answer))
    statuses = [
        a[0] for pair in zip(answers["known"], answers["unknown"], strict=True) for a in pair
    ]
    assert statuses[:20] == [202] * 20 and statuses[20:] == [429] * 4
    known_429 = [a for a in answers["known"] if a[0] == 429]
    unknown_429 = [a for a in answers["unknown"] if a[0] == 429]
    assert int(known_429[0][2]["retry-after"]) > 0
    # Retry-After counts down by the second; compare the rest exactly.
    strip = [(s, b, {k: v for k, v in h.items() if k != "retry-after"}) for s, b, h in known_429]
    assert strip[0] == (
        unknown_429[0][0],
        unknown_429[0][1],
        {k: v for k, v in unknown_429[0][2].items() if k != "retry-after"},
    )


def test_smtp_down_changes_nothing_in_the_answer(
    service: ServiceHandle, sink: SmtpSink, account: Account
) -> None:
    def ask(identifier: str) -> tuple[int, bytes, dict[str, str]]:
        return comparable(
            requests.post(
                service.url + "/api/v1/password-resets", json={"identifier": identifier}, timeout=10
            )
        )

    normal = ask(account.user.email)
    sink.stop()
    try:
        down_known, down_unknown = ask(account.user.email), ask("nobody-y@example.org")
    finally:
        sink.start()
    assert normal == down_known == down_unknown
