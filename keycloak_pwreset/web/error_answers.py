"""What the service answers when no handler ran: a body it cannot read, a cross-site POST."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from keycloak_pwreset.results import Result
from keycloak_pwreset.web.answers import outcome
from keycloak_pwreset.web.paths import API_PREFIX
from keycloak_pwreset.web.same_origin import CrossSiteRequest


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    # FastAPI's own 400 for a body it cannot parse (not UTF-8, not JSON)
    # answers in the API's documented shape too.
    if exc.status_code == 400 and request.url.path.startswith(API_PREFIX + "/"):
        return outcome(Result.INVALID_CHARACTERS, 400)
    return await http_exception_handler(request, exc)


async def cross_site(_request: Request, _exc: CrossSiteRequest) -> Response:
    return outcome(Result.CROSS_SITE_REQUEST, 400)  # no flow ran; no legitimate client gets it


async def invalid_body(_request: Request, exc: RequestValidationError) -> Response:
    # Wrong types or malformed JSON: answer in the API's own terms, not 422.
    missing = any(e.get("type") == "missing" for e in exc.errors())
    return outcome(Result.MISSING_VALUE if missing else Result.INVALID_CHARACTERS, 400)


def install_error_answers(app: FastAPI) -> None:
    app.exception_handler(StarletteHTTPException)(http_error)
    app.exception_handler(CrossSiteRequest)(cross_site)
    app.exception_handler(RequestValidationError)(invalid_body)
