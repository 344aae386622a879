"""The steps of every JSON API call, written once; the endpoints supply only what differs.

A link request: the CAPTCHA, then the flow (it only enqueues), off the event
loop; 202 with the same body for every account, and the worker woken once the
answer has left (web/after_answer.py). A completion: the flow, then the
result's status (web/answers.py). The body is always ``{result, message}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import cache, partial

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from keycloak_pwreset.captcha import CaptchaVerifier
from keycloak_pwreset.errors import KeycloakRejected, KeycloakUnavailable
from keycloak_pwreset.results import Result
from keycloak_pwreset.wake import Wakeable
from keycloak_pwreset.web.after_answer import wake_worker_after
from keycloak_pwreset.web.answers import api_status, outcome
from keycloak_pwreset.web.bot_check import passes_captcha
from keycloak_pwreset.web.client import determined_client
from keycloak_pwreset.web.password_hints import PASSWORD_REFUSALS
from keycloak_pwreset.web.request_counts import mark_result
from keycloak_pwreset.web.store_calls import StoreCalls


class BrokenRule(BaseModel):
    rule: str = Field(description="Keycloak's policy type (length, digits, …), other or screening")
    count: int = Field(description="The rule's number (a length, a count), 0 if it has none")


class Outcome(BaseModel):
    result: str = Field(description="A result code, e.g. success or recovery_token_expired")
    message: str
    broken_rules: list[BrokenRule] | None = Field(
        default=None, description="After a refused password: every rule it breaks"
    )
    reason: str | None = Field(
        default=None,
        description="With password_too_common: common, personal, pattern, guessable or breached",
    )


def documented(status: int, description: str) -> dict[int | str, dict[str, object]]:
    return {status: {"model": Outcome, "description": description}}


ERRORS: dict[int | str, dict[str, object]] = {
    **documented(400, "Invalid input or a password rule not met"),
    **documented(413, "Request body too large"),
    **documented(429, "Too many requests from this client address (see Retry-After)"),
}
LINK_DEAD = documented(410, "Link expired, used, superseded or unknown")


@cache
def accepted_body(message: str) -> bytes:
    """The one answer to every accepted request, rendered once (the same bytes each time)."""
    return bytes(JSONResponse({"result": Result.SUCCESS.value, "message": message}).body)


class ApiSteps:
    def __init__(
        self, captcha: CaptchaVerifier | None, worker: Wakeable, store: StoreCalls
    ) -> None:
        self.captcha = captcha
        self.worker = worker
        self.store = store

    async def request_link(
        self,
        request: Request,
        captcha_response: str,
        ask: Callable[[str], Result],
        accepted: str,
        *,
        store_only: bool = False,
    ) -> Response:
        """``ask`` gets the client's network; ``accepted`` is the one message for every account.

        ``store_only``: ``ask`` only writes the outbox (web/store_calls.py).
        """
        if not await passes_captcha(self.captcha, request, captcha_response):
            return outcome(Result.CAPTCHA_FAILED, 400)
        try:
            client = determined_client(request)
            result = await self.store.run(partial(ask, client), store_only=store_only)
        except (KeycloakUnavailable, KeycloakRejected):  # the realm's rules could not be read
            return outcome(Result.SERVICE_UNAVAILABLE, 503)
        if result is not Result.SUCCESS:
            return outcome(result, 400)
        mark_result(request.scope, Result.SUCCESS)
        answer = Response(accepted_body(accepted), 202, media_type="application/json")
        return wake_worker_after(answer, self.worker)

    async def complete(
        self,
        act: Callable[[], Result],
        *,
        success: int = 200,
        explain: Callable[[Result], dict[str, object]] | None = None,
    ) -> JSONResponse:
        """The completion's answer; ``explain`` adds the broken rules to a refused password's."""
        result = await asyncio.to_thread(act)
        details = None
        if explain is not None and result in PASSWORD_REFUSALS:
            details = await asyncio.to_thread(explain, result)
        return outcome(result, api_status(result, success=success), details)
