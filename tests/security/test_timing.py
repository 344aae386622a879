"""Enumeration by timing, against the real stack: does the answer's latency tell an account?

The service runs as it is deployed: `keycloak-pwreset serve` in its own process (with the
outbox worker inside it, the default), over the session's real Keycloak and real SMTP server.
Running it out of the test process keeps the test's own HTTP client, SMTP server and logging
from sharing the service's interpreter and skewing its timings.

Each test sends 300 requests naming existing accounts and 300 naming none, in one shuffled,
interleaved order, one at a time as a patient attacker would, and times each answer at the
client. Between requests it waits until the worker has finished the previous request's work
(the outbox is empty) and a moment more, so that every answer is timed on a settled stack:
what is compared is each answer itself, where an account's existence could leak (the worker
starts on a request only after its answer has gone: web/after_answer.py). The two samples must
be indistinguishable: two-sample Kolmogorov-Smirnov p > 0.01 and medians within 5 %. Their
medians, ratios, p-values and deciles are printed at the end of the run.

Like any statistical test at a 1 % level, it would fail about once in a hundred runs even for
identical distributions; a real leak (Keycloak's own flow: ratio ~2, p ~ 1e-15, see
bench/reset_timing.py) fails it every time.

The test also checks that the existing accounts really were found (their emails arrived) and
the unknown ones were not (no email), so that it cannot pass by timing two equal nothings.
"""

from __future__ import annotations

import gc
import os
import random
import secrets
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from keycloak import KeycloakAdmin
from scipy.stats import ks_2samp

from keycloak_pwreset_demo.ports import free_port
from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from tests.helpers import FIGURES

SAMPLES = 300  # per kind: existing and unknown
ACCOUNTS = 100  # existing accounts per test, each named SAMPLES / ACCOUNTS times
WARM_UP = 20  # untimed requests first (imports, caches, connection pools)
MIN_P_VALUE = 0.01
MAX_MEDIAN_GAP = 0.05
DRAIN_TIMEOUT = 20.0
SETTLE = 0.02  # after the worker is done: let the SMTP server and Keycloak finish too
START_TIMEOUT = 60.0
SEED = 20261121
EXISTING, UNKNOWN = "existing", "unknown"

# 3 requests per account stay within the default cooldown (3 emails an hour), so every
# existing account's request really ends in an email.
assert SAMPLES % ACCOUNTS == 0 and SAMPLES // ACCOUNTS <= 3


@dataclass
class ServeProcess:
    """`keycloak-pwreset serve` as a child process, and its SQLite store."""

    url: str
    database: Path
    process: subprocess.Popen[bytes]

    def outbox_pending(self) -> int:
        # closing(): a sqlite3 connection's own "with" ends a transaction, not the connection.
        with closing(sqlite3.connect(self.database, timeout=10)) as db:
            (count,) = db.execute("SELECT count(*) FROM outbox WHERE failed_at IS NULL").fetchone()
        return int(count)

    def wait_until_idle(self) -> None:
        """Until the worker has done everything the requests so far asked for."""
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while self.outbox_pending():
            if time.monotonic() > deadline:
                raise AssertionError(f"the worker did not drain the outbox in {DRAIN_TIMEOUT} s")
            time.sleep(0.002)
        time.sleep(SETTLE)


def service_environment(realm: RealmInfo, sink: SmtpSink, port: int, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCPR_")}
    env.update(
        KCPR_KEYCLOAK_URL=realm.server_url,
        KCPR_REALM=realm.realm,
        KCPR_CLIENT_ID=realm.client_id,
        KCPR_CLIENT_SECRET=realm.client_secret,
        KCPR_PUBLIC_URL=f"http://127.0.0.1:{port}",
        KCPR_SECRET_KEY=secrets.token_hex(32),
        KCPR_DATABASE_URL=f"sqlite:///{work / 'store.db'}",
        KCPR_SMTP__HOST="127.0.0.1",
        KCPR_SMTP__PORT=str(sink.port),
        KCPR_SMTP__SECURITY="none",
        KCPR_MAIL__FROM_ADDRESS="timing@demo.example",
        # One client address sends everything here: no per-client limit may
        # interfere; the per-account email cooldown keeps its default.
        KCPR_LIMITS__REQUESTS_PER_CLIENT="1000000/minute",
        KCPR_LIMITS__TOKEN_ATTEMPTS_PER_CLIENT="1000000/minute",
        KCPR_LOG_LEVEL="WARNING",
    )
    return env


@pytest.fixture(scope="module")
def served(
    realm: RealmInfo, sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    work = tmp_path_factory.mktemp("timing")
    port = free_port()
    log = (work / "serve.log").open("wb")
    command = [sys.executable, "-m", "keycloak_pwreset", "serve"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=service_environment(realm, sink, port, work),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    served = ServeProcess(f"http://127.0.0.1:{port}", work / "store.db", process)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise AssertionError((work / "serve.log").read_text(errors="replace"))
            try:
                if requests.get(served.url + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("keycloak-pwreset serve did not become ready")
            time.sleep(0.2)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def add_accounts(admin: KeycloakAdmin, prefix: str, count: int) -> list[str]:
    """Existing accounts (no password: none is needed to be found), in one partial import."""
    names = [address_name(prefix, n) for n in range(count)]
    users = [
        {
            "username": name,
            "email": f"{name}@example.org",
            "enabled": True,
            "emailVerified": True,
            "firstName": "Timing",
            "lastName": "Person",
        }
        for name in names
    ]
    admin.partial_import_realm(
        admin.connection.realm_name, {"users": users, "ifResourceExists": "FAIL"}
    )
    return [f"{name}@example.org" for name in names]


@dataclass(frozen=True)
class Comparison:
    existing_ms: list[float]
    unknown_ms: list[float]

    @property
    def p_value(self) -> float:
        return float(ks_2samp(self.existing_ms, self.unknown_ms).pvalue)

    @property
    def median_ratio(self) -> float:
        return statistics.median(self.existing_ms) / statistics.median(self.unknown_ms)

    def quantiles(self) -> str:
        def q(xs: list[float]) -> str:
            return " ".join(f"{v:.2f}" for v in statistics.quantiles(xs, n=10))

        return f"existing {q(self.existing_ms)} | unknown {q(self.unknown_ms)}"

    def record(self, label: str) -> None:
        FIGURES[f"timing {label}: deciles (ms)"] = self.quantiles()
        FIGURES[f"timing {label}: median existing / unknown (ms)"] = (
            f"{statistics.median(self.existing_ms):.2f} / {statistics.median(self.unknown_ms):.2f}"
        )
        FIGURES[f"timing {label}: median ratio"] = f"{self.median_ratio:.3f}"
        FIGURES[f"timing {label}: KS p-value ({SAMPLES} + {SAMPLES})"] = f"{self.p_value:.3f}"


@contextmanager
def no_garbage_collection() -> Iterator[None]:
    """No collection of the test's own garbage inside a timed request (the loop makes
    little of it; a full collection per request would cost more than the request)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def timed_requests(
    served: ServeProcess,
    path: str,
    body: Callable[[str], dict[str, Any]],
    existing: list[str],
    unknown: list[str],
    warm_up: list[str],
) -> Comparison:
    """Send every request once, in a shuffled order, each on an idle service; time each."""
    rng = random.Random(SEED)
    existing, unknown = rng.sample(existing, len(existing)), rng.sample(unknown, len(unknown))
    # Interleaved in pairs, one of each kind in a random order: whatever drifts during the
    # run (caches, the database's size, the machine's other work) weighs on both alike.
    order: list[tuple[str, str]] = []
    for pair in zip(existing, unknown, strict=True):
        order += rng.sample([(EXISTING, pair[0]), (UNKNOWN, pair[1])], 2)
    times: dict[str, list[float]] = {EXISTING: [], UNKNOWN: []}
    with requests.Session() as http, no_garbage_collection():
        # One kept-alive connection, as a script would use.
        for email in warm_up:
            assert http.post(served.url + path, json=body(email), timeout=10).status_code == 202
            served.wait_until_idle()
        for kind, email in order:
            started = time.perf_counter()
            answer = http.post(served.url + path, json=body(email), timeout=10)
            elapsed = time.perf_counter() - started
            assert answer.status_code == 202, answer.text
            times[kind].append(elapsed * 1000)
            served.wait_until_idle()
    return Comparison(times[EXISTING], times[UNKNOWN])


def address_name(prefix: str, n: int) -> str:
    """Existing and unknown addresses of one length: requests differ only in who they name."""
    return f"{prefix:x<6}{n:03d}{secrets.token_hex(3)}"


def unknown_addresses(prefix: str) -> list[str]:
    return [f"{address_name(prefix, n)}@example.org" for n in range(SAMPLES)]


def assert_indistinguishable(comparison: Comparison) -> None:
    assert comparison.p_value > MIN_P_VALUE, comparison
    assert abs(comparison.median_ratio - 1) < MAX_MEDIAN_GAP, comparison.median_ratio


def delivered(sink: SmtpSink, addresses: list[str], subject: str) -> int:
    wanted = set(addresses)
    return sum(1 for m in sink.messages if subject in m.subject and wanted.intersection(m.rcpt_tos))


def test_reset_requests_take_as_long_for_existing_and_unknown_accounts(
    served: ServeProcess, admin: KeycloakAdmin, sink: SmtpSink, realm: RealmInfo
) -> None:
    accounts = add_accounts(admin, "tr", ACCOUNTS + 1)
    warm, accounts = accounts[:1], accounts[1:]
    existing = accounts * (SAMPLES // ACCOUNTS)
    unknown = unknown_addresses("trnone")
    comparison = timed_requests(
        served,
        "/api/v1/password-resets",
        lambda email: {"identifier": email},
        existing,
        unknown,
        warm_up=(warm + unknown_addresses("trwarm"))[:WARM_UP],
    )
    comparison.record("reset")
    subject = f"Reset your password for {realm.realm}"
    assert delivered(sink, accounts, subject) == SAMPLES
    assert delivered(sink, unknown, "") == 0
    assert_indistinguishable(comparison)


def test_signup_requests_take_as_long_for_existing_and_new_emails(
    served: ServeProcess, admin: KeycloakAdmin, sink: SmtpSink
) -> None:
    accounts = add_accounts(admin, "ts", ACCOUNTS)
    existing = accounts * (SAMPLES // ACCOUNTS)
    new = unknown_addresses("tsnew")

    def body(email: str) -> dict[str, Any]:
        # The test realm names accounts by username (not by email).
        username = email.split("@")[0]
        return {"email": email, "first_name": "Timing", "last_name": "Person", "username": username}

    comparison = timed_requests(
        served,
        "/api/v1/signups",
        body,
        existing,
        new,
        warm_up=unknown_addresses("tswarm")[:WARM_UP],
    )
    comparison.record("sign-up")
    # Existing emails get "you already have an account", new ones a verification link.
    assert delivered(sink, accounts, "") == SAMPLES
    assert delivered(sink, new, "") == SAMPLES
    assert_indistinguishable(comparison)
