"""The loopback SMTP sink of bench/drain.py, in a process of its own.

In production the mail server is another machine; in the bench it must at least not share
the worker's interpreter (and GIL) or the bench client's. The child runs the demo's
``SmtpSink`` and answers a few commands over a pipe.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

from keycloak_pwreset_demo.ports import free_port

ANSWER_SECONDS = 30.0


def _serve(conn: Connection, port: int) -> None:
    from keycloak_pwreset_demo.smtp_sink import SmtpSink

    sink = SmtpSink(port=port)
    sink.start()
    conn.send("ready")
    while True:
        command = conn.recv()
        if command == "count":
            conn.send(sink.count())
        elif command == "received":
            conn.send([(m.rcpt_tos, m.received_at.timestamp()) for m in sink.messages])
        elif command == "clear":
            sink.clear()
            conn.send("ok")
        else:  # "stop"
            sink.stop()
            conn.send("ok")
            return


class SinkProcess:
    """``start()``, then ``count()``/``received()``/``clear()``, then ``stop()``."""

    def __init__(self) -> None:
        self.port = free_port()
        self._conn: Connection | None = None
        self._process: Any = None

    def start(self) -> None:
        # spawn, not fork: the bench process has threads (and a Keycloak child) by now.
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(theirs, self.port), daemon=True)
        self._process.start()
        self._conn = ours
        if self._ask_raw() != "ready":
            raise RuntimeError("the SMTP sink process did not start")

    def _ask_raw(self, command: str | None = None) -> Any:
        if self._conn is None:
            raise RuntimeError("the SMTP sink process is not running")
        if command is not None:
            self._conn.send(command)
        if not self._conn.poll(ANSWER_SECONDS):
            raise RuntimeError(f"the SMTP sink process did not answer {command or 'start'!r}")
        return self._conn.recv()

    def count(self) -> int:
        return int(self._ask_raw("count"))

    def received(self) -> list[tuple[tuple[str, ...], float]]:
        """(envelope recipients, epoch seconds received) of every message, oldest first."""
        return list(self._ask_raw("received"))

    def clear(self) -> None:
        self._ask_raw("clear")

    def stop(self) -> None:
        if self._conn is not None and self._process.is_alive():
            self._ask_raw("stop")
        if self._process is not None:
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
        self._conn = None
