"""What the service answers when no handler ran: a body it cannot read, a cross-site POST,
a database it cannot reach."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from keycloak_pwreset.i18n import N_
from keycloak_pwreset.results import Result
from keycloak_pwreset.store.db import first_line
from keycloak_pwreset.web.answers import outcome
from keycloak_pwreset.web.forms import Forms
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


log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = "5"


def store_unreachable(forms: Forms) -> Callable[[Request, Exception], Awaitable[Response]]:
    """The database is down or restarting: 503, "try again in a moment", never a 500.

    Nothing was accepted, so nothing is lost: the person (or client) asks again, and
    the next request gets a fresh connection (store/db.py tests them as they are taken).
    """

    async def answer(request: Request, exc: Exception) -> Response:
        log.warning("the database is unreachable: %s", first_line(exc))
        if request.url.path.startswith(API_PREFIX + "/"):
            response: Response = outcome(Result.SERVICE_UNAVAILABLE, 503)
        else:
            response = forms.notice(request, 503, N_("Account help"), Result.SERVICE_UNAVAILABLE)
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return response

    return answer


def install_error_answers(app: FastAPI, forms: Forms) -> None:
    unreachable = store_unreachable(forms)
    # psycopg's "connection refused" and "server closed the connection" are both these.
    app.exception_handler(OperationalError)(unreachable)
    app.exception_handler(InterfaceError)(unreachable)
    app.exception_handler(StarletteHTTPException)(http_error)
    app.exception_handler(CrossSiteRequest)(cross_site)
    app.exception_handler(RequestValidationError)(invalid_body)
