"""The figures of bench/throughput.py: medians over rounds, the table, the JSON, machine facts."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import statistics
import sys
from typing import Any

from throughput_wrk import WrkResult


def version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def uvicorn_facts() -> dict[str, Any]:
    """What uvicorn's "auto" loop and HTTP picks here; both servers run this Python."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    loop = "uvloop" if version("uvloop") else "asyncio"
    return {
        "uvicorn": version("uvicorn"),
        "loop": loop,
        "uvloop": version("uvloop"),
        "http": AutoHTTPProtocol.__name__,
        "httptools": version("httptools"),
        "fastapi": version("fastapi"),
        "starlette": version("starlette"),
    }


def machine_facts() -> dict[str, Any]:
    try:
        load: list[float] | None = list(os.getloadavg())
    except OSError:
        load = None
    return {
        "cpu_count": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "load_average_at_start": load,
        **uvicorn_facts(),
    }


def summary(rounds: list[WrkResult]) -> dict[str, float | None]:
    """Medians over the rounds (None where no round ran)."""
    if not rounds:
        return {"rps_median": None, "p50_ms_median": None, "p99_ms_median": None}
    return {
        "rps_median": statistics.median(r.requests_per_second for r in rounds),
        "rps_min": min(r.requests_per_second for r in rounds),
        "rps_max": max(r.requests_per_second for r in rounds),
        "p50_ms_median": statistics.median(r.p50_ms for r in rounds),
        "p99_ms_median": statistics.median(r.p99_ms for r in rounds),
        "requests": sum(r.requests for r in rounds),
        "errors": sum(r.errors for r in rounds),
    }


def ratio(rps: float | None, bare: float | None) -> float | None:
    return rps / bare if rps is not None and bare else None


def figure(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table(rows: dict[str, dict[str, Any]]) -> str:
    """path | req/s median | p50 | p99 | ratio to bare; the first row is the bare one."""
    width = max(len(name) for name in rows)
    head = f"{'path':<{width}}  {'req/s median':>12}  {'p50 ms':>7}  {'p99 ms':>7}  {'ratio':>6}"
    lines = [head, "-" * len(head)]
    for name, row in rows.items():
        lines.append(
            f"{name:<{width}}  {figure(row['rps_median'], '12.0f')}"
            f"  {figure(row['p50_ms_median'], '7.2f')}  {figure(row['p99_ms_median'], '7.2f')}"
            f"  {figure(row['ratio_to_bare'], '6.2f')}"
        )
    return "\n".join(lines)


def rows_of(results: dict[str, list[WrkResult]]) -> dict[str, dict[str, Any]]:
    """Each target's summary with its ratio of median req/s to the bare endpoint's."""
    rows = {name: summary(rounds) for name, rounds in results.items()}
    bare = next(iter(rows.values()))["rps_median"] if rows else None
    for row in rows.values():
        row["ratio_to_bare"] = ratio(row["rps_median"], bare)
    return rows


def round_lines(results: dict[str, list[WrkResult]]) -> str:
    """Per round req/s, for stderr: the spread the medians hide."""
    lines = []
    for name, rounds in results.items():
        figures = ", ".join(f"{r.requests_per_second:.0f}" for r in rounds)
        lines.append(f"  {name}: req/s per round {figures or '-'}")
    return "\n".join(lines)
