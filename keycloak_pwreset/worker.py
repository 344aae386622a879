"""The worker: drains the outbox, retrying with backoff until each job is done.

It runs as `keycloak-pwreset worker`, which `serve` starts as a child process
by default (worker_process.py); several workers may share one database (leases
keep them from doing the same job at once). Within one worker, up to its
concurrency of jobs run at once, and turns.py keeps those for one person in
order. It also runs the retention sweep.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from keycloak_pwreset.audit import audit
from keycloak_pwreset.clock import Clock, utc_now
from keycloak_pwreset.errors import LeaseLost, MailRejected, PwresetError, UnreadablePayload
from keycloak_pwreset.metrics import Metrics
from keycloak_pwreset.store.db import first_line
from keycloak_pwreset.store.outbox import LEASE, Outbox, OutboxJob
from keycloak_pwreset.turns import Turns

log = logging.getLogger(__name__)

J = TypeVar("J")

# Woken by a request, the worker first lets the answer travel: its work for a real
# account (token, email) must not compete with that answer for the CPU, or answers
# about real accounts would come measurably later (see web/after_answer.py).
SETTLE_SECONDS = 0.05
# Jobs leased at once. The heartbeat keeps the whole batch's lease alive however
# slow its jobs are, so the size is not about safety: small, so that jobs held
# but not yet started are few (another worker could be doing them) and a new
# client's first job waits behind at most this many (the fairness of lease_due
# applies again at every batch).
BATCH = 5
# Renewed well before it could run out: three beats may be missed in a row.
HEARTBEAT_SECONDS = LEASE.total_seconds() / 4
RETENTION_EVERY = timedelta(hours=1)


class Heartbeat:
    """Renews the leases in use in a thread of its own while their jobs are worked.

    A thread, not a renewal between jobs: one job can take longer than the
    lease (an SMTP server that answers slowly, up to its timeout at every
    step), and its lease must not run out while it runs, or a second worker
    would do it too. If this process dies, the beats stop and the leases run out.
    Created with a lease id, it renews that one; ``hold``/``release`` add and
    drop leases while it runs (the pool leases as slots free up).
    """

    def __init__(self, outbox: Outbox, lease_id: str | None, every: float) -> None:
        self._outbox = outbox
        self._every = every
        self._held: Counter[str] = Counter()
        if lease_id is not None:
            self._held[lease_id] = 1
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="outbox-heartbeat", daemon=True)

    def hold(self, lease_id: str, jobs: int) -> None:
        with self._lock:
            self._held[lease_id] += jobs

    def release(self, lease_id: str) -> None:
        """One job of this lease is finished; the lease is dropped with its last."""
        with self._lock:
            self._held[lease_id] -= 1
            if self._held[lease_id] <= 0:
                del self._held[lease_id]

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._done.wait(self._every):
            with self._lock:
                leases = list(self._held)
            for lease_id in leases:
                try:
                    self._outbox.renew(lease_id)
                except Exception:  # the database blinked: the next beat tries again
                    log.exception("could not renew an outbox lease")


class Handler:
    """One kind of job: how to read its row's payload, and how to do it.

    Generic in its constructor only: mypy checks that ``run`` takes what
    ``decode`` makes, and the worker still holds every kind in one mapping.
    """

    def __init__(
        self, decode: Callable[[Mapping[str, object]], J], run: Callable[[J], None]
    ) -> None:
        self._decode: Callable[[Mapping[str, object]], object] = decode
        self._run: Callable[[Any], None] = run

    def __call__(self, job: OutboxJob) -> None:
        """Read the job, then do it; UnreadablePayload if it cannot be read.

        Reading is pure: a payload that cannot be read now never will be, so
        whatever goes wrong while reading is permanent. Only its type is kept,
        never its message, which could quote the payload.
        """
        try:
            work = self._decode(job.payload)
        except UnreadablePayload:
            raise
        except Exception as exc:
            reason = f"the {job.kind} payload cannot be read ({type(exc).__name__})"
            raise UnreadablePayload(reason) from None
        self._run(work)


class Worker:
    def __init__(
        self,
        outbox: Outbox,
        handlers: Mapping[str, Handler],
        *,
        poll_seconds: float = 2.0,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        retention: Callable[[], object] | None = None,
        clock: Clock = utc_now,
        concurrency: int = 1,
        turns: Turns | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.outbox = outbox
        self.metrics = metrics or Metrics()
        # Jobs worked at once (KCPR_WORKER__CONCURRENCY); 1 works them in the caller's thread.
        self.concurrency = max(1, concurrency)
        # The flows' Turns: the pool's jobs for one person act one at a time, in order.
        self.turns = turns or Turns()
        self.handlers = handlers
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.retention = retention
        self._clock = clock
        self._swept_at: datetime | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._store_down = False

    def wake(self) -> None:
        """New work was recorded: do not wait for the next poll."""
        self._wake.set()

    def run_once(self) -> int:
        """Lease and run every due job once; return how many succeeded."""
        if self.concurrency > 1:
            return self._run_pool()
        done = 0
        while not self._stop.is_set():
            jobs = self.outbox.lease_due(limit=BATCH)
            if not jobs:
                break
            with Heartbeat(self.outbox, jobs[0].lease_id, self.heartbeat_seconds):
                done += sum(self._work(job) for job in jobs)
        return done

    def _run_pool(self) -> int:
        """``run_once`` with up to ``concurrency`` jobs at once, in threads.

        A job is leased only when a thread is free for it, so no job is held
        unstarted (another worker could be doing it), and lease_due's fairness
        between clients applies again at every lease. On stop no more jobs are
        leased and the running ones finish; a job cut off by the process ending
        keeps its lease until it runs out, and is then tried again.
        """
        done = 0
        running: dict[Future[bool], str] = {}
        # The heartbeat outlives the pool: it beats until the last job has finished.
        with (
            Heartbeat(self.outbox, None, self.heartbeat_seconds) as beat,
            ThreadPoolExecutor(self.concurrency, thread_name_prefix="outbox-job") as pool,
        ):
            while True:
                if not self._stop.is_set():
                    self._lease_into(pool, beat, running)
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    beat.release(running.pop(future))
                    done += self._outcome(future)
        return done

    @staticmethod
    def _outcome(future: Future[bool]) -> bool:
        """A job's result; one whose outcome could not be recorded stays leased, then retried."""
        try:
            return future.result()
        except Exception:  # the database blinked: the other jobs go on
            log.exception("could not record an outbox job's outcome")
            return False

    def _lease_into(
        self, pool: ThreadPoolExecutor, beat: Heartbeat, running: dict[Future[bool], str]
    ) -> None:
        """Lease as many due jobs as there are free threads, and start them."""
        free = self.concurrency - len(running)
        # Leased a few at a time, not one per finished job: each lease ranks every due row.
        if free <= 0 or (running and free < min(BATCH, max(1, self.concurrency // 4))):
            return
        jobs = self.outbox.lease_due(limit=free)
        if jobs:
            beat.hold(jobs[0].lease_id, len(jobs))
        for job in jobs:
            self.turns.begin(job.id)  # here, in lease order, before any of them runs
            running[pool.submit(self._work_in_turn, job)] = job.lease_id

    def _work_in_turn(self, job: OutboxJob) -> bool:
        with self.turns.job(job.id):
            return self._work(job)

    def _work(self, job: OutboxJob) -> bool:
        try:
            return self._attempt(job)
        except LeaseLost:
            # Only if this process stalled for longer than a lease (beats missed):
            # the job is another worker's now, and so is recording its outcome.
            log.warning("job %s #%d was taken over by another worker", job.kind, job.id)
            return False

    def _attempt(self, job: OutboxJob) -> bool:
        """Run one job and record its outcome; True if it succeeded."""
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise PwresetError(f"no handler for job kind {job.kind!r}")
            handler(job)
        except (MailRejected, UnreadablePayload) as exc:  # for good: retrying cannot help
            self.outbox.fail(job, str(exc))
            self.metrics.job(job.kind, "failed")
            audit("job_failed", kind=job.kind, reason=str(exc))
            log.warning("job %s #%d failed for good: %s", job.kind, job.id, exc)
            return False
        except PwresetError as exc:  # an expected outage: SMTP or Keycloak down
            self._retry(job, str(exc))
            return False
        except Exception as exc:  # a bug must not stop the worker or lose the job
            log.exception("job %s #%d crashed", job.kind, job.id)
            self._retry(job, f"{type(exc).__name__}: {exc}")
            return False
        self.outbox.complete(job)
        self.metrics.job(job.kind, "done")
        return True

    def _retry(self, job: OutboxJob, error: str) -> None:
        when = self.outbox.retry_later(job, error)
        self.metrics.job(job.kind, "retried" if when else "failed")
        log.warning(
            "job %s #%d failed (attempt %d): %s; next attempt %s",
            job.kind,
            job.id,
            job.attempts,
            error,
            when or "never (gave up)",
        )
        if when is None:
            audit("job_failed", kind=job.kind, reason=f"gave up after {job.attempts} attempts")

    def sweep_if_due(self) -> bool:
        """Run the retention sweep if none ran in the last RETENTION_EVERY; True if it ran."""
        now = self._clock()
        if self.retention is None or (
            self._swept_at is not None and now - self._swept_at < RETENTION_EVERY
        ):
            return False
        # Noted first: a sweep that fails is tried again in an hour, not at every poll.
        self._swept_at = now
        self.retention()
        return True

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
                self.sweep_if_due()
            except SQLAlchemyError as exc:  # the database went away: keep polling
                self._store_unreachable(exc)
            except Exception:  # a bug: say where, and keep polling
                log.exception("outbox poll failed")
            else:
                self._store_unreachable(None)
            if self._wake.wait(self.poll_seconds):
                self._stop.wait(SETTLE_SECONDS)
            self._wake.clear()

    def _store_unreachable(self, exc: SQLAlchemyError | None) -> None:
        """One line when the database goes away and one when it is back, not one a poll."""
        if exc is not None and not self._store_down:
            log.warning(
                "the database is unreachable (%s); the worker keeps trying", first_line(exc)
            )
        elif exc is None and self._store_down:
            log.info("the database is reachable again; the worker goes on")
        self._store_down = exc is not None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="outbox-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
