"""The stack the timing tests measure: `keycloak-pwreset serve` as a child process over the
session's real Keycloak and an SMTP server (timing_sink.py), and the accounts they name.

Running the service out of the test process keeps the test's own HTTP client, SMTP server and
logging from sharing the service's interpreter and skewing its timings.
"""

from __future__ import annotations

import gc
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from keycloak import KeycloakAdmin

from keycloak_pwreset_demo.ports import free_port
from keycloak_pwreset_demo.realm import RealmInfo

DRAIN_TIMEOUT = 60.0  # a run without pauses leaves a backlog for the worker
SETTLE = 0.02  # after the worker is done: let the SMTP server and Keycloak finish too
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


@dataclass
class ServeProcess:
    """`keycloak-pwreset serve` as a child process, and its SQLite store."""

    url: str
    database: Path
    process: subprocess.Popen[bytes]

    def outbox_pending(self) -> int:
        # closing(): a sqlite3 connection's own "with" ends a transaction, not the connection.
        with closing(sqlite3.connect(self.database, timeout=10)) as db:
            (count,) = db.execute("SELECT count(*) FROM outbox WHERE failed_at IS NULL").fetchone()
        return int(count)

    def wait_until_idle(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Until the worker has done everything the requests so far asked for."""
        deadline = time.monotonic() + timeout
        while self.outbox_pending():
            if time.monotonic() > deadline:
                raise AssertionError(f"the worker did not drain the outbox in {timeout} s")
            time.sleep(0.002)
        time.sleep(SETTLE)


def service_environment(realm: RealmInfo, smtp_port: int, port: int, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCPR_")}
    env.update(
        KCPR_KEYCLOAK_URL=realm.server_url,
        KCPR_REALM=realm.realm,
        KCPR_CLIENT_ID=realm.client_id,
        KCPR_CLIENT_SECRET=realm.client_secret,
        KCPR_PUBLIC_URL=f"http://127.0.0.1:{port}",
        KCPR_SECRET_KEY=secrets.token_hex(32),
        KCPR_DATABASE_URL=f"sqlite:///{work / 'store.db'}",
        KCPR_SMTP__HOST="127.0.0.1",
        KCPR_SMTP__PORT=str(smtp_port),
        KCPR_SMTP__SECURITY="none",
        KCPR_MAIL__FROM_ADDRESS="timing@demo.example",
        # One client address sends everything here: no per-client limit may
        # interfere; the per-account email cooldown keeps its default.
        KCPR_LIMITS__REQUESTS_PER_CLIENT="1000000/minute",
        KCPR_LIMITS__TOKEN_ATTEMPTS_PER_CLIENT="1000000/minute",
        KCPR_LOG_LEVEL="WARNING",
    )
    return env


def wait_until_ready(served: ServeProcess, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if served.process.poll() is not None:
            raise AssertionError(log.read_text(errors="replace"))
        try:
            if requests.get(served.url + "/readyz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("keycloak-pwreset serve did not become ready")
        time.sleep(0.2)


@contextmanager
def serve_process(
    realm: RealmInfo, smtp_port: int, work: Path, **settings: str
) -> Iterator[ServeProcess]:
    """`keycloak-pwreset serve` (worker and all, as deployed) until the block ends;
    ``settings`` are more KCPR_ variables."""
    port = free_port()
    env = {**service_environment(realm, smtp_port, port, work), **settings}
    log_path = work / "serve.log"
    command = [sys.executable, "-m", "keycloak_pwreset", "serve"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        served = ServeProcess(f"http://127.0.0.1:{port}", work / "store.db", process)
        try:
            wait_until_ready(served, log_path)
            yield served
        finally:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def address_name(prefix: str, n: int) -> str:
    """Existing and unknown addresses of one length: requests differ only in who they name."""
    return f"{prefix:x<6}{n:03d}{secrets.token_hex(3)}"


def unknown_addresses(prefix: str, count: int) -> list[str]:
    return [f"{address_name(prefix, n)}@example.org" for n in range(count)]


def add_accounts(admin: KeycloakAdmin, prefix: str, count: int) -> list[str]:
    """Existing accounts (no password: none is needed to be found), in one partial import."""
    names = [address_name(prefix, n) for n in range(count)]
    users = [
        {
            "username": name,
            "email": f"{name}@example.org",
            "enabled": True,
            "emailVerified": True,
            "firstName": "Timing",
            "lastName": "Person",
        }
        for name in names
    ]
    admin.partial_import_realm(
        admin.connection.realm_name, {"users": users, "ifResourceExists": "FAIL"}
    )
    return [f"{name}@example.org" for name in names]


@contextmanager
def no_garbage_collection() -> Iterator[None]:
    """No collection of the test's own garbage inside a timed request (the loop makes
    little of it; a full collection per request would cost more than the request)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
