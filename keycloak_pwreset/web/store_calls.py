"""Where a flow call that only touches the store runs: on the event loop or in a thread.

The flows are plain functions that block (web/ stays the only async layer).
A call that may wait on the network (Keycloak, a PostgreSQL server) goes to a
thread, so the event loop keeps answering. A call that only writes one row to
a local SQLite file takes tens of microseconds; sending it to a thread costs
more than the call (the hand-over, and the two threads passing the
interpreter lock back and forth), and under load made the request path's
p99 several times its median (issue 12). Such calls run on the loop, one at a
time, which is also the order SQLite takes writers in anyway.

Which calls qualify is decided by their callers (a reset request: yes; a
sign-up request over the API, which reads the realm's rules from Keycloak:
no); whether the store is local is decided by the database URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class StoreCalls:
    def __init__(self, *, local: bool) -> None:
        # True for SQLite: the store is a file on this machine.
        self.local = local

    async def run(self, call: Callable[[], T], *, store_only: bool) -> T:
        """Run ``call``; on the loop if it only touches a local store, else in a thread."""
        if store_only and self.local:
            return call()
        return await asyncio.to_thread(call)
