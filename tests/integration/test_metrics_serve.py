"""`serve --workers 2` with its worker child: one scrape adds up all three processes' counts.

A real `serve` process (two web processes and the worker child), the run's Keycloak,
PostgreSQL and SMTP sink, and the metrics on a port of their own (KCPR_METRICS_PORT).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from keycloak_pwreset_demo.ports import free_port
from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from tests.helpers import Account
from tests.integration.instances import RESET, settings_environment, wait_healthy, with_signal
from tests.integration.test_reset_flow import wait_count

Samples = list[tuple[str, dict[str, str], float]]


def scrape(url: str) -> tuple[str, Samples]:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    samples = [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]
    return response.text, samples


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for n, got, v in samples if n == name and labels.items() <= got.items())


@pytest.fixture(scope="module")
def served(
    realm: RealmInfo,
    sink: SmtpSink,
    new_store: Callable[[Path], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str]]:
    """(public URL, metrics URL) of one `serve --workers 2` with its worker child."""
    work = tmp_path_factory.mktemp("metrics-serve")
    port, metrics_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    env = settings_environment(realm, sink, new_store(work), "memory://", url)
    env |= {"KCPR_RUN_WORKER": "true", "KCPR_METRICS_PORT": str(metrics_port)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = work / "serve.log"
    argv = [sys.executable, "-m", "keycloak_pwreset", "serve", "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*argv, "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_healthy(url, process, log)
        yield url, f"http://127.0.0.1:{metrics_port}/metrics"
    finally:
        with_signal(process, signal.SIGTERM)


def test_one_scrape_counts_every_process_and_names_nobody(
    served: tuple[str, str], sink: SmtpSink, account: Account
) -> None:
    url, metrics_url = served
    email = account.user.email
    # Several requests, so that both web processes most likely answer some.
    for n in range(6):
        answer = requests.post(
            url + RESET,
            json={"identifier": email if n == 0 else f"ghost{n}@example.org"},
            timeout=10,
        )
        assert answer.status_code == 202
    wait_count(sink, email, "Reset your password", 1)
    deadline = time.monotonic() + 30
    while True:  # the worker child counts a job once its outcome is recorded
        text, samples = scrape(metrics_url)
        if total(samples, "kcpr_jobs_total", kind="reset_request", outcome="done") >= 6:
            break
        assert time.monotonic() < deadline, text
        time.sleep(0.2)
    route = {"route": RESET, "method": "POST", "status": "202", "result": "success"}
    assert total(samples, "kcpr_http_requests_total", **route) == 6
    assert total(samples, "kcpr_emails_sent_total", kind="reset", profile="default") == 1
    keycloak_calls = "kcpr_keycloak_request_duration_seconds_count"
    assert total(samples, keycloak_calls, operation="search users", outcome="ok") >= 6
    assert total(samples, "kcpr_outbox_jobs", state="due") == 0
    for personal in (email, account.user.username, account.id, "ghost", "example.org"):
        assert personal not in text
    # Not on the public port when they have their own.
    assert requests.get(url + "/metrics", timeout=10).status_code == 404
