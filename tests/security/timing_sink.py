"""The timing tests' SMTP server, in a process of its own.

The session's sink (tests/conftest.py) runs in the test process, in a thread: an email arriving
while the test times an answer would take the interpreter from the test's HTTP client and show
as a slower answer, the harness's noise and not the service's. The tests that do not wait for
the worker (the email for one request arrives while the next is timed) would then see their
own SMTP server. Here the sink (keycloak_pwreset_demo's, unchanged) runs as
`python -m tests.security.timing_sink PORT DIRECTORY`, saves every message as a file there,
and stops when its standard input closes; the tests read the files.
"""

from __future__ import annotations

import email
import email.policy
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import getaddresses
from pathlib import Path

from keycloak_pwreset_demo.ports import free_port
from keycloak_pwreset_demo.smtp_sink import SmtpSink

START_TIMEOUT = 20.0


@dataclass(frozen=True)
class SinkProcess:
    port: int
    directory: Path

    def messages(self) -> Iterator[tuple[set[str], str]]:
        """Each message received so far: its recipients (To) and subject."""
        for path in sorted(self.directory.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            to = {address.lower() for _, address in getaddresses(message.get_all("To", []))}
            yield to, str(message.get("Subject", ""))

    def delivered(self, addresses: list[str], subject: str = "") -> int:
        """How many messages whose subject has ``subject`` went to any of ``addresses``."""
        wanted = {a.lower() for a in addresses}
        return sum(1 for to, title in self.messages() if subject in title and wanted & to)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def sink_process(directory: Path) -> Iterator[SinkProcess]:
    port = free_port()
    command = [sys.executable, "-m", "tests.security.timing_sink", str(port), str(directory)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the timing tests' SMTP sink did not start")
            time.sleep(0.05)
        yield SinkProcess(port, directory)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(port: int, directory: Path) -> None:
    sink = SmtpSink(port=port, mail_dir=directory)
    sink.start()
    try:
        sys.stdin.buffer.read()  # until the test process closes it (or dies)
    finally:
        sink.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
