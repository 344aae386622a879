"""A throw-away PostgreSQL cluster on loopback, for the tests: Debian's `postgresql` package.

`initdb` in a fresh directory, one server on a free 127.0.0.1 port (no Unix socket outside
that directory), trust authentication for its one user, stopped and deleted afterwards. Run
as root (CI), the server runs as the package's `postgres` user: PostgreSQL refuses root.
Durability is off (`fsync`, `synchronous_commit`): the data lives for one test run.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from keycloak_pwreset_demo.errors import DemoError
from keycloak_pwreset_demo.ports import LOOPBACK, free_port

USER = "kcpr"
DATABASE = "kcpr"
SERVER_USER = "postgres"  # Debian's package creates it
INSTALL_HINT = "install PostgreSQL: apt-get install postgresql"
START_SECONDS = 60


def server_binaries() -> Path:
    """The directory of initdb and pg_ctl: Debian keeps them out of PATH, per major version."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise DemoError(f"no PostgreSQL server programs found; {INSTALL_HINT}")


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", SERVER_USER, "--", *argv]


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(  # noqa: S603 (fixed argv, no shell)
        _as_server_user(argv), capture_output=True, text=True, check=False, timeout=120
    )
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise DemoError(f"PostgreSQL {what} failed: {detail[-1] if detail else done.returncode}")


@dataclass
class PostgresCluster:
    directory: Path
    port: int
    bin_dir: Path

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the cluster's database (psycopg 3)."""
        return self.database_url(DATABASE)

    def database_url(self, name: str) -> str:
        return f"postgresql+psycopg://{self._address(name)}"

    def _address(self, name: str) -> str:
        return f"{USER}@{LOOPBACK}:{self.port}/{name}"

    @classmethod
    def start(cls, directory: Path) -> PostgresCluster:
        """initdb and start; DemoError with the reason if either fails."""
        bin_dir = server_binaries()
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(directory, owner.pw_uid, owner.pw_gid)
        data = directory / "data"
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            "initdb",
        )
        cluster = cls(directory, free_port(), bin_dir)
        cluster._pg_ctl("start")
        cluster.create_database(DATABASE)
        return cluster

    def create_database(self, name: str, template: str = "template1") -> None:
        # The `postgres` extra; imported here, so that runs without PostgreSQL need none.
        import psycopg
        from psycopg import sql

        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                dsn = f"postgresql://{self._address('postgres')}"
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                            sql.Identifier(name), sql.Identifier(template)
                        )
                    )
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _pg_ctl(self, action: str) -> None:
        """``pg_ctl start|stop|restart``, waiting for it; stops are "fast" (clients cut off)."""
        data = self.directory / "data"
        options = (
            f"-c listen_addresses={LOOPBACK} -p {self.port} "
            f"-c unix_socket_directories={data} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        command = [str(self.bin_dir / "pg_ctl"), "-D", str(data), "-w", "-t", str(START_SECONDS)]
        if action != "stop":
            command += ["-l", str(self.directory / "server.log"), "-o", options]
        if action != "start":
            command += ["-m", "fast"]
        _run([*command, action], action)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop the server (every connection cut), wait, start it again on the same port."""
        self._pg_ctl("stop")
        time.sleep(down_seconds)
        self._pg_ctl("start")

    def stop(self) -> None:
        with contextlib.suppress(DemoError, subprocess.TimeoutExpired):
            self._pg_ctl("stop")
        shutil.rmtree(self.directory, ignore_errors=True)
