"""Waking a worker in another process (wake.py) and `serve`'s worker child (worker_process.py)."""

from __future__ import annotations

import os
import stat
import sys
import threading
import time
from pathlib import Path

import pytest

from keycloak_pwreset import worker_process
from keycloak_pwreset.wake import WAKE_SOCKET_VAR, WakeListener, WakeSender, private_socket_path
from keycloak_pwreset.worker_process import WorkerProcess


def wakes_listener_at(path: Path) -> bool:
    """A listener at ``path`` is woken by one sender's datagram; its socket goes with it."""
    woken = threading.Event()
    listener = WakeListener(path, woken.set).start()
    try:
        WakeSender(path).wake()
        return woken.wait(5)
    finally:
        listener.close()


def test_a_datagram_wakes_the_listener() -> None:
    path = private_socket_path()
    assert wakes_listener_at(path)
    assert not path.exists()


def test_the_socket_directory_is_private() -> None:
    mode = stat.S_IMODE(private_socket_path().parent.stat().st_mode)
    assert mode == 0o700


def test_waking_nobody_is_silent(tmp_path: Path) -> None:
    sender = WakeSender(tmp_path / "nobody.sock")
    sender.wake()  # no listener: dropped, the worker polls anyway
    sender.close()


def test_a_full_buffer_never_blocks_the_sender() -> None:
    path = private_socket_path()
    listener = WakeListener(path, lambda: time.sleep(10))  # bound, never reading
    try:
        sender = WakeSender(path)
        started = time.monotonic()
        for _ in range(5000):
            sender.wake()
        assert time.monotonic() - started < 2
    finally:
        listener.close()


def test_a_socket_left_by_a_killed_worker_is_replaced() -> None:
    path = private_socket_path()
    path.write_bytes(b"")  # what a worker killed with SIGKILL leaves
    assert wakes_listener_at(path)


@pytest.fixture(autouse=True)
def restored_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """WorkerProcess.start() names its socket in os.environ: undone after each test."""
    monkeypatch.setenv(WAKE_SOCKET_VAR, "")


class ScriptWorker(WorkerProcess):
    """The supervisor around a stand-in child: it notes each start, then waits for EOF."""

    def __init__(self, starts: Path, exit_at_once: bool = False) -> None:
        super().__init__()
        self.starts = starts
        self.exit_at_once = exit_at_once

    def command(self) -> list[str]:
        wait = "" if self.exit_at_once else "sys.stdin.read()"
        script = f"import sys; open({str(self.starts)!r}, 'a').write('x'); {wait}"
        return [sys.executable, "-c", script]


def test_the_child_stops_when_serve_stops(tmp_path: Path) -> None:
    supervisor = ScriptWorker(tmp_path / "starts").start()
    process = supervisor._process
    assert process is not None
    supervisor.stop()
    assert process.poll() is not None
    assert (tmp_path / "starts").read_text() == "x"


def test_a_child_that_dies_is_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_process, "RESTART_PAUSES", (0.05,))
    supervisor = ScriptWorker(tmp_path / "starts", exit_at_once=True).start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(_read(tmp_path / "starts")) < 3:
            time.sleep(0.05)
    finally:
        supervisor.stop()
    assert len(_read(tmp_path / "starts")) >= 3


def test_serve_names_the_socket_for_its_web_processes(tmp_path: Path) -> None:
    supervisor = ScriptWorker(tmp_path / "starts").start()
    try:
        assert os.environ[WAKE_SOCKET_VAR] == str(supervisor.socket_path)
    finally:
        supervisor.stop()


def test_the_real_child_is_the_worker_command_at_a_lower_priority() -> None:
    command = WorkerProcess(Path("/run/x/wake.sock")).command()
    assert command[1:] == [
        "-m",
        "keycloak_pwreset",
        "worker",
        "--wake-socket",
        "/run/x/wake.sock",
        "--nice",
        "10",
        "--exit-with-stdin",
        "--no-metrics-port",
    ]


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""
