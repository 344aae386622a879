"""Turns: the worker's concurrent jobs for one person act one at a time, in order.

The worker runs several jobs at once. Two of them can be for the same person
(a sign-up for an address that has an account, then a reset for its
username), and each mints a link, checks the email cooldown and sends: run
side by side, the later request could mint first and send last, so that the
email that arrives last carries a superseded link, or both could pass the
cooldown check before either counted its email.

Which person a job is for is only known once it has looked the account up,
so jobs cannot be grouped when they are leased. Instead each running job is
registered when leased, in order, as undecided; a job that knows its person
(``turn(owner)``) waits until no earlier job is undecided or for the same
person, then acts. The earliest running job never waits, so this cannot
deadlock; a wait lasts at most as long as an earlier job's look-up (or, for
the same person, its whole job). Jobs outside the worker's pool (one at a
time, or tests calling a flow directly) take their turn at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_UNDECIDED = object()


class Turns:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running: dict[int, object] = {}  # job id -> its owner, or _UNDECIDED
        self._local = threading.local()

    def begin(self, job_id: int) -> None:
        """A job is leased to the pool: later jobs for its person, whoever that is, wait for it."""
        with self._changed:
            self._running[job_id] = _UNDECIDED

    def end(self, job_id: int) -> None:
        with self._changed:
            self._running.pop(job_id, None)
            self._changed.notify_all()

    @contextmanager
    def job(self, job_id: int) -> Iterator[None]:
        """Run in the job's thread: ``turn`` then knows which job is asking."""
        self._local.job_id = job_id
        try:
            yield
        finally:
            self._local.job_id = None
            self.end(job_id)

    @contextmanager
    def turn(self, owner: str) -> Iterator[None]:
        """Act for ``owner`` (an account id, or an address with no account) in this job's turn."""
        job_id = getattr(self._local, "job_id", None)
        if job_id is not None:
            with self._changed:
                self._running[job_id] = owner
                self._changed.wait_for(lambda: not self._earlier(job_id, owner))
        yield

    def _earlier(self, job_id: int, owner: str) -> bool:
        return any(
            other < job_id and held in (_UNDECIDED, owner) for other, held in self._running.items()
        )
