"""The JSON API's answers: one body shape, and one HTTP status per result code."""

from __future__ import annotations

from starlette.responses import JSONResponse

from keycloak_pwreset.results import Result, message_for

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


def outcome(result: Result, status_code: int | None = None) -> JSONResponse:
    """The answer for ``result``; its status from STATUS unless given."""
    return JSONResponse(outcome_body(result), status_code=status_code or api_status(result))
