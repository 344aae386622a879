"""The reset-timing bench's figures: medians, ratios and Kolmogorov-Smirnov per cell, and the
report printed from them."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from reset_timing_samplers import KNOWN, LABELS, UNKNOWN
from scipy.stats import ks_2samp

# samples[system][kind][round] is the list of that round's times in ms.
Samples = dict[str, dict[str, list[list[float]]]]


# --- statistics -------------------------------------------------------------------------------


def ks_two_sample(a: list[float], b: list[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic D (the largest gap between the two empirical
    CDFs) and its p-value, from scipy (as the security tests use it)."""
    if not a or not b:
        return math.nan, math.nan
    result = ks_2samp(a, b)
    return float(result.statistic), float(result.pvalue)


@dataclass
class CellStats:
    n_known: int
    n_unknown: int
    median_known_ms: float
    median_unknown_ms: float
    ratio: float
    ks_d: float
    ks_p: float

    @classmethod
    def of(cls, known: list[float], unknown: list[float]) -> CellStats:
        mk = statistics.median(known) if known else math.nan
        mu = statistics.median(unknown) if unknown else math.nan
        d, p = ks_two_sample(known, unknown)
        return cls(len(known), len(unknown), mk, mu, mk / mu if mu else math.nan, d, p)


def flatten(rounds: Iterable[list[float]]) -> list[float]:
    return [x for r in rounds for x in r]


def summarise(samples: Samples, systems: list[str]) -> dict[str, Any]:
    """``rounds``: each round's cell statistics per system; ``overall``: all rounds together."""
    rounds_stats: list[dict[str, Any]] = []
    for index in range(len(samples[systems[0]][KNOWN])):
        rounds_stats.append(
            {
                s: CellStats.of(samples[s][KNOWN][index], samples[s][UNKNOWN][index]).__dict__
                for s in systems
            }
        )
    overall = {
        s: CellStats.of(flatten(samples[s][KNOWN]), flatten(samples[s][UNKNOWN])).__dict__
        for s in systems
    }
    return {"rounds": rounds_stats, "overall": overall}


# --- output -----------------------------------------------------------------------------------


def _row(label: str, system: str, c: dict[str, Any]) -> str:
    n = f"{c['n_known']}" if c["n_known"] == c["n_unknown"] else f"{c['n_known']}/{c['n_unknown']}"
    return (
        f"{label:<6}{LABELS[system]:<31}{n:>8}{c['median_known_ms']:>10.2f}"
        f"{c['median_unknown_ms']:>12.2f}{c['ratio']:>7.2f}{c['ks_d']:>7.3f}"
        f"{c['ks_p']:>10.2g}"
    )


def table(figures: dict[str, Any]) -> str:
    systems: list[str] = figures["parameters"]["systems"]
    head = (
        f"{'round':<6}{'system':<31}{'n/kind':>8}{'known ms':>10}{'unknown ms':>12}"
        f"{'ratio':>7}{'KS D':>7}{'KS p':>10}"
    )
    lines = [head, "-" * len(head)]
    for index, cells in enumerate(figures["rounds"], start=1):
        lines += [_row(str(index), s, cells[s]) for s in systems]
    lines.append("-" * len(head))
    lines += [_row("all", s, figures["overall"][s]) for s in systems]
    return "\n".join(lines)


def report(figures: dict[str, Any]) -> str:
    m = figures["machine"]
    p = figures["parameters"]
    v = figures["verification"]
    out = [
        "Reset-request answer time, existing vs unknown account (POST only, medians)",
        f"machine: nproc {m['nproc']}, {m['cpu_model'] or 'cpu ?'}, {m['platform']}, "
        f"Python {m['python']}, load {m['loadavg_at_start'][0]:.2f} at start",
        f"Keycloak {figures['keycloak_version']} (pinned {figures['keycloak_version_pinned']}); "
        f"{p['samples_per_cell_and_round']} samples per kind and round, {p['rounds']} rounds, "
        f"{p['warmup_per_cell']} warm-up, {p['known_users']} known user(s) round-robin, "
        f"seed {p['seed']}",
        "",
        table(figures),
        "",
        f"mail check: Keycloak {v['keycloak_mails']}/{v['keycloak_known_requests']} reset mails "
        f"({v['keycloak_mail_at_sink_when_answered']} already at the sink when Keycloak "
        f"answered); service {v['service_mails']}/{v['service_known_requests']} (sent by its "
        f"worker after the answer); to unknown addresses {v['mails_to_unknown_addresses']}: "
        + ("OK" if v["ok"] else "FAILED"),
        f"run time {figures['wall_seconds']:.1f} s in all, {figures['run_seconds']:.1f} s "
        "from Keycloak's start to the last mail checked"
        + ("; STOPPED EARLY at the deadline" if figures["stopped_early"] else ""),
    ]
    return "\n".join(out)


def no_nan(value: Any) -> Any:
    """NaN (a cell without samples) as JSON null, so strict JSON readers accept the file."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [no_nan(v) for v in value]
    return value
