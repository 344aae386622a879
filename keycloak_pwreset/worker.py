"""The worker: drains the outbox, retrying with backoff until each job is done.

It runs in a thread inside `serve` by default, or on its own as
`keycloak-pwreset worker`; several workers may share one database (leases keep
them from doing the same job at once).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from keycloak_pwreset.errors import PwresetError
from keycloak_pwreset.store.outbox import Outbox

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]

# Woken by a request, the worker first lets the answer travel: its work for a real
# account (token, email) must not compete with that answer for the CPU, or answers
# about real accounts would come measurably later (see web/after_answer.py).
SETTLE_SECONDS = 0.05


class Worker:
    def __init__(
        self, outbox: Outbox, handlers: dict[str, Handler], *, poll_seconds: float = 2.0
    ) -> None:
        self.outbox = outbox
        self.handlers = handlers
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """New work was recorded: do not wait for the next poll."""
        self._wake.set()

    def run_once(self) -> int:
        """Lease and run every due job once; return how many succeeded."""
        done = 0
        while not self._stop.is_set():
            jobs = self.outbox.lease_due(limit=20)
            if not jobs:
                break
            for job in jobs:
                handler = self.handlers.get(job.kind)
                try:
                    if handler is None:
                        raise PwresetError(f"no handler for job kind {job.kind!r}")
                    handler(job.payload)
                except PwresetError as exc:  # an expected outage: SMTP or Keycloak down
                    when = self.outbox.retry_later(job, str(exc))
                    log.warning(
                        "job %s #%d failed (attempt %d): %s; next attempt %s",
                        job.kind,
                        job.id,
                        job.attempts,
                        exc,
                        when or "never (gave up)",
                    )
                except Exception as exc:  # a bug must not stop the worker or lose the job
                    log.exception("job %s #%d crashed", job.kind, job.id)
                    self.outbox.retry_later(job, f"{type(exc).__name__}: {exc}")
                else:
                    self.outbox.complete(job.id)
                    done += 1
        return done

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database went away, say: keep polling
                log.exception("outbox poll failed")
            if self._wake.wait(self.poll_seconds):
                self._stop.wait(SETTLE_SECONDS)
            self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="outbox-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
