"""Faults and attacks against the running service: Keycloak down, forged Host, logs, timing."""

from __future__ import annotations

import logging
import random
import re
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from keycloak_pwreset_demo.ports import free_port
from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import ServiceHandle
from tests.helpers import FIGURES, Account, Browser, data_result, reset_link
from tests.integration.test_reset_flow import wait_count


def test_keycloak_down_while_completing_keeps_the_link(
    realm: RealmInfo,
    sink: SmtpSink,
    tmp_path: Path,
    account: Account,
    new_store: Callable[[Path], str],
) -> None:
    # A second instance of the service whose Keycloak is unreachable: the
    # real gateway meets a refused connection.
    dead = RealmInfo(
        f"http://127.0.0.1:{free_port()}",
        realm.realm,
        realm.client_id,
        realm.client_secret,
        realm.login_client_id,
    )
    service = ServiceHandle.start(dead, sink, tmp_path, database_url=new_store(tmp_path))
    try:
        token = service.services.tokens.issue(
            purpose="reset",
            ttl=timedelta(minutes=5),
            user_id=account.id,
            email=account.user.email,
        )
        browser = Browser(service.url)
        browser.open_link(f"{service.url}/reset-password?token={token}")
        response = browser.set_password("Fresh-start9")
        assert response.status_code == 503
        assert data_result(response) is None or data_result(response) == "service_unavailable"
        assert "try again later" in response.text
        assert service.services.reset.check(token) is not None  # not used up
        ready = requests.get(service.url + "/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json() == {"database": "ok", "keycloak": "unreachable"}
    finally:
        service.stop()


def test_forged_host_headers_never_change_the_link(
    service: ServiceHandle, sink: SmtpSink, account: Account
) -> None:
    browser = Browser(service.url)
    forged = {
        "Host": "evil.example",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "Forwarded": "host=evil.example",
    }
    page = browser.http.get(service.url + "/forgot-password", headers=forged, timeout=10)
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert csrf
    assert "evil" not in page.text
    browser.http.post(
        service.url + "/forgot-password",
        data={"identifier": account.user.email, "csrf_token": csrf.group(1)},
        headers=forged,
        timeout=10,
    )
    mail = wait_count(sink, account.user.email, "Reset your password", 1)[0]
    assert "evil" not in mail.text_body() and "evil" not in mail.html_body()
    assert reset_link(mail, service).startswith(service.url + "/reset-password?token=")


def test_no_token_or_password_in_the_logs(
    caplog: pytest.LogCaptureFixture, service: ServiceHandle, sink: SmtpSink, account: Account
) -> None:
    caplog.set_level(logging.DEBUG)
    browser = Browser(service.url)
    browser.ask_for_link(account.user.email)
    link = reset_link(wait_count(sink, account.user.email, "Reset your password", 1)[0], service)
    browser.open_link(link)
    browser.set_password("Sh0rtx")
    assert browser.set_password("Logged-never-7").status_code == 200
    wait_count(sink, account.user.email, "password was changed", 1)
    token = link.split("token=")[1]
    # Everything this process logged, except what the test's own SMTP server
    # (the recipient's mail server) and the test's own HTTP client (the
    # person's browser) log: those of course see the link.
    port = service.url.rsplit(":", 1)[1]
    ours = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith("mail.log")
        and not (r.name.startswith("urllib3") and f":{port} " in r.getMessage())
    )
    assert "sent reset email" in ours, "the service logged nothing: the check would be empty"
    for secret in (token, "Logged-never-7", "Sh0rtx", realm_secret(service)):
        assert secret not in ours


def realm_secret(service: ServiceHandle) -> str:
    return service.settings.client_secret.get_secret_value()


def test_request_timing_does_not_depend_on_the_account(
    service: ServiceHandle, account: Account
) -> None:
    """A coarse guard; the statistical test (KS, hundreds of samples) is the security suite's.

    Known and unknown requests are shuffled together so that background work
    (the worker sending the emails the known ones cause) hits both alike. A
    synchronous Keycloak lookup in the request would add its whole round trip
    to one side only and push the ratio far outside the bounds.
    """
    order = [account.user.email, "nobody-at-all@example.org"] * 60
    random.Random(7).shuffle(order)
    samples: dict[str, list[float]] = {identifier: [] for identifier in set(order)}
    with requests.Session() as http:
        for identifier in order[:10]:  # warm-up
            http.post(service.url + "/api/v1/password-resets", json={"identifier": identifier})
        for identifier in order:
            started = time.perf_counter()
            response = http.post(
                service.url + "/api/v1/password-resets",
                json={"identifier": identifier},
                timeout=10,
            )
            samples[identifier].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 202
    known = statistics.median(samples[account.user.email])
    unknown = statistics.median(samples["nobody-at-all@example.org"])
    FIGURES["reset request median known/unknown (ms)"] = (
        f"{known:.2f} / {unknown:.2f} (ratio {known / unknown:.2f})"
    )
    assert 0.5 < known / unknown < 2.0
