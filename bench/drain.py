"""How fast does the worker drain the outbox? N reset requests for N real accounts, one email each.

Starts the demo and test stack (a real Keycloak, a loopback SMTP sink, the service with its
worker at its default pool size), creates N accounts in one partial import, queues N reset
requests through the JSON API, and measures emails per second from the first request to the
last email at the sink. Checks that every account got exactly one email, and counts the
Keycloak admin calls per job with a response hook on the gateway's HTTP session.

    flock /tmp/bench.lock python3 bench/drain.py [--accounts 300] [--json drain.json]
"""

from __future__ import annotations

import argparse
import json
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
from reset_timing_stack import BENCH_LIMITS

from keycloak_pwreset_demo.realm import RealmInfo, admin_client
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import KeycloakHandle, ServiceHandle

LOOPBACK = "http://127.0.0.1:"
MAIL_WAIT_SECONDS = 90.0
# Requests are queued from a few client threads, so that queueing 300 takes well under a second
# and the figure is the worker's, not the client's.
CLIENT_THREADS = 4


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


def count_admin_calls(service: ServiceHandle) -> Counter[str]:
    """Every admin API call the gateway makes from now on, by method and resource kind."""
    calls: Counter[str] = Counter()
    session: requests.Session = service.services.gateway._connection._s  # type: ignore[attr-defined]

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        path = response.request.path_url.split("?")[0]
        kind = "roles" if "role-mappings" in path else "users" if "/users" in path else "other"
        calls[f"{response.request.method} {kind}"] += 1

    session.hooks["response"].append(hook)
    return calls


def queue_requests(service_url: str, addresses: list[str]) -> float:
    """POST one reset request per address; return when the first was sent (epoch seconds)."""

    def post(address: str) -> None:
        answer = http.post(
            f"{service_url}/api/v1/password-resets", json={"identifier": address}, timeout=30
        )
        if answer.status_code != 202:
            raise RuntimeError(f"service answered HTTP {answer.status_code}: {answer.text[:200]}")

    http = requests.Session()
    http.trust_env = False  # loopback only, no proxy from the environment
    http.get(f"{service_url}/healthz", timeout=10).raise_for_status()
    started = time.time()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        list(pool.map(post, addresses))
    return started


def wait_for_mail(sink: SmtpSink, expected: int) -> None:
    deadline = time.monotonic() + MAIL_WAIT_SECONDS
    while sink.count() < expected and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(1.0)  # a duplicate would arrive now


def measure(service: ServiceHandle, sink: SmtpSink, addresses: list[str]) -> dict[str, Any]:
    calls = count_admin_calls(service)
    first = queue_requests(service.url, addresses)
    queued = time.time() - first
    wait_for_mail(sink, len(addresses))
    messages = sink.messages
    last = max((m.received_at.timestamp() for m in messages), default=time.time())
    per_account = Counter(r for m in messages for r in m.rcpt_tos)
    wanted = set(addresses)
    elapsed = last - first
    jobs = len(addresses)
    return {
        "accounts": jobs,
        "emails": len(messages),
        "queue_seconds": round(queued, 3),
        "seconds_to_last_email": round(elapsed, 3),
        "emails_per_second": round(len(messages) / elapsed, 1) if elapsed > 0 else 0.0,
        "exactly_once": all(per_account[a] == 1 for a in wanted) and set(per_account) == wanted,
        "accounts_without_email": sum(1 for a in wanted if per_account[a] == 0),
        "accounts_with_duplicates": sum(1 for a in wanted if per_account[a] > 1),
        "outbox_pending": service.services.outbox.pending_count(),
        "keycloak_calls": dict(calls),
        "keycloak_calls_per_job": round(sum(calls.values()) / jobs, 2),
        "worker_concurrency": getattr(service.services.worker, "concurrency", 1),
    }


def run(accounts: int, work: Path, warmup: int = 0) -> dict[str, Any]:
    keycloak = KeycloakHandle.start(work, progress=log)
    sink = SmtpSink()
    service = None
    try:
        realm: RealmInfo = keycloak.new_realm(f"drain-{secrets.token_hex(3)}")
        sink.start()
        addresses = import_accounts(keycloak, realm.realm, accounts)
        warm = import_accounts(keycloak, realm.realm, warmup) if warmup else []
        service = ServiceHandle.start(realm, sink, work / "service", limits=BENCH_LIMITS)
        for url in (keycloak.server.url, service.url):
            if not url.startswith(LOOPBACK):
                raise RuntimeError(f"not on loopback: {url}")
        if warm:
            # A running site's Keycloak has compiled its hot paths; a fresh one has not.
            log(f"warming up with {warmup} reset requests for other accounts (not measured)")
            measure(service, sink, warm)
            sink.clear()
        log(f"{accounts} accounts in realm {realm.realm}; queueing {accounts} reset requests")
        return {**measure(service, sink, addresses), "warmup_jobs": warmup}
    finally:
        if service is not None:
            service.stop()
        sink.stop()
        keycloak.stop()


def print_table(results: list[dict[str, Any]]) -> None:
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("accounts / emails", lambda r: f"{r['accounts']} / {r['emails']}"),
        ("worker concurrency", lambda r: str(r["worker_concurrency"])),
        ("queueing the requests (s)", lambda r: str(r["queue_seconds"])),
        ("first request to last email (s)", lambda r: str(r["seconds_to_last_email"])),
        ("emails/s", lambda r: str(r["emails_per_second"])),
        ("Keycloak admin calls per job", lambda r: str(r["keycloak_calls_per_job"])),
        ("every account exactly one email", lambda r: "yes" if r["exactly_once"] else "NO"),
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
        "--warmup", type=int, default=200, help="reset requests drained first, not measured"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    results = []
    for number in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="kcpr-drain-") as work:
            log(f"run {number + 1} of {args.runs}")
            results.append(run(args.accounts, Path(work), args.warmup))
    print_table(results)
    if args.json is not None:  # not by default: no stray file in the working directory
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0 if all(r["exactly_once"] and not r["outbox_pending"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
