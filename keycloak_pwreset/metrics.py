"""Prometheus metrics: the one home of prometheus-client.

What is counted, and under which labels, is decided here and nowhere else. Every
label takes its values from a small fixed set (a route's template, an HTTP status,
a result code, a job or email kind, an SMTP profile's name, a Keycloak operation's
name): never an address, a username, an account id or a token, so that a scrape
says how the service is doing and nothing about who uses it, and a stranger cannot
grow the series without bound by sending odd paths.

`serve` runs several processes (web processes and its worker child), each counting
for itself. prometheus-client's multi-process mode adds them up: each process
writes its counts to files in one directory, and a scrape reads them all. The mode
is chosen by the library when it is first imported, from PROMETHEUS_MULTIPROC_DIR,
so `serve` names that directory (``use_directory``) before anything here imports
it; that is why prometheus-client is imported in functions below, not at the top.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.registry import Collector

    from keycloak_pwreset.store.outbox import OutboxDepth

MULTIPROC_VAR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Keycloak answers in milliseconds on a LAN, seconds when it is struggling; the
# gateway's own timeout (10 s by default) caps the top.
KEYCLOAK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def use_directory(directory: Path | None = None) -> Path:
    """Count in multi-process mode, in ``directory`` (a fresh private one if None).

    For `serve`, before the first metric exists: its web processes and worker child
    inherit the variable and count into the same directory. The directory is
    emptied, as the library requires: files left by an earlier run would add old
    counts to new ones.
    """
    if "prometheus_client.values" in sys.modules and not os.environ.get(MULTIPROC_VAR):
        raise RuntimeError("metrics were counted before serve chose multi-process mode")
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="kcpr-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob("*.db"):
        leftover.unlink()
    os.environ[MULTIPROC_VAR] = str(directory)
    return directory


def forget_directory(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


class Metrics:
    """This process's counters, and the registry a scrape reads."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        # Our own registry, not the library's global one: every Services built in one
        # process (the tests build many) counts on its own.
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "kcpr_http_requests",
            "HTTP requests answered, by route template, method, status and result code",
            ["route", "method", "status", "result"],
            registry=self.registry,
        )
        self.jobs = Counter(
            "kcpr_jobs",
            "Outbox jobs worked, by kind and outcome (done, retried, failed)",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.emails = Counter(
            "kcpr_emails_sent",
            "Emails handed to an SMTP server, by kind and SMTP profile",
            ["kind", "profile"],
            registry=self.registry,
        )
        self.keycloak = Histogram(
            "kcpr_keycloak_request_duration_seconds",
            "Calls to Keycloak's API, by operation and outcome (ok, error)",
            ["operation", "outcome"],
            buckets=KEYCLOAK_BUCKETS,
            registry=self.registry,
        )
        self.refusals = Counter(
            "kcpr_rate_limit_refusals",
            "Requests refused and emails withheld by a limit, by limit",
            ["limit"],
            registry=self.registry,
        )

    def request(self, route: str, method: str, status: int, result: str) -> None:
        self.requests.labels(route, method, str(status), result).inc()

    def job(self, kind: str, outcome: str) -> None:
        self.jobs.labels(kind, outcome).inc()

    def email_sent(self, kind: str, profile: str) -> None:
        self.emails.labels(kind, profile).inc()

    def refused(self, limit: str) -> None:
        self.refusals.labels(limit).inc()

    @contextmanager
    def keycloak_call(self, operation: str) -> Iterator[None]:
        """Time one call to Keycloak; an exception counts it as an error and goes on."""
        started = time.perf_counter()
        outcome = "error"
        try:
            yield
            outcome = "ok"
        finally:
            self.keycloak.labels(operation, outcome).observe(time.perf_counter() - started)

    def scrape_registry(self, *extra: Collector) -> CollectorRegistry:
        """What a scrape reads: every process's counts (or this one's), and ``extra``.

        ``extra`` are collectors asked at each scrape, such as the outbox's depth,
        read from the database rather than counted by any one process.
        """
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        directory = os.environ.get(MULTIPROC_VAR)
        if directory:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        else:
            registry = self.registry
        for collector in extra:
            registry.register(collector)
        return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The Prometheus text format of a scrape."""
    from prometheus_client import generate_latest

    return generate_latest(registry)


class OutboxGauges:
    """The outbox's depth and the age of its oldest due job, read when a scrape asks.

    From the database, not counted by a process: every instance's scrape agrees. A
    read that fails (the database is down) leaves them out of that scrape rather
    than failing it: the counters still tell the story of the outage.
    """

    def __init__(self, read: Callable[[], OutboxDepth]) -> None:
        self.read = read

    def describe(self) -> list[Any]:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        try:
            depth = self.read()
        except Exception:
            return
        jobs = GaugeMetricFamily(
            "kcpr_outbox_jobs",
            "Outbox jobs by state: due (waiting for a worker), later (a retry), failed",
            labels=["state"],
        )
        jobs.add_metric(["due"], depth.due)
        jobs.add_metric(["later"], depth.later)
        jobs.add_metric(["failed"], depth.failed)
        yield jobs
        yield GaugeMetricFamily(
            "kcpr_outbox_oldest_due_age_seconds",
            "How long the oldest due job has waited (0 when none is due)",
            value=depth.oldest_due_age_seconds,
        )


def start_listener(registry: CollectorRegistry, host: str, port: int) -> Callable[[], None]:
    """Serve ``registry`` at http://host:port/metrics in a thread; returns its stop."""
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
