"""Run ``kc.sh`` as a child process: launch, wait until it serves, stop the whole tree."""

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import requests

from keycloak_pwreset_demo.errors import DemoError

# Settings a user may have exported for their own Keycloak (KC_DB=postgres, JAVA_OPTS, …) would
# silently change ours; the child gets none of them.
_DROPPED_PREFIXES = ("KC_", "KEYCLOAK_", "QUARKUS_", "JAVA_OPTS", "JAVA_ADD_OPENS", "JAVA_LOCALE")
_DROPPED_NAMES = frozenset({"JAVA", "DEBUG", "DEBUG_PORT", "PRINT_ENV"})
_POLL_SECONDS = 0.5
_PROGRESS_EVERY_SECONDS = 10.0


def child_environment(java_home: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """The environment for ``kc.sh``: ours, minus Keycloak/Java settings, plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_DROPPED_PREFIXES) and name not in _DROPPED_NAMES
    }
    env["JAVA_HOME"] = str(java_home)
    env.update(extra)
    return env


def launch(
    run_home: Path, args: Sequence[str], *, env: Mapping[str, str], log_path: Path
) -> "subprocess.Popen[bytes]":
    """Start ``run_home/bin/kc.sh ARGS`` in a new session, output appended to ``log_path``.

    A new session makes it a process group of its own: stopping it then reaches the JVM that
    kc.sh forks, and Ctrl-C in the terminal goes to us first, so we stop it in order.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
            [str(run_home / "bin" / "kc.sh"), *args],
            cwd=run_home,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def failure_summary(log_path: Path, limit: int = 200) -> str:
    """The line of a failed run's log that says why, shortened; "" if none stands out."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # Keycloak ends a failed start with "... (main) ERROR: <cause>" lines, most specific last,
    # then a generic hint about --verbose.
    for line in reversed(lines):
        if "ERROR: " in line:
            return line.split("ERROR: ", 1)[1][:limit]
    for line in reversed(lines):
        if " ERROR " in line:
            return line[:limit]
    # A command-line mistake ("Unknown option: ...") is a few lines, the first one says it.
    return lines[0][:limit] if 0 < len(lines) <= 5 else ""


def exited_error(what: str, returncode: int, log_path: Path) -> DemoError:
    """One clear line for a Keycloak process that exited when it should not have."""
    detail = failure_summary(log_path)
    reason = f": {detail}" if detail else ""
    return DemoError(f"{what} failed (exit {returncode}){reason}; see {log_path}")


def wait_ready(
    proc: "subprocess.Popen[bytes]",
    url: str,
    *,
    timeout: float,
    log_path: Path,
    progress: Callable[[str], None],
) -> float:
    """Poll ``GET {url}/realms/master`` until 200; return the seconds waited.

    Fails fast if the process exits; on timeout the process is stopped before raising.
    """
    started = time.monotonic()
    next_report = started + _PROGRESS_EVERY_SECONDS
    with requests.Session() as http:
        while True:
            returncode = proc.poll()
            if returncode is not None:
                raise exited_error("Keycloak start-up", returncode, log_path)
            if _serves(http, f"{url}/realms/master"):
                return time.monotonic() - started
            now = time.monotonic()
            if now - started > timeout:
                terminate(proc)
                raise DemoError(f"Keycloak was not ready after {timeout:.0f} s; see {log_path}")
            if now >= next_report:
                progress(f"Keycloak is starting… {now - started:.0f} s")
                next_report += _PROGRESS_EVERY_SECONDS
            time.sleep(_POLL_SECONDS)


def _serves(http: requests.Session, url: str) -> bool:
    try:
        return http.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False  # not listening yet


def terminate(proc: "subprocess.Popen[bytes]", grace: float = 15.0) -> None:
    """Stop the process group: SIGTERM (Keycloak shuts down cleanly), SIGKILL after ``grace``."""
    if proc.poll() is not None:
        return
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(pgid, signum)


def run_command(
    run_home: Path, args: Sequence[str], *, env: Mapping[str, str], log_path: Path, timeout: float
) -> None:
    """Run a one-off ``kc.sh`` command (e.g. ``build``) to completion or raise DemoError."""
    proc = launch(run_home, args, env=env, log_path=log_path)
    try:
        returncode = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        terminate(proc)
        raise DemoError(f"kc.sh {args[0]} took over {timeout:.0f} s; see {log_path}") from None
    except BaseException:
        terminate(proc)  # e.g. Ctrl-C: do not leave a JVM behind
        raise
    if returncode != 0:
        raise exited_error(f"kc.sh {args[0]}", returncode, log_path)
