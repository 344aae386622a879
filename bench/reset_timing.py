"""Timing enumeration: Keycloak's built-in "forgot password" flow versus keycloak-pwreset.

Keycloak sends the reset email inside the request, so it answers more slowly when the account
exists. This service only writes an outbox row, so both answers should take the same time.
The script starts a real Keycloak, a loopback SMTP sink and the service (the demo/test stack),
times reset requests for existing and unknown accounts against both, interleaved in a shuffled
order, and prints medians, ratios and a two-sample Kolmogorov-Smirnov test per round and overall.

    python3 bench/reset_timing.py [--samples 60] [--rounds 3] [--json figures.json]

Everything listens on 127.0.0.1 only, every request has a timeout, the run stops by itself
(a sample cap and a deadline) and stops what it started.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from keycloak import KeycloakAdmin
from scipy.stats import ks_2samp

from keycloak_pwreset.demo.keycloak_dist import KEYCLOAK_VERSION
from keycloak_pwreset.demo.realm import RealmInfo
from keycloak_pwreset.demo.smtp_sink import SmtpSink
from keycloak_pwreset.demo.stack import DemoUser, KeycloakHandle, ServiceHandle

LOOPBACK_PREFIX = "http://127.0.0.1:"
MAX_SAMPLES = 500  # per cell and round
MAX_ROUNDS = 20
MAX_TIMED_REQUESTS = 12_000  # all cells, all rounds
GET_TIMEOUT = 10.0
POST_TIMEOUT = 20.0  # Keycloak's own SMTP timeout is 10 s; its answer waits for the mail
MAIL_WAIT_SECONDS = 120.0
# The bench asks for many links for a few accounts from one address, which the
# service's abuse limits would (rightly) refuse or drop: they are raised here, and
# only here. Identical requests that wait in the outbox at the same time are
# still coalesced into one email; the mail check allows for that.
BENCH_LIMITS = {
    "requests_per_client": "100000/minute",
    "token_attempts_per_client": "100000/minute",
    "emails_per_account_per_client_per_hour": 1000,
    "emails_per_account_per_hour": 1000,
}
KEYCLOAK_FROM = "kc@demo.example"
SERVICE_ENVELOPE_FROM = "bounces@demo.example"  # ServiceHandle's default envelope sender
KEYCLOAK_SENT_TEXT = "You should receive an email shortly"
KNOWN, UNKNOWN = "known", "unknown"
KINDS = (KNOWN, UNKNOWN)

KEYCLOAK = "keycloak"
SERVICE_API = "service-api"
SERVICE_FORM = "service-form"
LABELS = {
    KEYCLOAK: "Keycloak built-in (form POST)",
    SERVICE_API: "keycloak-pwreset (JSON API)",
    SERVICE_FORM: "keycloak-pwreset (HTML form)",
}
_FORM_ACTION = re.compile(r'<form\b[^>]*\baction="([^"]+)"', re.IGNORECASE)
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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


# --- the two systems --------------------------------------------------------------------------


def fresh_session() -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # no proxy from the environment: loopback only
    return http


def cookie_header(http: requests.Session) -> str:
    """The session's cookies as a browser would send them to 127.0.0.1.

    Keycloak marks its login cookies Secure. Browsers send Secure cookies to loopback over plain
    HTTP (a trustworthy origin); Python's cookie jar does not, and Keycloak would then answer
    "Restart login cookie not found". So the header is built by hand.
    """
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


@dataclass
class Target:
    """What one sample needs: where the systems live and who exists."""

    keycloak_url: str
    realm: str
    service_url: str
    sink: SmtpSink
    known: list[str]
    known_next: dict[str, int] = field(default_factory=dict)
    unknown_used: set[str] = field(default_factory=set)
    keycloak_mail_at_answer: int = 0
    keycloak_mail_missing: list[str] = field(default_factory=list)
    sent_known: dict[str, int] = field(default_factory=dict)

    def identifier(self, system: str, kind: str) -> str:
        if kind == KNOWN:
            index = self.known_next.get(system, 0)
            self.known_next[system] = index + 1
            self.sent_known[system] = self.sent_known.get(system, 0) + 1
            return self.known[index % len(self.known)]
        # A fresh address of the same shape and length as the known ones, every time.
        address = bench_address()
        self.unknown_used.add(address)
        return address


def bench_address() -> str:
    return f"kcpr-bench-{secrets.token_hex(6)}@example.org"


def keycloak_sample(target: Target, identifier: str, kind: str) -> float:
    """Keycloak's "Forgot your password?" page, then the timed POST of the username field."""
    base = f"{target.keycloak_url}/realms/{target.realm}/login-actions/reset-credentials"
    with fresh_session() as http:
        page = http.get(base, params={"client_id": "account-console"}, timeout=GET_TIMEOUT)
        page.raise_for_status()
        match = _FORM_ACTION.search(page.text)
        if match is None:
            raise RuntimeError(f"no form on Keycloak's reset page: {page.text[:300]!r}")
        action = html.unescape(match.group(1))
        if not action.startswith(LOOPBACK_PREFIX):
            raise RuntimeError(f"Keycloak's form posts off loopback: {action}")
        before = mail_count(target.sink, KEYCLOAK_FROM, identifier) if kind == KNOWN else 0
        headers = {"Cookie": cookie_header(http)}
        started = time.perf_counter_ns()
        answer = http.post(
            action,
            data={"username": identifier},
            headers=headers,
            timeout=POST_TIMEOUT,
            allow_redirects=False,
        )
        elapsed = (time.perf_counter_ns() - started) / 1e6
    if answer.status_code != 200 or KEYCLOAK_SENT_TEXT not in answer.text:
        raise RuntimeError(
            f"Keycloak did not accept the reset request for {kind} account: "
            f"HTTP {answer.status_code} {answer.text[:300]!r}"
        )
    if kind == KNOWN:
        # Keycloak sends inside the request: the mail must already be at the sink.
        if mail_count(target.sink, KEYCLOAK_FROM, identifier) > before:
            target.keycloak_mail_at_answer += 1
        else:
            target.keycloak_mail_missing.append(identifier)
    return elapsed


def service_api_sample(target: Target, identifier: str, kind: str) -> float:
    with fresh_session() as http:
        # Open the connection first, as the Keycloak sample's GET does, so neither times it.
        http.get(f"{target.service_url}/healthz", timeout=GET_TIMEOUT).raise_for_status()
        started = time.perf_counter_ns()
        answer = http.post(
            f"{target.service_url}/api/v1/password-resets",
            json={"identifier": identifier},
            timeout=POST_TIMEOUT,
        )
        elapsed = (time.perf_counter_ns() - started) / 1e6
    if answer.status_code != 202:
        raise RuntimeError(f"service API answered HTTP {answer.status_code}: {answer.text[:300]!r}")
    return elapsed


def service_form_sample(target: Target, identifier: str, kind: str) -> float:
    with fresh_session() as http:
        page = http.get(f"{target.service_url}/forgot-password", timeout=GET_TIMEOUT)
        page.raise_for_status()
        match = _CSRF.search(page.text)
        if match is None:
            raise RuntimeError("no CSRF token on the service's forgot-password page")
        started = time.perf_counter_ns()
        answer = http.post(
            f"{target.service_url}/forgot-password",
            data={"identifier": identifier, "csrf_token": match.group(1)},
            timeout=POST_TIMEOUT,
            allow_redirects=False,
        )
        elapsed = (time.perf_counter_ns() - started) / 1e6
    if answer.status_code != 200 or 'data-result="success"' not in answer.text:
        raise RuntimeError(f"service form answered HTTP {answer.status_code}")
    return elapsed


SAMPLERS: dict[str, Callable[[Target, str, str], float]] = {
    KEYCLOAK: keycloak_sample,
    SERVICE_API: service_api_sample,
    SERVICE_FORM: service_form_sample,
}


def mail_count(sink: SmtpSink, sender: str, to: str | None = None) -> int:
    return sum(1 for m in sink.messages if m.mail_from == sender and (to is None or m.is_for(to)))


# --- the run ----------------------------------------------------------------------------------


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


def schedule(systems: list[str], count: int, rng: random.Random) -> list[tuple[str, str]]:
    """Every (system, kind) cell ``count`` times, in one shuffled order: drift, GC pauses and
    the service's background worker then fall on all cells alike."""
    tasks = [(s, k) for s in systems for k in KINDS for _ in range(count)]
    rng.shuffle(tasks)
    return tasks


def configure_keycloak_mail(
    server_url: str, user: str, password: str, realm: str, port: int
) -> str:
    """Point the realm's own email at the sink; return Keycloak's reported version."""
    admin = KeycloakAdmin(
        server_url=server_url,
        username=user,
        password=password,
        realm_name=realm,
        user_realm_name="master",
        timeout=30,
    )
    admin.update_realm(
        realm,
        {
            "smtpServer": {"host": "127.0.0.1", "port": str(port), "from": KEYCLOAK_FROM},
            "resetPasswordAllowed": True,
        },
    )
    info = admin.get_server_info()
    return str(info.get("systemInfo", {}).get("version", "unknown"))


def run(args: argparse.Namespace, systems: list[str], work: Path) -> dict[str, Any]:
    began = time.monotonic()
    deadline = began + args.max_minutes * 60
    facts = machine_facts()
    keycloak: KeycloakHandle | None = None
    sink: SmtpSink | None = None
    service: ServiceHandle | None = None
    try:
        keycloak = KeycloakHandle.start(work, progress=log)
        server = keycloak.server
        realm_name = f"bench-{secrets.token_hex(3)}"
        realm: RealmInfo = keycloak.new_realm(realm_name)
        sink = SmtpSink()
        sink.start()
        version = configure_keycloak_mail(
            server.url, server.admin_user, server.admin_password, realm_name, sink.port
        )
        known = []
        for _ in range(args.known_users):
            address = bench_address()
            name = address.split("@", 1)[0]
            password = f"Bench-{secrets.token_hex(6)}-Xy9"
            keycloak.add_user(realm_name, DemoUser(name, address, password, "Bench", "User"))
            known.append(address)
        service = ServiceHandle.start(realm, sink, work / "service", limits=BENCH_LIMITS)
        for url in (server.url, service.url):
            if not url.startswith(LOOPBACK_PREFIX):
                raise RuntimeError(f"not on loopback: {url}")
        target = Target(server.url, realm_name, service.url, sink, known)
        log(f"Keycloak {version} at {server.url}, service at {service.url}, realm {realm_name}")

        rng = random.Random(args.seed)  # noqa: S311  (a shuffle, not a secret)
        if args.warmup:
            log(f"warm-up: {args.warmup} untimed samples per cell")
            for system, kind in schedule(systems, args.warmup, rng):
                SAMPLERS[system](target, target.identifier(system, kind), kind)

        samples: dict[str, dict[str, list[list[float]]]] = {
            s: {k: [] for k in KINDS} for s in systems
        }
        stopped_early = False
        for round_no in range(1, args.rounds + 1):
            for s in systems:
                for k in KINDS:
                    samples[s][k].append([])
            for system, kind in schedule(systems, args.samples, rng):
                if time.monotonic() > deadline:
                    stopped_early = True
                    break
                elapsed = SAMPLERS[system](target, target.identifier(system, kind), kind)
                samples[system][kind][-1].append(elapsed)
            if stopped_early:
                log(f"deadline reached in round {round_no}: stopping early")
                break
            log(f"round {round_no}/{args.rounds} done ({time.monotonic() - began:.0f} s)")

        verification = verify_mail(target, sink, systems, service)
        sampled_seconds = time.monotonic() - began
    finally:
        if service is not None:
            service.stop()
        if sink is not None:
            sink.stop()
        if keycloak is not None:
            keycloak.stop()

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
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": facts,
        "keycloak_version": version,
        "keycloak_version_pinned": KEYCLOAK_VERSION,
        "parameters": {
            "samples_per_cell_and_round": args.samples,
            "rounds": args.rounds,
            "warmup_per_cell": args.warmup,
            "known_users": args.known_users,
            "seed": args.seed,
            "systems": systems,
        },
        "stopped_early": stopped_early,
        "run_seconds": round(sampled_seconds, 1),
        "verification": verification,
        "rounds": rounds_stats,
        "overall": overall,
        "samples_ms": samples,
    }


def verify_mail(
    target: Target, sink: SmtpSink, systems: list[str], service: ServiceHandle
) -> dict[str, Any]:
    """Prove both systems did the real work: mail for known requests, none for unknown.

    Keycloak: one mail per known request, at the sink when it answers. The service:
    its worker sends after the answer, so wait until the outbox is empty; then every
    known account has mail, never more than one per request (fewer where identical
    requests waited together and were coalesced).
    """
    keycloak_expected = target.sent_known.get(KEYCLOAK, 0)
    service_expected = sum(target.sent_known.get(s, 0) for s in systems if s != KEYCLOAK)
    deadline = time.monotonic() + MAIL_WAIT_SECONDS
    while service.services.outbox.pending_count() and time.monotonic() < deadline:
        time.sleep(0.25)
    time.sleep(1.0)  # the last email may still be on the wire
    messages = sink.messages
    to_unknown = sum(1 for m in messages if any(r in target.unknown_used for r in m.rcpt_tos))
    per_user = {a: mail_count(sink, KEYCLOAK_FROM, a) for a in target.known}
    result = {
        "keycloak_known_requests": keycloak_expected,
        "keycloak_mails": mail_count(sink, KEYCLOAK_FROM),
        "keycloak_mail_at_sink_when_answered": target.keycloak_mail_at_answer,
        "keycloak_mails_per_known_user": per_user,
        "service_known_requests": service_expected,
        "service_mails": mail_count(sink, SERVICE_ENVELOPE_FROM),
        "mails_to_unknown_addresses": to_unknown,
    }
    result["ok"] = (
        result["keycloak_mails"] == keycloak_expected
        and target.keycloak_mail_at_answer == keycloak_expected
        and 0 < result["service_mails"] <= service_expected
        and all(mail_count(sink, SERVICE_ENVELOPE_FROM, a) for a in target.known)
        and to_unknown == 0
    )
    return result


def flatten(rounds: Iterable[list[float]]) -> list[float]:
    return [x for r in rounds for x in r]


# --- output -----------------------------------------------------------------------------------


def table(figures: dict[str, Any]) -> str:
    systems: list[str] = figures["parameters"]["systems"]
    head = (
        f"{'round':<6}{'system':<31}{'n/kind':>8}{'known ms':>10}{'unknown ms':>12}"
        f"{'ratio':>7}{'KS D':>7}{'KS p':>10}"
    )
    lines = [head, "-" * len(head)]

    def row(label: str, system: str, c: dict[str, Any]) -> str:
        n = (
            f"{c['n_known']}"
            if c["n_known"] == c["n_unknown"]
            else f"{c['n_known']}/{c['n_unknown']}"
        )
        return (
            f"{label:<6}{LABELS[system]:<31}{n:>8}{c['median_known_ms']:>10.2f}"
            f"{c['median_unknown_ms']:>12.2f}{c['ratio']:>7.2f}{c['ks_d']:>7.3f}"
            f"{c['ks_p']:>10.2g}"
        )

    for index, cells in enumerate(figures["rounds"], start=1):
        lines += [row(str(index), s, cells[s]) for s in systems]
    lines.append("-" * len(head))
    lines += [row("all", s, figures["overall"][s]) for s in systems]
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
