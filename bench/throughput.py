"""Requests per second of the service's paths, beside a bare FastAPI endpoint, under wrk.

Starts two servers on 127.0.0.1, each in its own process and under the uvicorn configuration of
`keycloak-pwreset serve`: a bare FastAPI app (throughput_bare.py) and the service (worker and
abuse limits off, SQLite in a temporary directory, no Keycloak needed). Then it loads, in
interleaved rounds (bare, healthz, API, form, bare, ...), GET /bare, GET /healthz,
POST /api/v1/password-resets and POST /forgot-password with `wrk --latency`, and prints req/s,
p50 and p99 per path and each path's req/s as a share of the bare endpoint's. Exit 1 if any
answer was not 2xx, a socket failed, a server did not start, or the run was cut short.

    flock /tmp/bench.lock python3 bench/throughput.py [--rounds 3] [--json throughput.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from throughput_report import machine_facts, round_lines, rows_of, table
from throughput_servers import Server, ServerError, bare_server, outbox_rows, service_server
from throughput_targets import API_PATH, FORM_PATH, Target, check_by_hand, script_for, targets
from throughput_wrk import Load, WrkError, WrkResult, run_wrk, wrk_path

from keycloak_pwreset_demo.ports import LOOPBACK, free_port

# Start-up, checks and stopping, beyond the wrk runs themselves.
OVERHEAD_SECONDS = 30.0
PER_RUN_SECONDS = 1.0  # wrk's own start and end, per run


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (default 16)")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    parser.add_argument("--duration", type=float, default=8.0, help="s per run (default 8)")
    parser.add_argument("--warmup", type=float, default=2.0, help="s per target first (2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--max-minutes", type=float, default=5.0, help="bound (default 5)")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args(argv)
    if not (1 <= args.threads <= args.connections <= 1000):
        parser.error("need 1 <= --threads <= --connections <= 1000")
    if not (1 <= args.rounds <= 20 and 1 <= args.duration <= 120 and 0 <= args.warmup <= 30):
        parser.error("need --rounds 1..20, --duration 1..120, --warmup 0..30")
    return args


def planned_seconds(args: argparse.Namespace, target_count: int) -> float:
    runs = target_count * (args.rounds + (1 if args.warmup else 0))
    work = target_count * (args.warmup + args.rounds * args.duration)
    return float(OVERHEAD_SECONDS + work + runs * PER_RUN_SECONDS)


@dataclass
class Run:
    """What one benchmark run found, as it goes."""

    targets: list[Target]
    load: Load
    deadline: float
    results: dict[str, list[WrkResult]] = field(default_factory=dict)
    warmups: dict[str, WrkResult] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    incomplete: bool = False

    def fits(self, seconds: float) -> bool:
        return time.monotonic() + seconds + PER_RUN_SECONDS <= self.deadline


def warm_up(run: Run, seconds: float, work: Path) -> None:
    for target in run.targets:
        result = run_wrk(target.url, run.load, seconds, script_for(target, work))
        run.warmups[target.name] = result
        log(f"warm-up {target.name}: {result.requests_per_second:.0f} req/s")
        if result.errors:
            run.problems.append(f"warm-up {target.name}: {describe_errors(result)}")


def measure(run: Run, rounds: int, work: Path, servers: list[Server]) -> None:
    """``rounds`` interleaved rounds over the targets, stopping at the deadline."""
    run.results = {target.name: [] for target in run.targets}
    for number in range(1, rounds + 1):
        for target in run.targets:
            if not run.fits(run.load.seconds):
                run.incomplete = True
                run.problems.append(f"--max-minutes reached before round {number} finished")
                return
            for server in servers:
                server.check_alive()
            result = run_wrk(target.url, run.load, run.load.seconds, script_for(target, work))
            run.results[target.name].append(result)
            log(
                f"round {number}/{rounds} {target.name}: {result.requests_per_second:.0f} req/s,"
                f" p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, errors {result.errors}"
            )
            if result.errors:
                run.problems.append(f"round {number} {target.name}: {describe_errors(result)}")


def describe_errors(result: WrkResult) -> str:
    sockets = ", ".join(f"{k} {v}" for k, v in result.socket_errors.items() if v)
    return f"{result.non_2xx} non-2xx answers" + (f", socket errors: {sockets}" if sockets else "")


def check_outbox(run: Run, work: Path) -> dict[str, Any]:
    """Every accepted POST wrote its own outbox row: nothing was coalesced away."""
    posts = [t.name for t in run.targets if t.name.startswith("POST ")]
    runs = [r for name in posts for r in run.results.get(name, [])]
    runs += [run.warmups[name] for name in posts if name in run.warmups]
    answered = sum(r.requests - r.non_2xx for r in runs)
    rows = outbox_rows(work)
    if rows is not None and rows < answered:
        run.problems.append(f"the outbox holds {rows} jobs for {answered} accepted POSTs")
    return {"accepted_posts": answered, "outbox_rows": rows}


def start_servers(work: Path, servers: list[Server]) -> tuple[str, str]:
    """Start both, each added to ``servers`` first, so that a failed start still stops all."""
    bare_port, service_port = free_port(), free_port()
    bare_url, service_url = f"http://{LOOPBACK}:{bare_port}", f"http://{LOOPBACK}:{service_port}"
    log(f"starting the bare server at {bare_url} and the service at {service_url}")
    servers.append(bare_server(work, bare_port))
    servers[-1].start(bare_url + "/bare")
    servers.append(service_server(work, service_port))
    servers[-1].start(service_url + "/healthz")
    return bare_url, service_url


Results = dict[str, list[WrkResult]]


def benchmark(
    args: argparse.Namespace, work: Path, started: float
) -> tuple[dict[str, Any], Results]:
    """Start the servers, check each path once, warm up, measure; the report's data."""
    servers: list[Server] = []
    try:
        bare_url, service_url = start_servers(work, servers)
        check_by_hand(bare_url, service_url)
        log(f"checked by hand: {API_PATH} answers 202, {FORM_PATH} 'Check your inbox'")
        load = Load(args.threads, args.connections, args.duration)
        run = Run(targets(bare_url, service_url), load, started + args.max_minutes * 60)
        if args.warmup:
            warm_up(run, args.warmup, work)
        measure(run, args.rounds, work, servers)
        outbox = check_outbox(run, work)
    finally:
        for server in servers:
            server.stop()
    return report_data(args, run, outbox, started), run.results


def report_data(
    args: argparse.Namespace, run: Run, outbox: dict[str, Any], started: float
) -> dict[str, Any]:
    rows = rows_of(run.results)
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": shlex.join([sys.executable, *sys.argv]),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": machine_facts(),
        "targets": {
            t.name: {
                "url": t.url,
                **rows[t.name],
                "rounds": [r.as_dict() for r in run.results[t.name]],
                "warmup": run.warmups[t.name].as_dict() if t.name in run.warmups else None,
            }
            for t in run.targets
        },
        "outbox": outbox,
        "problems": run.problems,
        "incomplete": run.incomplete,
        "elapsed_seconds": round(time.monotonic() - started, 1),
    }


def finish(data: dict[str, Any], results: Results, json_path: Path | None) -> int:
    log(round_lines(results))
    print(table(data["targets"]))
    if json_path is not None:
        json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        log(f"figures written to {json_path}")
    for problem in data["problems"]:
        log(f"error: {problem}")
    return 1 if data["problems"] else 0


def stop_on_term(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    try:
        wrk_path()
        plan = planned_seconds(args, 4)
        if plan > args.max_minutes * 60:
            log(
                f"error: this run needs about {plan:.0f} s, over --max-minutes {args.max_minutes:g}"
            )
            return 1
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, stop_on_term)
        log(f"at most about {plan:.0f} s: {args.rounds} rounds of {args.duration:g} s per path")
        with tempfile.TemporaryDirectory(prefix="kcpr-throughput-") as work:
            data, results = benchmark(args, Path(work), started)
    except (WrkError, ServerError, RuntimeError, OSError) as exc:
        log(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        return 130
    return finish(data, results, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
