"""Waking the outbox worker only once the answer to a request has been sent.

The worker does much more for a real account (mint a token, render and send an
email) than for an unknown one. Woken while the answer is still on its way, it
would compete with it and make answers about real accounts measurably slower:
an enumeration by timing. Starlette runs a response's background task after the
body has been sent, and the worker then waits a moment more
(worker.SETTLE_SECONDS) for the answer to be on its way. `serve` runs the worker
in a process of its own (worker_process.py), so that its work does not reach
the answers to the requests that follow either.
"""

from __future__ import annotations

from typing import TypeVar

from starlette.background import BackgroundTask
from starlette.responses import Response

from keycloak_pwreset.wake import Wakeable

AnyResponse = TypeVar("AnyResponse", bound=Response)


def wake_worker_after(response: AnyResponse, worker: Wakeable) -> AnyResponse:
    async def wake() -> None:
        # On the event loop: a wake is an Event.set() or one non-blocking
        # datagram, not worth the thread-pool hop a plain function would get.
        worker.wake()

    response.background = BackgroundTask(wake)
    return response
