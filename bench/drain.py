"""How fast does the worker drain the outbox? N reset requests for N real accounts, one email each.

Runs the product the way `keycloak-pwreset serve` runs by default: the service in a process of
its own, with its worker as that process's child (at its default pool size and priority), on a
real Keycloak, and a loopback SMTP sink in a third process. Creates N accounts in one partial
import, drains a warm-up of other accounts' requests unmeasured, queues N reset requests
through the JSON API, and measures emails per second from the first request to the last email
at the sink. Checks that every account got exactly one email and that the outbox is empty, and
counts the Keycloak calls per job from the service's own metrics (`GET /metrics`).

    flock /tmp/bench.lock env PYTHONPATH=. python3 bench/drain.py [--accounts 300] [--runs 3]
        [--warmup 1000] [--keycloak-warmup 60] [--json drain.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import throughput_servers
from drain_cpu import jvm_cpu, jvm_of, tree_cpu
from drain_sink import SinkProcess
from reset_timing_stack import BENCH_LIMITS
from throughput_servers import Server

from keycloak_pwreset.gateway import KeycloakGateway
from keycloak_pwreset_demo.ports import LOOPBACK, free_port
from keycloak_pwreset_demo.realm import RealmInfo, admin_client
from keycloak_pwreset_demo.stack import KeycloakHandle

MAIL_WAIT_SECONDS = 90.0
JIT_QUIET = 0.10  # of a core: Keycloak's compiler threads are done enough
# Requests are queued from a few client threads, so that queueing 300 takes well under a second
# and the figure is the worker's, not the client's.
CLIENT_THREADS = 4
METRICS_TOKEN = secrets.token_hex(32)
KEYCLOAK_CALLS = re.compile(
    r"^kcpr_keycloak_request_duration_seconds_count\{([^}]*)\} ([0-9.e+]+)$", re.MULTILINE
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def import_accounts(keycloak: KeycloakHandle, realm: str, count: int) -> list[str]:
    """``count`` enabled, verified accounts in one partial import; return their addresses.

    No passwords: a reset does not need one, and hashing 300 would only slow the set-up.
    """
    tag = secrets.token_hex(3)
    addresses = [f"drain-{tag}-{i:04d}@bench.example" for i in range(count)]
    users = [
        {
            "username": address.split("@")[0],
            "email": address,
            "enabled": True,
            "emailVerified": True,
            "firstName": "Drain",
            "lastName": f"User {i}",
        }
        for i, address in enumerate(addresses)
    ]
    s = keycloak.server
    admin = admin_client(s.url, s.admin_user, s.admin_password, realm)
    admin.partial_import_realm(realm, {"ifResourceExists": "FAIL", "users": users})
    return addresses


def service_env(realm: RealmInfo, sink: SinkProcess, work: Path, port: int) -> dict[str, str]:
    """throughput.py's settings (SQLite in ``work``, no CAPTCHA), with this realm, the sink, the
    worker on, the limits the bench does not measure raised (BENCH_LIMITS), metrics by token."""
    env = throughput_servers.service_env(work, port)
    del env["KCPR_RUN_WORKER"], env["KCPR_LIMITS__ENABLED"]
    env.update({f"KCPR_LIMITS__{name.upper()}": str(v) for name, v in BENCH_LIMITS.items()})
    env.update(
        {
            "KCPR_KEYCLOAK_URL": realm.server_url,
            "KCPR_REALM": realm.realm,
            "KCPR_CLIENT_ID": realm.client_id,
            "KCPR_CLIENT_SECRET": realm.client_secret,
            "KCPR_SMTP__PORT": str(sink.port),
            "KCPR_SMTP__SECURITY": "none",
            "KCPR_METRICS_TOKEN": METRICS_TOKEN,
        }
    )
    # Settings under test (KCPR_WORKER__CONCURRENCY, say) pass through as DRAIN_KCPR_*.
    env.update({k[6:]: v for k, v in os.environ.items() if k.startswith("DRAIN_KCPR_")})
    return env


def keycloak_calls(http: requests.Session, service_url: str) -> Counter[str]:
    """Keycloak calls so far, by operation, from the service's metrics (web and worker)."""
    answer = http.get(
        f"{service_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
    )
    answer.raise_for_status()
    calls: Counter[str] = Counter()
    for labels, value in KEYCLOAK_CALLS.findall(answer.text):
        operation = re.search(r'operation="([^"]*)"', labels)
        calls[operation.group(1) if operation else "?"] += int(float(value))
    return calls


def queue_requests(http: requests.Session, service_url: str, addresses: list[str]) -> float:
    """POST one reset request per address; return when the first was sent (epoch seconds)."""

    def post(address: str) -> None:
        answer = http.post(
            f"{service_url}/api/v1/password-resets", json={"identifier": address}, timeout=30
        )
        if answer.status_code != 202:
            raise RuntimeError(f"service answered HTTP {answer.status_code}: {answer.text[:200]}")

    started = time.time()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        list(pool.map(post, addresses))
    return started


def wait_for_mail(sink: SinkProcess, expected: int) -> None:
    deadline = time.monotonic() + MAIL_WAIT_SECONDS
    while sink.count() < expected and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(1.0)  # a duplicate would arrive now


def warm_keycloak(realm: RealmInfo, addresses: list[str], seconds: float, jvm: int | None) -> str:
    """The worker's admin calls (the gateway's own), straight at Keycloak from 8 threads.

    A fresh JVM spends most of a core compiling for minutes; a site's Keycloak has long since
    compiled its admin API. Rounds of 1,000 jobs until the compiler threads use under 10 % of
    a core in a round, or ``seconds`` have passed. Returns what it did, for the log.
    """
    gateway = KeycloakGateway(realm.server_url, realm.realm, realm.client_id, realm.client_secret)

    def job(n: int) -> None:
        user = gateway.find_user(addresses[n % len(addresses)])
        if user is None or gateway.is_protected(user.id):
            raise RuntimeError("a warm-up account was not found as an ordinary account")

    started = time.monotonic()
    jobs, share = 0, 1.0
    with ThreadPoolExecutor(8) as pool:
        while share >= JIT_QUIET and time.monotonic() - started < seconds:
            _, compiling = jvm_cpu(jvm)
            round_started = time.monotonic()
            list(pool.map(job, range(jobs, jobs + 1000)))
            share = (jvm_cpu(jvm)[1] - compiling) / (time.monotonic() - round_started)
            jobs += 1000
    elapsed = time.monotonic() - started
    return f"{jobs} jobs in {elapsed:.0f} s ({jobs / elapsed:.0f}/s); JIT at {share:.0%} of a core"


def cpu_now(jvm: int | None, service: int | None) -> tuple[float, float, float]:
    """(Keycloak, its JIT compiler, the service with its worker) CPU seconds so far."""
    return (*jvm_cpu(jvm), tree_cpu(service))


def measure(
    service_url: str,
    sink: SinkProcess,
    addresses: list[str],
    pids: tuple[int | None, int | None] = (None, None),
) -> dict[str, Any]:
    """Queue a reset request per address, wait for the mail; ``pids``: (the JVM, the service)."""
    http = requests.Session()
    http.trust_env = False  # loopback only, no proxy from the environment
    sink.clear()
    before, cpu_before = keycloak_calls(http, service_url), cpu_now(*pids)
    first = queue_requests(http, service_url, addresses)
    queued = time.time() - first
    wait_for_mail(sink, len(addresses))
    received = sink.received()
    calls = keycloak_calls(http, service_url) - before
    # Per job, and including the 1 s waited for duplicates after the last email.
    spent = zip(cpu_before, cpu_now(*pids), strict=True)
    cpu = [round(1000 * (b - a) / len(addresses), 1) for a, b in spent]
    last = max((at for _, at in received), default=time.time())
    per_account = Counter(r for rcpt_tos, _ in received for r in rcpt_tos)
    wanted = set(addresses)
    elapsed = last - first
    return {
        "accounts": len(addresses),
        "emails": len(received),
        "queue_seconds": round(queued, 3),
        "seconds_to_last_email": round(elapsed, 3),
        "emails_per_second": round(len(received) / elapsed, 1) if elapsed > 0 else 0.0,
        "exactly_once": all(per_account[a] == 1 for a in wanted) and set(per_account) == wanted,
        "accounts_without_email": sum(1 for a in wanted if per_account[a] == 0),
        "accounts_with_duplicates": sum(1 for a in wanted if per_account[a] > 1),
        "keycloak_calls": dict(calls),
        "keycloak_calls_per_job": round(sum(calls.values()) / len(addresses), 2),
        "keycloak_cpu_ms_per_job": cpu[0],
        "keycloak_jit_cpu_ms_per_job": cpu[1],
        "service_cpu_ms_per_job": cpu[2],
    }


def run(accounts: int, work: Path, warmup: int, keycloak_warmup: float) -> dict[str, Any]:
    keycloak = KeycloakHandle.start(work, progress=log)
    sink = SinkProcess()
    service: Server | None = None
    try:
        realm = keycloak.new_realm(f"drain-{secrets.token_hex(3)}")
        sink.start()
        addresses = import_accounts(keycloak, realm.realm, accounts)
        warm = import_accounts(keycloak, realm.realm, warmup) if warmup else []
        port = free_port()
        command = [sys.executable, "-m", "keycloak_pwreset", "serve", "--host", LOOPBACK]
        command += ["--port", str(port)]
        service = Server("service", command, service_env(realm, sink, work, port), work)
        service_url = f"http://{LOOPBACK}:{port}"
        service.start(f"{service_url}/healthz")
        jvm = jvm_of(keycloak.server.pid)
        if keycloak_warmup:
            log(f"warming Keycloak up with the worker's admin calls (at most {keycloak_warmup} s)")
            log("  " + warm_keycloak(realm, warm or addresses, keycloak_warmup, jvm))
        if warm:
            log(f"warming up with {warmup} reset requests for other accounts (not measured)")
            measure(service_url, sink, warm)
        log(f"{accounts} accounts in realm {realm.realm}; queueing {accounts} reset requests")
        process = service.process
        pids = (jvm, process.pid if process is not None else None)
        result = measure(service_url, sink, addresses, pids)
        service.check_alive()
        return {
            **result,
            "outbox_pending": throughput_servers.outbox_rows(work),
            "warmup_jobs": warmup,
            "keycloak_warmup_seconds": keycloak_warmup,
        }
    finally:
        if service is not None:
            service.stop()
        sink.stop()
        keycloak.stop()


def print_table(results: list[dict[str, Any]]) -> None:
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("accounts / emails", lambda r: f"{r['accounts']} / {r['emails']}"),
        ("queueing the requests (s)", lambda r: str(r["queue_seconds"])),
        ("first request to last email (s)", lambda r: str(r["seconds_to_last_email"])),
        ("emails/s", lambda r: str(r["emails_per_second"])),
        ("Keycloak calls per job", lambda r: str(r["keycloak_calls_per_job"])),
        ("Keycloak CPU ms per job", lambda r: str(r["keycloak_cpu_ms_per_job"])),
        ("  of which its JIT compiler", lambda r: str(r["keycloak_jit_cpu_ms_per_job"])),
        ("service CPU ms per job (+ worker)", lambda r: str(r["service_cpu_ms_per_job"])),
        ("every account exactly one email", lambda r: "yes" if r["exactly_once"] else "NO"),
        ("outbox left", lambda r: str(r["outbox_pending"])),
    ]
    for label, cell in rows:
        print(f"{label:<34}" + "".join(f"{cell(r):>12}" for r in results))
    if len(results) > 1:
        rates = [r["emails_per_second"] for r in results]
        print(f"{'median emails/s':<34}{statistics.median(rates):>12}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--runs", type=int, default=1, help="fresh stack per run")
    parser.add_argument(
        "--warmup", type=int, default=1000, help="reset requests drained first, not measured"
    )
    parser.add_argument(
        "--keycloak-warmup",
        type=float,
        default=60,
        help="seconds at most of the worker's admin calls straight at Keycloak, first",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    results = []
    for number in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="kcpr-drain-") as work:
            log(f"run {number + 1} of {args.runs}")
            results.append(run(args.accounts, Path(work), args.warmup, args.keycloak_warmup))
    print_table(results)
    if args.json is not None:  # not by default: no stray file in the working directory
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0 if all(r["exactly_once"] and r["outbox_pending"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
