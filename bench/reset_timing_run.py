"""One run of the reset-timing bench: start the systems, warm up, sample the rounds in a
shuffled order until done or the deadline, check the mail, stop everything."""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reset_timing_figures import Samples, summarise
from reset_timing_samplers import KINDS, SAMPLERS, Target, log
from reset_timing_stack import BenchStack, verify_mail

from keycloak_pwreset_demo.keycloak_dist import KEYCLOAK_VERSION


def machine_facts() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "loadavg_at_start": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def schedule(systems: list[str], count: int, rng: random.Random) -> list[tuple[str, str]]:
    """Every (system, kind) cell ``count`` times, in one shuffled order: drift, GC pauses and
    the service's background worker then fall on all cells alike."""
    tasks = [(s, k) for s in systems for k in KINDS for _ in range(count)]
    rng.shuffle(tasks)
    return tasks


def warm_up(target: Target, systems: list[str], count: int, rng: random.Random) -> None:
    if count:
        log(f"warm-up: {count} untimed samples per cell")
        for system, kind in schedule(systems, count, rng):
            SAMPLERS[system](target, target.identifier(system, kind), kind)


@dataclass
class Sampling:
    """The timed samples of a run, and whether the deadline cut it short."""

    samples: Samples
    stopped_early: bool = False


def sample_rounds(
    target: Target, systems: list[str], args: argparse.Namespace, rng: random.Random, began: float
) -> Sampling:
    deadline = began + args.max_minutes * 60
    sampling = Sampling({s: {k: [] for k in KINDS} for s in systems})
    for round_no in range(1, args.rounds + 1):
        for s in systems:
            for k in KINDS:
                sampling.samples[s][k].append([])
        if not sample_round(target, systems, args.samples, rng, sampling.samples, deadline):
            sampling.stopped_early = True
            log(f"deadline reached in round {round_no}: stopping early")
            break
        log(f"round {round_no}/{args.rounds} done ({time.monotonic() - began:.0f} s)")
    return sampling


def sample_round(
    target: Target,
    systems: list[str],
    count: int,
    rng: random.Random,
    samples: Samples,
    deadline: float,
) -> bool:
    """One round, appended to each cell's last list; False if the deadline came first."""
    for system, kind in schedule(systems, count, rng):
        if time.monotonic() > deadline:
            return False
        elapsed = SAMPLERS[system](target, target.identifier(system, kind), kind)
        samples[system][kind][-1].append(elapsed)
    return True


def parameters(args: argparse.Namespace, systems: list[str]) -> dict[str, Any]:
    return {
        "samples_per_cell_and_round": args.samples,
        "rounds": args.rounds,
        "warmup_per_cell": args.warmup,
        "known_users": args.known_users,
        "seed": args.seed,
        "systems": systems,
    }


def run(args: argparse.Namespace, systems: list[str], work: Path) -> dict[str, Any]:
    began = time.monotonic()
    facts = machine_facts()
    stack = BenchStack()
    try:
        target, version = stack.start(work, args.known_users)
        rng = random.Random(args.seed)  # noqa: S311  (a shuffle, not a secret)
        warm_up(target, systems, args.warmup, rng)
        sampling = sample_rounds(target, systems, args, rng, began)
        assert stack.sink is not None and stack.service is not None  # started above
        verification = verify_mail(target, stack.sink, systems, stack.service)
        sampled_seconds = time.monotonic() - began
    finally:
        stack.stop()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": facts,
        "keycloak_version": version,
        "keycloak_version_pinned": KEYCLOAK_VERSION,
        "parameters": parameters(args, systems),
        "stopped_early": sampling.stopped_early,
        "run_seconds": round(sampled_seconds, 1),
        "verification": verification,
        **summarise(sampling.samples, systems),  # "rounds" and "overall"
        "samples_ms": sampling.samples,
    }
