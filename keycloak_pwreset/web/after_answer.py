"""Waking the outbox worker only once the answer to a request has been sent.

The worker does much more for a real account (mint a token, render and send an
email) than for an unknown one. Woken while the answer is still on its way, it
would compete with it for the interpreter and make answers about real accounts
measurably slower: an enumeration by timing. Starlette runs a response's
background task after the body has been sent, and the worker then waits a
moment more (worker.SETTLE_SECONDS) for the answer to be on its way.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from starlette.background import BackgroundTask
from starlette.responses import Response

AnyResponse = TypeVar("AnyResponse", bound=Response)


class Wakeable(Protocol):
    def wake(self) -> None: ...


def wake_worker_after(response: AnyResponse, worker: Wakeable) -> AnyResponse:
    response.background = BackgroundTask(worker.wake)
    return response
