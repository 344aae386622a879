"""Two `serve` and two `worker` processes on one PostgreSQL and one Redis (issue 13).

Real processes (`python -m keycloak_pwreset serve|worker`), a real Keycloak, the run's
PostgreSQL cluster and Redis, an SMTP sink; everything on loopback. The test client names
its network with X-Forwarded-For (127.0.0.1 is a trusted proxy here), so each test asks from
networks of its own.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from keycloak_pwreset.store.db import open_database
from keycloak_pwreset.store.outbox import Outbox
from keycloak_pwreset_demo.ports import free_port
from keycloak_pwreset_demo.postgres import PostgresCluster
from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import DemoUser, KeycloakHandle

REQUESTS_PER_CLIENT = 30
RESET = "/api/v1/password-resets"
START_SECONDS = 60.0


@dataclass
class Instances:
    urls: list[str]
    outbox: Outbox
    # The worker processes, and how to start one again (argv, environment, log).
    workers: list[subprocess.Popen[bytes]]
    start_worker: Callable[[int], subprocess.Popen[bytes]]
    web: list[subprocess.Popen[bytes]]
    logs: Path

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

    def all_running(self) -> bool:
        return all(process.poll() is None for process in self.web + self.workers)


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


def with_signal(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@contextmanager
def running_instances(
    realm: RealmInfo, sink: SmtpSink, postgres: PostgresCluster, redis_url: str, logs: Path
) -> Iterator[Instances]:
    """Two web and two worker processes on a new database of ``postgres``, stopped after."""
    name = f"instances_{secrets.token_hex(3)}"
    postgres.create_database(name)
    database_url = postgres.database_url(name)
    open_database(database_url).dispose()  # migrated once, before four processes start
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    env = settings_environment(realm, sink, database_url, redis_url, urls[0])
    command = [sys.executable, "-m", "keycloak_pwreset"]
    argvs = [[*command, "serve", "--host", "127.0.0.1", "--port", str(p)] for p in ports]
    argvs += [[*command, "worker"], [*command, "worker"]]

    def start(n: int) -> subprocess.Popen[bytes]:
        with (logs / f"process-{n}.log").open("ab") as log:
            return subprocess.Popen(
                argvs[n], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    processes = [start(n) for n in range(len(argvs))]
    web, workers = processes[:2], processes[2:]

    def start_worker(n: int) -> subprocess.Popen[bytes]:
        workers[n] = start(2 + n)
        return workers[n]

    db = open_database(database_url)
    try:
        for n, url in enumerate(urls):
            wait_healthy(url, processes[n], logs / f"process-{n}.log")
        yield Instances(urls, Outbox(db), workers, start_worker, web, logs)
    finally:
        for process in web + workers:
            with_signal(process, signal.SIGTERM)
        db.dispose()


def new_accounts(keycloak: KeycloakHandle, realm: RealmInfo, prefix: str, n: int) -> list[DemoUser]:
    tag = f"{prefix}{secrets.token_hex(3)}"
    users = [
        DemoUser(f"{tag}{i}", f"{tag}{i}@example.org", "Original-pass1", "Fault", "Test")
        for i in range(n)
    ]
    for user in users:
        keycloak.add_user(realm.realm, user)
    return users


def ask_for_each(instances: Instances, users: list[DemoUser]) -> None:
    """One reset request per account, alternating instances, a network each."""
    for n, user in enumerate(users):  # the per-client limit is not the point here
        network = f"198.18.{n // 200}.{n % 200 + 1}"
        assert instances.post(n, RESET, {"identifier": user.email}, network) == 202


def mailed_count(sink: SmtpSink, users: list[DemoUser]) -> list[int]:
    """How many reset emails each account got."""
    wanted = {user.email: 0 for user in users}
    for mail in sink.messages:
        for to in mail.rcpt_tos:
            if to in wanted and "Reset your password" in mail.subject:
                wanted[to] += 1
    return [wanted[user.email] for user in users]
