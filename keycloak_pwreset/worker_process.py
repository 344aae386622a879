"""`serve`'s outbox worker, run as a child process and kept running.

Why a process and not a thread of the web process: the worker does more for a
real account than for an unknown one (mint a token, render and send an email).
In the web process that work competed with the next requests for the
interpreter, and an attacker probing without pauses could see it in the answer
times of the requests that followed a real account's (issue 12's "channel
through the next answer"). In its own process, at a lower CPU priority, the
worker's work leaves the web process's answers alone, and it uses a second
core while it is at it.

The child is `keycloak-pwreset worker --wake-socket PATH --nice N
--exit-with-stdin --no-metrics-port`: the same
command an operator runs on its own, so there is one worker, not two. It
exits when its standard input closes, so it never outlives `serve`, even when
`serve` is killed with SIGKILL; if it dies, it is started again (with a
growing pause, so a worker that cannot start does not spin).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from keycloak_pwreset.wake import WAKE_SOCKET_VAR, private_socket_path

log = logging.getLogger(__name__)

NICENESS = 10  # below the web process: answers first, emails a moment later
RESTART_PAUSES = (1.0, 2.0, 5.0, 10.0, 30.0)
STOP_SECONDS = 15.0  # the worker finishes its running jobs (SMTP sends) first


class WorkerProcess:
    """Starts, watches and stops the worker child of `serve`."""

    def __init__(self, socket_path: Path | None = None) -> None:
        self.socket_path = socket_path or private_socket_path()
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._watcher = threading.Thread(target=self._watch, name="worker-process", daemon=True)

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "keycloak_pwreset",
            "worker",
            "--wake-socket",
            str(self.socket_path),
            "--nice",
            str(NICENESS),
            "--exit-with-stdin",
            # serve's own metrics (one port, every process's counts) report this one too.
            "--no-metrics-port",
        ]

    def start(self) -> WorkerProcess:
        # Web processes started after this (serve --workers N) find the socket here.
        os.environ[WAKE_SOCKET_VAR] = str(self.socket_path)
        self._process = self._spawn()
        self._watcher.start()
        return self

    def _spawn(self) -> subprocess.Popen[bytes]:
        log.info("starting the outbox worker process")
        # stdin is a pipe held by this process only: when it closes, the child stops.
        # Its own session: a Ctrl-C at the terminal reaches `serve`, which then
        # stops the worker in order, rather than both at once.
        return subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            self.command(), stdin=subprocess.PIPE, close_fds=True, start_new_session=True
        )

    def _watch(self) -> None:
        failures = 0
        while self._process is not None:
            code = self._process.wait()
            if self._stopping.is_set():
                return
            pause = RESTART_PAUSES[min(failures, len(RESTART_PAUSES) - 1)]
            log.warning("the outbox worker process ended (exit %s); restarting in %gs", code, pause)
            failures += 1
            if self._stopping.wait(pause):
                return
            self._process = self._spawn()

    def stop(self) -> None:
        """Ask the worker to finish its running jobs and end; kill it if it will not."""
        self._stopping.set()
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the child's signal to stop
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("the outbox worker process did not stop; killing it")
            process.kill()
            process.wait()
        self._watcher.join(1.0)
        # Fails only if a killed worker left its socket behind: not worth more.
        with contextlib.suppress(OSError):
            self.socket_path.parent.rmdir()
