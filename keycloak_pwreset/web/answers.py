"""The JSON API's answers: one body shape, and one HTTP status per result code."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from keycloak_pwreset.results import Result, message_for
from keycloak_pwreset.web.request_counts import mark_result

# Any result not named here is the person's input: 400. Success is the endpoint's
# own (202 for a request, 200 for a reset, 201 for a created account).
STATUS: dict[Result, int] = {
    Result.LINK_EXPIRED: 410,
    Result.ACCOUNT_EXISTS: 409,
    Result.USERNAME_TAKEN: 409,
    Result.RATE_LIMITED: 429,
    Result.SERVICE_UNAVAILABLE: 503,
}


def api_status(result: Result, *, success: int = 200) -> int:
    return success if result is Result.SUCCESS else STATUS.get(result, 400)


def outcome_body(result: Result) -> dict[str, str]:
    """``{result, message}``: what every JSON answer of this service says."""
    return {"result": result.value, "message": message_for(result)}


class ResultAnswer(JSONResponse):
    """``{result, message}``, which also marks its result code for the metrics when sent."""

    def __init__(
        self, result: Result, status_code: int, details: dict[str, object] | None = None
    ) -> None:
        super().__init__({**outcome_body(result), **(details or {})}, status_code=status_code)
        self.result = result

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mark_result(scope, self.result)
        await super().__call__(scope, receive, send)


def outcome(
    result: Result, status_code: int | None = None, details: dict[str, object] | None = None
) -> JSONResponse:
    """The answer for ``result``; its status from STATUS unless given; ``details`` beside."""
    return ResultAnswer(result, status_code or api_status(result), details)
