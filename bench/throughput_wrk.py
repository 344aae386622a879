"""Running wrk once and reading its --latency report (wrk 4.x's text output)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

WRK_MISSING = "install wrk: apt-get install wrk"
# wrk's own end plus start-up; past this the run is treated as hung.
GRACE_SECONDS = 30
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}

RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.M)
PERCENTILE = re.compile(r"^\s+(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
SOCKET = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
)


class WrkError(Exception):
    """wrk is missing, failed, hung, or printed something this parser does not know."""


@dataclass(frozen=True)
class Load:
    """The wrk options every run shares."""

    threads: int
    connections: int
    seconds: float


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    requests: int
    seconds: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int  # wrk counts 3xx as fine; none of the paths measured redirects
    socket_errors: dict[str, int]

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "errors": self.errors}


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkError(WRK_MISSING)
    return path


def command(url: str, load: Load, seconds: float, script: Path | None) -> list[str]:
    line = [wrk_path(), f"-t{load.threads}", f"-c{load.connections}", f"-d{seconds:g}s"]
    line.append("--latency")
    if script is not None:
        line += ["-s", str(script)]
    return [*line, url]


def run_wrk(url: str, load: Load, seconds: float, script: Path | None) -> WrkResult:
    """One wrk run of ``seconds`` against ``url``; its figures, or WrkError."""
    try:
        done = subprocess.run(  # noqa: S603 - wrk with our own arguments
            command(url, load, seconds, script),
            capture_output=True,
            text=True,
            timeout=seconds + GRACE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        limit = seconds + GRACE_SECONDS
        raise WrkError(f"wrk against {url} did not finish within {limit:g} s") from None
    except FileNotFoundError:
        raise WrkError(WRK_MISSING) from None
    if done.returncode != 0:
        problem = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise WrkError(f"wrk against {url} exited {done.returncode}: {problem[0]}")
    return parse(done.stdout)


def to_ms(value: str, unit: str) -> float:
    return float(value) * UNITS_MS[unit]


def parse(text: str) -> WrkResult:
    """The figures of one wrk --latency report; WrkError if a part is missing."""
    rps, total = RPS.search(text), TOTAL.search(text)
    percentiles = {m[1]: to_ms(m[2], m[3]) for m in PERCENTILE.finditer(text)}
    if rps is None or total is None or set(percentiles) != {"50", "75", "90", "99"}:
        raise WrkError("wrk's output lacks Requests/sec or the latency distribution:\n" + text)
    non_2xx = NON_2XX.search(text)
    sockets = SOCKET.search(text)
    names = ("connect", "read", "write", "timeout")
    return WrkResult(
        requests_per_second=float(rps[1]),
        requests=int(total[1]),
        seconds=to_ms(total[2], total[3]) / 1000.0,
        p50_ms=percentiles["50"],
        p75_ms=percentiles["75"],
        p90_ms=percentiles["90"],
        p99_ms=percentiles["99"],
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors={n: int(sockets[i + 1]) if sockets else 0 for i, n in enumerate(names)},
    )
