"""Two `serve` processes and two `worker` processes on one PostgreSQL and one Redis (issue 13).

Real processes (`python -m keycloak_pwreset serve|worker`), a real Keycloak, the run's
PostgreSQL cluster and Redis, the SMTP sink; everything on loopback. The test client names its
network with X-Forwarded-For (127.0.0.1 is a trusted proxy here), so each test asks from
networks of its own.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from keycloak_pwreset.store.db import open_database
from keycloak_pwreset.store.outbox import Outbox
from keycloak_pwreset_demo.ports import free_port
from keycloak_pwreset_demo.postgres import PostgresCluster
from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.redis_server import RedisServer
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import DemoUser, KeycloakHandle
from tests.helpers import FIGURES, Account
from tests.integration.test_reset_flow import can_log_in, mails, wait_count

REQUESTS_PER_CLIENT = 30
RESET = "/api/v1/password-resets"
NEW_PASSWORD = "Several-instances-9"
START_SECONDS = 60.0


@dataclass
class Instances:
    urls: list[str]
    outbox: Outbox
    # The worker processes, and how to start one again (argv, environment, log).
    workers: list[subprocess.Popen[bytes]]
    start_worker: Callable[[int], subprocess.Popen[bytes]]

    def post(self, n: int, path: str, body: dict[str, str], network: str) -> int:
        """POST to instance n % 2 from ``network``; the status code."""
        answer = requests.post(
            self.urls[n % 2] + path,
            json=body,
            headers={"X-Forwarded-For": network},
            timeout=30,
        )
        return answer.status_code

    def drained(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.outbox.pending_count() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self.outbox.pending_count() == 0
        time.sleep(0.5)  # the last job's email may still be on the wire


def settings_environment(
    realm: RealmInfo, sink: SmtpSink, database_url: str, redis_url: str, public_url: str
) -> dict[str, str]:
    values = {
        "KCPR_KEYCLOAK_URL": realm.server_url,
        "KCPR_REALM": realm.realm,
        "KCPR_CLIENT_ID": realm.client_id,
        "KCPR_CLIENT_SECRET": realm.client_secret,
        "KCPR_PUBLIC_URL": public_url,
        "KCPR_SECRET_KEY": secrets.token_hex(32),
        "KCPR_DATABASE_URL": database_url,
        "KCPR_LIMITS__STORAGE_URI": redis_url,
        "KCPR_LIMITS__REQUESTS_PER_CLIENT": f"{REQUESTS_PER_CLIENT}/minute",
        "KCPR_TRUSTED_PROXIES": '["127.0.0.1"]',
        "KCPR_SMTP__HOST": "127.0.0.1",
        "KCPR_SMTP__PORT": str(sink.port),
        "KCPR_SMTP__SECURITY": "none",
        "KCPR_MAIL__FROM_ADDRESS": "account-help@demo.example",
        "KCPR_RUN_WORKER": "false",
        "KCPR_WORKER_POLL_SECONDS": "0.2",
    }
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("KCPR_")}
    return {**inherited, **values}


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url} exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if requests.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer /healthz in {START_SECONDS:.0f} s")


@pytest.fixture(scope="module")
def instances(
    realm: RealmInfo,
    sink: SmtpSink,
    postgres: PostgresCluster,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Instances]:
    name = f"instances_{secrets.token_hex(3)}"
    postgres.create_database(name)
    database_url = postgres.database_url(name)
    open_database(database_url).dispose()  # migrated once, before four processes start
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    env = settings_environment(realm, sink, database_url, redis_server.url, urls[0])
    logs = tmp_path_factory.mktemp("instances")
    command = [sys.executable, "-m", "keycloak_pwreset"]
    argvs = [[*command, "serve", "--host", "127.0.0.1", "--port", str(p)] for p in ports]
    argvs += [[*command, "worker"], [*command, "worker"]]

    def start(n: int) -> subprocess.Popen[bytes]:
        with (logs / f"process-{n}.log").open("ab") as log:
            return subprocess.Popen(
                argvs[n], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    processes = [start(n) for n in range(len(argvs))]
    workers = processes[2:]

    def start_worker(n: int) -> subprocess.Popen[bytes]:
        workers[n] = start(2 + n)
        return workers[n]

    db = open_database(database_url)
    try:
        for n, url in enumerate(urls):
            wait_healthy(url, processes[n], logs / f"process-{n}.log")
        yield Instances(urls, Outbox(db), workers, start_worker)
    finally:
        for process in processes[:2] + workers:
            with_signal(process, signal.SIGTERM)
        db.dispose()


def with_signal(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def test_fifty_requests_for_one_account_from_fifty_networks_stay_within_its_limit(
    instances: Instances, sink: SmtpSink, account: Account
) -> None:
    """Spread across both web instances, drained by both workers at once: the account's
    hourly ceiling (10 emails) holds across workers (their turns share an advisory lock)."""
    email = account.user.email

    def ask(n: int) -> int:
        return instances.post(n, RESET, {"identifier": email}, f"198.51.100.{n + 1}")

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(ask, range(50)))
    assert statuses == [202] * 50
    instances.drained()
    delivered = mails(sink, email, "Reset your password")
    assert 1 <= len(delivered) <= 10, len(delivered)


def test_a_client_alternating_between_instances_meets_the_limit_at_the_same_count(
    instances: Instances,
) -> None:
    network = f"203.0.113.{secrets.randbelow(200) + 20}"
    statuses = [
        instances.post(n, RESET, {"identifier": f"nobody{n}@flood.example"}, network)
        for n in range(REQUESTS_PER_CLIENT + 3)
    ]
    assert statuses == [202] * REQUESTS_PER_CLIENT + [429] * 3  # one count, in Redis
    instances.drained()


def test_twenty_concurrent_completions_across_instances_change_the_password_once(
    instances: Instances, sink: SmtpSink, account: Account, realm: RealmInfo
) -> None:
    email = account.user.email
    assert instances.post(0, RESET, {"identifier": email}, "192.0.2.10") == 202
    [mail] = wait_count(sink, email, "Reset your password", 1)
    match = re.search(r"/reset-password\?token=([\w-]+)", mail.text_body())
    assert match
    body = {
        "token": match.group(1),
        "password": NEW_PASSWORD,
        "password_confirmation": NEW_PASSWORD,
    }

    def complete(n: int) -> int:
        return instances.post(n, RESET + "/complete", body, f"192.0.2.{20 + n}")

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(complete, range(20)))
    assert sorted(statuses) == [200] + [410] * 19, statuses
    assert can_log_in(realm, account.user.username, NEW_PASSWORD)


def test_a_worker_killed_mid_drain_loses_no_email(
    instances: Instances, sink: SmtpSink, keycloak: KeycloakHandle, realm: RealmInfo
) -> None:
    """60 reset requests for 60 accounts; one worker gets SIGKILL while both drain, and is
    started again: every account gets its email (at least once). The jobs it held come back
    when their lease runs out (60 s); the duplicates are at most what it had in hand."""
    tag = secrets.token_hex(3)
    users = [
        DemoUser(f"k{tag}{n}", f"k{tag}{n}@example.org", "Original-pass1", "Kill", "Test")
        for n in range(60)
    ]
    for user in users:
        keycloak.add_user(realm.realm, user)
    for n, user in enumerate(users):  # a network each: the per-client limit is not the point
        network = f"198.18.{n // 200}.{n % 200 + 1}"
        assert instances.post(n, RESET, {"identifier": user.email}, network) == 202
    deadline = time.monotonic() + 60
    while sum(1 for m in sink.messages if f"k{tag}" in "".join(m.rcpt_tos)) < 5:
        assert time.monotonic() < deadline, "the workers sent nothing"
        time.sleep(0.02)
    victim = instances.workers[0]
    killed = time.monotonic()
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=15)
    instances.start_worker(0)
    instances.drained(timeout=150)
    counts = [len(mails(sink, user.email, "Reset your password")) for user in users]
    FIGURES["worker killed mid-drain"] = (
        f"{sum(c >= 1 for c in counts)} of {len(users)} accounts mailed, "
        f"{sum(counts) - len(users)} duplicates, drained {time.monotonic() - killed:.0f} s "
        "after the SIGKILL"
    )
    assert all(count >= 1 for count in counts), counts
    assert sum(counts) - len(users) <= 8  # at most the killed worker's pool
