"""The two servers of bench/throughput.py, each in its own process on 127.0.0.1.

The bare FastAPI app (throughput_bare.py) and the service (`python3 -m keycloak_pwreset serve`)
with settings from the environment: SQLite in the work directory, the worker and the abuse
limits off, no CAPTCHA, harmless values for the required settings. The request paths measured
never call Keycloak (a reset request only validates and writes an outbox row) and start-up does
not either, so KCPR_KEYCLOAK_URL names a loopback port nothing listens on.
"""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import requests

from keycloak_pwreset_demo.ports import LOOPBACK, free_port

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
START_SECONDS = 30.0
STOP_SECONDS = 5.0
TAIL_LINES = 15


class ServerError(Exception):
    """A server did not start or died: the message is one line, then its stderr's tail."""


def service_env(work: Path, port: int) -> dict[str, str]:
    """The service's settings (KCPR_*), on top of the environment minus any KCPR_ of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCPR_")}
    env.update(
        {
            "KCPR_KEYCLOAK_URL": f"http://{LOOPBACK}:{free_port()}",
            "KCPR_REALM": "bench",
            "KCPR_CLIENT_ID": "keycloak-pwreset",
            "KCPR_CLIENT_SECRET": "bench-client-secret",
            "KCPR_PUBLIC_URL": f"http://{LOOPBACK}:{port}",
            "KCPR_SECRET_KEY": secrets.token_hex(32),
            "KCPR_MAIL__FROM_ADDRESS": "account-help@bench.example",
            "KCPR_SMTP__HOST": LOOPBACK,
            "KCPR_SMTP__PORT": str(free_port()),
            "KCPR_DATABASE_URL": f"sqlite:///{work / 'service.db'}",
            "KCPR_RUN_WORKER": "false",
            "KCPR_CAPTCHA__PROVIDER": "none",
            # Off: one client address sends thousands of POSTs a second here.
            "KCPR_LIMITS__ENABLED": "false",
            "KCPR_LIMITS__REQUESTS_PER_CLIENT": "100000000/minute",
            "KCPR_LIMITS__EMAILS_PER_ACCOUNT_PER_CLIENT_PER_HOUR": "1000",
            "KCPR_LIMITS__EMAILS_PER_ACCOUNT_PER_HOUR": "1000",
        }
    )
    return with_repo_path(env)


def with_repo_path(env: dict[str, str]) -> dict[str, str]:
    """Run this checkout's code, whatever is installed; no proxies for loopback."""
    paths = [str(REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["NO_PROXY"] = env["no_proxy"] = "*"
    return env


class Server:
    """One server process: started in its own session, so stopping it stops its children."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], work: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log_path = work / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_url: str) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own fixed command line
                self.command,
                env=self.env,
                cwd=self.log_path.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_ready(ready_url)

    def wait_ready(self, url: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        with requests.Session() as session:
            session.trust_env = False
            while time.monotonic() < deadline:
                self.check_alive()
                try:
                    if session.get(url, timeout=2).status_code == 200:
                        return
                except requests.RequestException:
                    pass
                time.sleep(0.2)
        raise ServerError(self.failure(f"did not answer {url} within {START_SECONDS:.0f} s"))

    def check_alive(self) -> None:
        """Raise ServerError if the process has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise ServerError(self.failure(exit_reason(self.process.returncode)))

    def failure(self, what: str) -> str:
        return f"{self.name} server {what}; the end of its output:\n{self.tail()}"

    def tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "  (no output)"
        return "\n".join("  " + line for line in lines[-TAIL_LINES:]) or "  (no output)"

    def stop(self) -> None:
        """SIGTERM to its process group, SIGKILL after a grace period."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, STOP_SECONDS), (signal.SIGKILL, STOP_SECONDS)):
            try:
                os.killpg(process.pid, sig)  # the group of the process we started
            except ProcessLookupError:
                return
            try:
                process.wait(grace)
                return
            except subprocess.TimeoutExpired:
                continue


def exit_reason(status: int) -> str:
    """How a process ended: a negative status is the signal that killed it (not us: we stop
    servers only after the last check)."""
    if status >= 0:
        return f"exited with status {status}"
    try:
        name = signal.Signals(-status).name
    except ValueError:
        name = f"signal {-status}"
    return f"was killed by {name} from outside this script"


def bare_server(work: Path, port: int) -> Server:
    command = [sys.executable, str(BENCH_DIR / "throughput_bare.py"), "--port", str(port)]
    command[2:2] = ["--host", LOOPBACK]
    return Server("bare", command, with_repo_path(dict(os.environ)), work)


def service_server(work: Path, port: int) -> Server:
    command = [sys.executable, "-m", "keycloak_pwreset", "serve"]
    command += ["--host", LOOPBACK, "--port", str(port)]
    return Server("service", command, service_env(work, port), work)


def outbox_rows(work: Path) -> int | None:
    """Rows in the service's outbox: with the worker off (throughput.py), every accepted
    request's job; with it on (drain.py), the jobs not done. None without a database file."""
    path = work / "service.db"
    if not path.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT COUNT(*) FROM outbox").fetchone()
    except sqlite3.Error:
        return None
    return int(row[0])
