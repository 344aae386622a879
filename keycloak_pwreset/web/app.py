"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from keycloak_pwreset import __version__
from keycloak_pwreset.i18n import N_, Languages
from keycloak_pwreset.paths import themes_dir
from keycloak_pwreset.results import Result, message_for
from keycloak_pwreset.services import Services, template_dirs
from keycloak_pwreset.store.forwarding import ForwardingPeers
from keycloak_pwreset.web import api, pages, signup_api, signup_pages
from keycloak_pwreset.web.answers import outcome
from keycloak_pwreset.web.body_limit import BodyLimit
from keycloak_pwreset.web.forms import Forms
from keycloak_pwreset.web.forwarding import UntrustedForwarders
from keycloak_pwreset.web.limits import ClientLimiter, RateLimits
from keycloak_pwreset.web.pages_render import PageRenderer
from keycloak_pwreset.web.same_origin import CrossSiteRequest
from keycloak_pwreset.web.security import SecurityHeaders, content_security_policy


class Readiness(BaseModel):
    database: str
    keycloak: str


def without_422(app: FastAPI) -> None:
    """Drop FastAPI's automatic 422 from the schema: this API answers 400 with a result code."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(services: Services) -> FastAPI:
    settings = services.settings
    app = FastAPI(
        title="keycloak-pwreset",
        version=__version__,
        # No interactive docs: they need inline scripts our CSP forbids, and
        # the schema at /openapi.json is what clients use.
        docs_url=None,
        redoc_url=None,
    )
    widget = services.captcha.widget() if services.captcha else None
    renderer = PageRenderer(
        template_dirs(settings, "pages"),
        public_url=settings.public_url,
        site_name=settings.realm,
        languages=Languages(settings.locales, settings.default_locale),
        captcha=widget,
    )
    forms = Forms(settings, renderer, services.captcha)
    app.include_router(pages.build_router(services, forms))
    app.include_router(api.build_router(services))
    if settings.signup_enabled:
        # Switched off, sign-up is simply absent: its pages and API answer 404.
        app.include_router(signup_pages.build_router(services, forms))
        app.include_router(signup_api.build_router(services))
    app.mount("/static", StaticFiles(directory=themes_dir() / "static"), name="static")
    # Added before SecurityHeaders, so it runs inside it: a 429 gets the
    # security headers too.
    trusted_proxies = frozenset(settings.trusted_proxies)
    app.add_middleware(
        RateLimits,
        limiter=ClientLimiter(settings.limits),
        trusted_proxies=trusted_proxies,
        forwarders=UntrustedForwarders(ForwardingPeers(services.db), trusted_proxies),
        render_page=lambda request, wait: forms.render(
            request,
            "notice.html",
            429,
            title=N_("Too many attempts"),
            kind="error",
            result=Result.RATE_LIMITED.value,
            message=message_for(Result.RATE_LIMITED),
        ),
    )
    # Inside SecurityHeaders, so a 413 carries them too.
    app.add_middleware(BodyLimit)
    app.add_middleware(
        SecurityHeaders,
        # Forms may redirect to the login URL and to Keycloak (the way back).
        csp=content_security_policy(
            [settings.effective_login_url, settings.keycloak_url],
            widget.csp_sources if widget else (),
        ),
        hsts=settings.secure_cookies,
    )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI's own 400 for a body it cannot parse (not UTF-8, not JSON)
        # answers in the API's documented shape too.
        if exc.status_code == 400 and request.url.path.startswith("/api/"):
            result = Result.INVALID_CHARACTERS
            return outcome(result, 400)
        return await http_exception_handler(request, exc)

    @app.exception_handler(CrossSiteRequest)
    async def cross_site(_request: Request, _exc: CrossSiteRequest) -> Response:
        result = Result.CROSS_SITE_REQUEST  # no flow ran; no legitimate client gets it
        return outcome(result, 400)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_request: Request, exc: RequestValidationError) -> Response:
        # Wrong types or malformed JSON: answer in the API's own terms, not 422.
        missing = any(e.get("type") == "missing" for e in exc.errors())
        result = Result.MISSING_VALUE if missing else Result.INVALID_CHARACTERS
        return outcome(result, 400)

    @app.get("/healthz", tags=["health"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Database and Keycloak are reachable",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Database or Keycloak unreachable"}},
    )
    async def readyz() -> Response:
        database = await asyncio.to_thread(services.db.ping)
        keycloak = await asyncio.to_thread(services.gateway.ping)
        body = {
            "database": "ok" if database else "unreachable",
            "keycloak": "ok" if keycloak else "unreachable",
        }
        return JSONResponse(body, status_code=200 if database and keycloak else 503)

    without_422(app)
    return app
