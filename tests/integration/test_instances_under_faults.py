"""Two web and two worker processes under faults: a worker killed, SMTP, PostgreSQL and Redis down.

Issue 13's fault tests, on real processes (tests/integration/instances.py) with an SMTP sink
of this module's own, so that its outage touches no other test. Each test is bounded; the
figures (emails delivered, duplicates, time to drain) are printed at the end of the run.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from keycloak_pwreset.settings.service import default_concurrency
from keycloak_pwreset_demo.postgres import PostgresCluster
from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.redis_server import RedisServer
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import DemoUser, KeycloakHandle
from tests.helpers import FIGURES
from tests.integration.instances import (
    REQUESTS_PER_CLIENT,
    RESET,
    Instances,
    ask_for_each,
    mailed_count,
    new_accounts,
    running_instances,
)

SMTP_DOWN_SECONDS = 60.0
POSTGRES_DOWN_SECONDS = 3.0


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    server = SmtpSink()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def instances(
    realm: RealmInfo,
    smtp: SmtpSink,
    postgres: PostgresCluster,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Instances]:
    logs = tmp_path_factory.mktemp("instances-faults")
    with running_instances(realm, smtp, postgres, redis_server.url, logs) as running:
        yield running


def wait_mailed(smtp: SmtpSink, users: list[DemoUser], at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while sum(c >= 1 for c in mailed_count(smtp, users)) < at_least:
        assert time.monotonic() < deadline, "the workers sent nothing"
        time.sleep(0.02)


def report(name: str, counts: list[int], since: float) -> None:
    FIGURES[name] = (
        f"{sum(c >= 1 for c in counts)} of {len(counts)} accounts mailed, "
        f"{sum(counts) - len(counts)} duplicates, drained {time.monotonic() - since:.0f} s after"
    )


def test_a_worker_killed_mid_drain_of_300_accounts_loses_no_email(
    instances: Instances, smtp: SmtpSink, keycloak: KeycloakHandle, realm: RealmInfo
) -> None:
    """One worker gets SIGKILL while both drain, and is started again: every account gets
    its email (at least once). The jobs it held come back when their lease runs out (60 s);
    the duplicates are at most the jobs it had in hand (its pool)."""
    users = new_accounts(keycloak, realm, "k", 300)
    ask_for_each(instances, users)
    wait_mailed(smtp, users, 20)
    victim = instances.workers[0]
    killed = time.monotonic()
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=15)
    instances.start_worker(0)
    instances.drained(timeout=200)
    counts = mailed_count(smtp, users)
    report("300 accounts, a worker SIGKILLed mid-drain", counts, killed)
    assert all(count >= 1 for count in counts), counts
    assert sum(counts) - len(users) <= default_concurrency()


def test_smtp_down_for_a_minute_during_a_drain_loses_no_email(
    instances: Instances, smtp: SmtpSink, keycloak: KeycloakHandle, realm: RealmInfo
) -> None:
    users = new_accounts(keycloak, realm, "s", 40)
    ask_for_each(instances, users)
    wait_mailed(smtp, users, 3)
    smtp.stop()
    down = time.monotonic()
    time.sleep(SMTP_DOWN_SECONDS)
    smtp.start()
    # Retries back off (5, 10, 20, 40 s ...): the last ones come about 80 s after the outage began.
    instances.drained(timeout=240)
    counts = mailed_count(smtp, users)
    report(f"SMTP down {SMTP_DOWN_SECONDS:.0f} s mid-drain (40 accounts)", counts, down)
    assert all(count >= 1 for count in counts), counts
    assert instances.all_running()


def test_postgresql_restarted_mid_run_costs_no_accepted_request(
    instances: Instances,
    smtp: SmtpSink,
    keycloak: KeycloakHandle,
    realm: RealmInfo,
    postgres: PostgresCluster,
) -> None:
    """Requests keep coming while PostgreSQL restarts: each is accepted (202) or refused with
    503 and Retry-After, never a 500; those after the restart are accepted again, by the same
    processes; every accepted one is mailed."""
    users = new_accounts(keycloak, realm, "p", 80)
    statuses: list[int] = []

    def ask() -> None:
        for n, user in enumerate(users):
            network = f"198.19.{n // 200}.{n % 200 + 1}"
            statuses.append(instances.post(n, RESET, {"identifier": user.email}, network))
            time.sleep(0.1)

    asking = threading.Thread(target=ask)
    asking.start()
    while len(statuses) < 5:
        time.sleep(0.05)
    restarted = time.monotonic()
    postgres.restart(down_seconds=POSTGRES_DOWN_SECONDS)
    back_at = len(statuses)
    asking.join(timeout=120)
    assert len(statuses) == len(users) and len(users) - back_at >= 10  # requests after it too
    assert set(statuses) <= {202, 503}, statuses
    assert 503 in statuses  # the outage was seen
    assert statuses[:5] == [202] * 5 and statuses[-10:] == [202] * 10, statuses
    accepted = [user for user, status in zip(users, statuses, strict=True) if status == 202]
    for url in instances.urls:
        assert requests.get(url + "/readyz", timeout=10).status_code == 200
    instances.drained(timeout=150)
    counts = mailed_count(smtp, accepted)
    report(
        f"PostgreSQL restarted ({POSTGRES_DOWN_SECONDS:.0f} s down) under requests: "
        f"{len(accepted)} of {len(users)} accepted, {statuses.count(503)} answered 503",
        counts,
        restarted,
    )
    assert all(count >= 1 for count in counts), counts
    assert instances.all_running()


def test_redis_down_keeps_the_service_up_and_the_limits_per_process(
    instances: Instances, redis_server: RedisServer
) -> None:
    """Redis gone: no request fails, and each web process counts for itself, so a client
    alternating between the two meets a limit by twice the count at most. Back: one count."""

    def flood(network: str, requests_sent: int) -> list[int]:
        body = {"identifier": f"nobody-{secrets.token_hex(3)}@flood.example"}
        return [instances.post(n, RESET, body, network) for n in range(requests_sent)]

    redis_server.stop()
    try:
        during = flood(f"203.0.113.{secrets.randbelow(100) + 10}", 2 * REQUESTS_PER_CLIENT + 3)
    finally:
        redis_server.start()
    assert set(during) == {202, 429}, during
    assert during.index(429) <= 2 * REQUESTS_PER_CLIENT
    assert during[-3:] == [429] * 3
    logs = "".join(p.read_text(errors="replace") for p in Path(instances.logs).glob("*.log"))
    assert "rate-limit store (Redis) is unreachable" in logs
    time.sleep(6)  # the fallback lasts 5 s; then Redis is asked again
    after = flood(f"203.0.113.{secrets.randbelow(100) + 120}", REQUESTS_PER_CLIENT + 2)
    assert after == [202] * REQUESTS_PER_CLIENT + [429] * 2
    instances.drained(timeout=60)
