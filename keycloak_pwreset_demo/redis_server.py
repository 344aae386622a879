"""A throw-away Redis server on loopback, for the tests: Debian's `redis-server` package.

One `redis-server` on a free 127.0.0.1 port, no persistence, no Unix socket, in a directory of
its own; stopped (and restartable on the same port, to test an outage) by the caller.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from keycloak_pwreset_demo.errors import DemoError
from keycloak_pwreset_demo.ports import LOOPBACK, free_port

INSTALL_HINT = "install Redis: apt-get install redis-server"
START_SECONDS = 20.0


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> RedisServer:
        """Start it (again, on the same port); DemoError if it does not answer in time."""
        program = shutil.which("redis-server")
        if program is None:
            raise DemoError(f"redis-server not found; {INSTALL_HINT}")
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [program, "--bind", LOOPBACK, "--port", str(self.port)]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_SECONDS
        while not _answers_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise DemoError(f"redis-server did not start; see {self.directory / 'redis.log'}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
