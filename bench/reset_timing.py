"""Timing enumeration: Keycloak's built-in "forgot password" flow versus keycloak-pwreset.

Keycloak sends the reset email inside the request, so it answers more slowly when the account
exists. This service only writes an outbox row, so both answers should take the same time.
The script starts a real Keycloak, a loopback SMTP sink and the service (the demo/test stack),
times reset requests for existing and unknown accounts against both, interleaved in a shuffled
order, and prints medians, ratios and a two-sample Kolmogorov-Smirnov test per round and overall.

    python3 bench/reset_timing.py [--samples 60] [--rounds 3] [--json figures.json]

Everything listens on 127.0.0.1 only, every request has a timeout, the run stops by itself
(a sample cap and a deadline) and stops what it started.

This file is the command line; the parts sit beside it: reset_timing_stack.py (the systems and
the mail check), reset_timing_samplers.py (one timed request per system), reset_timing_run.py
(the rounds) and reset_timing_figures.py (the statistics and the report).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from reset_timing_figures import no_nan, report
from reset_timing_run import run
from reset_timing_samplers import KEYCLOAK, KINDS, SERVICE_API, SERVICE_FORM, log

MAX_SAMPLES = 500  # per cell and round
MAX_ROUNDS = 20
MAX_TIMED_REQUESTS = 12_000  # all cells, all rounds


def check_limits(args: argparse.Namespace, systems: list[str]) -> None:
    if not 1 <= args.samples <= MAX_SAMPLES:
        raise SystemExit(f"--samples must be 1..{MAX_SAMPLES}")
    if not 1 <= args.rounds <= MAX_ROUNDS:
        raise SystemExit(f"--rounds must be 1..{MAX_ROUNDS}")
    if not 0 <= args.warmup <= 100:
        raise SystemExit("--warmup must be 0..100")
    if not 0 < args.max_minutes <= 120:
        raise SystemExit("--max-minutes must be more than 0 and at most 120")
    if not 1 <= args.known_users <= 50:
        raise SystemExit("--known-users must be 1..50")
    total = (args.samples * args.rounds + args.warmup) * len(KINDS) * len(systems)
    if total > MAX_TIMED_REQUESTS:
        raise SystemExit(f"{total} requests planned; the cap is {MAX_TIMED_REQUESTS}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=60, help="per kind, system and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=20, help="untimed samples per cell first")
    parser.add_argument("--known-users", type=int, default=3, help="existing accounts, in turn")
    parser.add_argument("--seed", type=int, default=1, help="seed of the shuffled order")
    parser.add_argument("--no-form", action="store_true", help="skip the service's HTML form")
    parser.add_argument("--max-minutes", type=float, default=20.0, help="stop sampling after")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument("--keep-work-dir", action="store_true", help="keep Keycloak's files")
    args = parser.parse_args(argv)

    systems = [KEYCLOAK, SERVICE_API] + ([] if args.no_form else [SERVICE_FORM])
    check_limits(args, systems)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="kcpr-bench-"))
    keep = args.keep_work_dir
    try:
        figures = run(args, systems, work)
        figures["wall_seconds"] = round(time.monotonic() - started, 1)
    except BaseException:
        keep = True
        log(f"failed; files (Keycloak's log among them) kept in {work}")
        raise
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    print(report(figures))
    if args.json is not None:
        args.json.write_text(json.dumps(no_nan(figures), indent=2, allow_nan=False) + "\n")
        log(f"figures written to {args.json}")
    return 0 if figures["verification"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
