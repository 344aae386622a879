"""Waking the outbox worker only once the answer to a request has been sent.

The worker does much more for a real account (mint a token, render and send an
email) than for an unknown one. Woken while the answer is still on its way, it
would compete with it for the interpreter and make answers about real accounts
measurably slower: an enumeration by timing. Starlette runs a response's
background task after the body has been sent, and the worker then waits a
moment more (worker.SETTLE_SECONDS) for the answer to be on its way.
"""

from __future__ import annotations

from typing import TypeVar

from starlette.background import BackgroundTask
from starlette.responses import Response

from keycloak_pwreset.services import Services

AnyResponse = TypeVar("AnyResponse", bound=Response)


def wake_worker_after(response: AnyResponse, services: Services) -> AnyResponse:
    response.background = BackgroundTask(services.worker.wake)
    return response
