"""The FastAPI application: its parts built from the services and put together in one place."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.middleware import Middleware
from starlette.responses import Response

from keycloak_pwreset import __version__
from keycloak_pwreset.i18n import N_, Languages
from keycloak_pwreset.paths import themes_dir
from keycloak_pwreset.results import Result
from keycloak_pwreset.services import Services, template_dirs
from keycloak_pwreset.store.forwarding import ForwardingPeers
from keycloak_pwreset.web import (
    admin_api,
    console_pages,
    health,
    metrics_route,
    reset_api,
    reset_pages,
    signup_api,
    signup_pages,
)
from keycloak_pwreset.web.api_steps import ApiSteps
from keycloak_pwreset.web.body_limit import BodyLimit
from keycloak_pwreset.web.bot_check import BotChecks
from keycloak_pwreset.web.cookies import Cookies
from keycloak_pwreset.web.csrf import Csrf
from keycloak_pwreset.web.error_answers import install_error_answers
from keycloak_pwreset.web.form_steps import FormSteps
from keycloak_pwreset.web.forms import Forms
from keycloak_pwreset.web.forwarding import UntrustedForwarders
from keycloak_pwreset.web.languages import PageLanguages
from keycloak_pwreset.web.limit_counts import ClientLimiter
from keycloak_pwreset.web.limits import RateLimits
from keycloak_pwreset.web.link_cookies import LinkCookies
from keycloak_pwreset.web.pages_render import PageRenderer
from keycloak_pwreset.web.paths import API_PREFIX, INVITE_LINK
from keycloak_pwreset.web.request_counts import CountRequests, RouteTemplates
from keycloak_pwreset.web.return_to import ReturnTo
from keycloak_pwreset.web.same_origin import SameOrigin, refuse_cross_site
from keycloak_pwreset.web.security import SecurityHeaders, content_security_policy
from keycloak_pwreset.web.store_calls import StoreCalls


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


def build_forms(services: Services, cookies: Cookies) -> Forms:
    settings = services.settings
    languages = Languages(settings.locales, settings.default_locale)
    widget = services.captcha.widget() if services.captcha else None
    renderer = PageRenderer(
        template_dirs(settings, "pages"),
        public_url=settings.public_url,
        site_name=services.site_name.now,  # pages never wait for Keycloak
        languages=languages,
        captcha=widget,
    )
    return Forms(
        renderer,
        cookies=cookies,
        csrf=Csrf(settings.secret_key.get_secret_value()),
        same_origin=SameOrigin(settings.public_url),
        languages=PageLanguages(languages, cookies),
        return_to=ReturnTo(settings.keycloak_url, settings.realm, cookies),
    )


def middleware(services: Services, forms: Forms) -> list[Middleware]:
    """Every middleware, outermost first: the order in which they see a request
    (after the request counts, added in create_app once the routes are known).

    The security headers wrap everything, so a 413 or a 429 carries them too;
    the body cap comes before anything reads a body; the rate limits, last,
    also determine the client (web/client.py) that the handlers use.
    """
    settings = services.settings
    widget = services.captcha.widget() if services.captcha else None
    trusted = frozenset(settings.trusted_proxies)

    def too_many(request: Request, _wait: int) -> Response:
        return forms.notice(request, 429, N_("Too many attempts"), Result.RATE_LIMITED)

    # Forms may redirect to the login URL and to Keycloak (the way back).
    csp = content_security_policy(
        [settings.effective_login_url, settings.keycloak_url],
        widget.csp_sources if widget else (),
    )
    return [
        Middleware(SecurityHeaders, csp=csp, hsts=settings.secure_cookies),
        Middleware(BodyLimit),
        Middleware(
            RateLimits,
            limiter=ClientLimiter(settings.limits),
            trusted_proxies=trusted,
            forwarders=UntrustedForwarders(ForwardingPeers(services.db), trusted),
            render_page=too_many,
            metrics=services.metrics,
        ),
    ]


class Routes:
    """Includes the routers into the app and keeps the template of every route it adds.

    The templates name the requests in the metrics (web/request_counts.py).
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.templates = ["/openapi.json"]
        self.mounts: list[str] = []

    def include(self, router: APIRouter, prefix: str = "", **options: Any) -> None:
        self.app.include_router(router, prefix=prefix, **options)
        self.templates += [prefix + route.path for route in router.routes if hasattr(route, "path")]

    def mount(self, path: str, files: StaticFiles) -> None:
        self.app.mount(path, files, name=path.strip("/"))
        self.mounts.append(path)

    def names(self) -> RouteTemplates:
        return RouteTemplates(self.templates, self.mounts)


def include_routes(routes: Routes, services: Services, forms: Forms, cookies: Cookies) -> None:
    settings = services.settings
    base = urlsplit(settings.public_url).path.rstrip("/")
    links = LinkCookies(cookies, ttl_minutes=settings.token_ttl_minutes)
    store = StoreCalls(local=services.db.local)
    pages = FormSteps(forms, BotChecks(services.captcha), links, services.waker, base, store)
    api = ApiSteps(services.captcha, services.waker, store)
    # The JSON API refuses cross-site calls before any handler runs (web/same_origin.py).
    guard = [Depends(refuse_cross_site(SameOrigin(settings.public_url)))]
    login_url = settings.effective_login_url
    # First: routes are matched in order, and load balancers ask /healthz most often.
    routes.include(health.build_router(services))
    scrape = metrics_route.build_router(services)
    if scrape is not None:  # else on a port of its own, or off (web/metrics_route.py)
        routes.include(scrape)
    admin = admin_api.build_router(services)
    if admin is not None:  # the console is configured (KCPR_CONSOLE__CLIENT_SECRET)
        routes.include(admin)
        routes.include(console_pages.build_router(services, cookies))
    routes.include(reset_pages.build_router(services.reset, pages, login_url))
    routes.include(
        reset_api.build_router(services.reset, api), prefix=API_PREFIX, dependencies=guard
    )
    if settings.signup_enabled:
        # Switched off, sign-up is simply absent: its pages and API answer 404.
        routes.include(
            signup_pages.build_router(
                signup_pages.SignupPages(services.signup, pages, login_url, settings.keycloak_url)
            )
        )
        routes.include(
            signup_api.build_router(services.signup, api), prefix=API_PREFIX, dependencies=guard
        )
    # Invitations come from an administrator: their page is there with sign-up off too.
    invitations = signup_pages.SignupPages(
        services.invite, pages, login_url, settings.keycloak_url, link=INVITE_LINK
    )
    routes.include(signup_pages.build_invitation_router(invitations))
    routes.mount("/static", StaticFiles(directory=themes_dir() / "static"))


def create_app(services: Services, lifespan: Any = None) -> FastAPI:
    settings = services.settings
    base = urlsplit(settings.public_url).path.rstrip("/")
    cookies = Cookies(secure=settings.secure_cookies, base=base)
    forms = build_forms(services, cookies)
    app = FastAPI(
        title="keycloak-pwreset",
        version=__version__,
        # No interactive docs: they need inline scripts our CSP forbids, and
        # the schema at /openapi.json is what clients use.
        docs_url=None,
        redoc_url=None,
        middleware=middleware(services, forms),
        lifespan=lifespan,
    )
    routes = Routes(app)
    include_routes(routes, services, forms, cookies)
    # Outermost, added last: every answer is counted, the 413s and 429s of the others too.
    app.add_middleware(CountRequests, metrics=services.metrics, routes=routes.names())
    install_error_answers(app, forms)
    without_422(app)
    return app
