"""Turns: the worker's concurrent jobs for one person act one at a time, in order.

The worker runs several jobs at once. Two of them can be for the same person
(a sign-up for an address that has an account, then a reset for its
username), and each mints a link, checks the email cooldown and sends: run
side by side, the later request could mint first and send last, so that the
email that arrives last carries a superseded link, or both could pass the
cooldown check before either counted its email.

Which person a job is for is only known once it has looked the account up,
so jobs cannot be grouped when they are leased. Instead each running job is
registered when leased, numbered in lease order, as undecided; a job that
knows its person (``turn(owner)``) waits until no job leased before it is
still undecided or for the same person, then acts. Leases follow request
order within each client network (outbox.lease_due), so one network's
requests for one person act in the order they were made. Only jobs leased
before it count: jobs leased later (a flood from another network, say) can
never hold a job back, however many there are; the wait lasts at most one
earlier job's look-up (or, for the same person, its whole job). The first
leased job never waits, so this cannot deadlock. Jobs outside the worker's
pool (one at a time, or tests calling a flow directly) take their turn at once.

Between processes (several workers on one PostgreSQL database) the turn also
holds a lock named after the person (``across``: store/locks.py), so their
jobs for one person act one at a time too; in which order, between two
processes, is the order they reach it.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

_UNDECIDED = object()


class Turns:
    def __init__(self, across: Callable[[str], AbstractContextManager[None]] | None = None) -> None:
        # Held while acting, so that other processes' jobs for the owner wait too
        # (store/locks.py: an advisory lock on PostgreSQL); none by default.
        self._across = across or (lambda _owner: nullcontext())
        self._changed = threading.Condition()
        # job id -> (its place in lease order, its owner or _UNDECIDED)
        self._running: dict[int, tuple[int, object]] = {}
        self._leased = itertools.count()
        self._local = threading.local()

    def begin(self, job_id: int) -> None:
        """A job is leased to the pool: jobs leased after it, for its person, wait for it."""
        with self._changed:
            self._running[job_id] = (next(self._leased), _UNDECIDED)

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
        job_id: int | None = getattr(self._local, "job_id", None)
        with self._changed:
            place = self._running.get(job_id) if job_id is not None else None
            if job_id is not None and place is not None:
                self._running[job_id] = (place[0], owner)
                self._changed.wait_for(lambda: not self._before(place[0], owner))
        with self._across(owner):
            yield

    def _before(self, place: int, owner: str) -> bool:
        """Is a job leased before ``place`` undecided, or for ``owner``?"""
        return any(
            other < place and held in (_UNDECIDED, owner) for other, held in self._running.values()
        )
