"""Waking a worker in another process: one datagram on a Unix socket.

`serve` runs the outbox worker as a child process (worker_process.py) so that
the worker's work for one request (a Keycloak look-up, an email for a real
account) never competes with the web process's interpreter for the next
answer. The web process still wants the worker to start at once rather than
at its next poll, so it sends a datagram to a socket the worker listens on.

Sending never blocks and never fails a request: a wake that cannot be sent
(the worker restarting, its socket buffer full of earlier wakes) is dropped,
and the worker finds the job at its next poll (KCPR_WORKER_POLL_SECONDS). The
socket lives in a directory only this user can enter (mode 0700), so no other
local user can wake the worker or learn when requests arrive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

# The web processes find the worker's socket here (set by `serve` for its own
# children; not a setting: nobody configures it).
WAKE_SOCKET_VAR = "KEYCLOAK_PWRESET_WAKE_SOCKET"


class Wakeable(Protocol):
    def wake(self) -> None: ...


def private_socket_path() -> Path:
    """A fresh socket path in a new directory that only this user can enter."""
    directory = Path(tempfile.mkdtemp(prefix="keycloak-pwreset-"))  # mode 0700
    return directory / "wake.sock"


class WakeSender:
    """Wakes the worker listening at ``path``; cheap enough for the event loop."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    def wake(self) -> None:
        # No listener yet, or its buffer full of wakes: it polls anyway.
        with contextlib.suppress(OSError):
            self._socket.sendto(b"w", self.path)

    def close(self) -> None:
        self._socket.close()


class WakeListener:
    """Calls ``on_wake`` for each datagram that arrives at ``path`` (in a thread)."""

    def __init__(self, path: str | os.PathLike[str], on_wake: Callable[[], None]) -> None:
        self.path = os.fspath(path)
        self._on_wake = on_wake
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        # A socket left by a worker that was killed would refuse the bind.
        Path(self.path).unlink(missing_ok=True)
        self._socket.bind(self.path)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="wake-listener", daemon=True)

    def start(self) -> WakeListener:
        self._thread.start()
        return self

    def _listen(self) -> None:
        while not self._closed.is_set():
            try:
                self._socket.recv(64)
            except OSError:  # closed under us: stopping
                return
            self._on_wake()

    def close(self) -> None:
        self._closed.set()
        # shutdown() ends a blocked recv() on Linux; closing alone would not.
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        Path(self.path).unlink(missing_ok=True)
