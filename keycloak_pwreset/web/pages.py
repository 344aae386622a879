"""HTML pages: forgot-password and reset-password, server-rendered, CSRF-protected."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from keycloak_pwreset.results import Result, message_for
from keycloak_pwreset.services import Services
from keycloak_pwreset.validation import clean_locale
from keycloak_pwreset.web.csrf import COOKIE as CSRF_COOKIE
from keycloak_pwreset.web.csrf import FIELD as CSRF_FIELD
from keycloak_pwreset.web.csrf import Csrf
from keycloak_pwreset.web.pages_render import PageRenderer

RESET_COOKIE = "kcpr_reset"
SUCCESS_FLAG = ("kcpr_status", "password_changed")
SESSION_EXPIRED = "Your session expired. Please submit the form again."


def status_for(result: Result) -> int:
    if result is Result.SERVICE_UNAVAILABLE:
        return 503
    return 200 if result is Result.SUCCESS else 400


def with_query(url: str, key: str, value: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({key: value})))


def build_router(services: Services, pages: PageRenderer) -> APIRouter:
    settings = services.settings
    csrf = Csrf(settings.secret_key.get_secret_value())
    base = urlsplit(settings.public_url).path.rstrip("/")
    router = APIRouter(include_in_schema=False)

    def form_page(
        request: Request, template: str, status_code: int = 200, **context: object
    ) -> Response:
        """A page with a form: reuse the visitor's CSRF cookie or start one."""
        cookie = request.cookies.get(CSRF_COOKIE)
        value = cookie if cookie and len(cookie) <= 100 else csrf.new_cookie_value()
        fresh = value != cookie
        context.setdefault("error", None)
        context.setdefault("result", None)
        response = pages.render(
            template,
            status_code,
            csrf_field=CSRF_FIELD,
            csrf_token=csrf.form_token(value),
            **context,
        )
        if fresh:
            response.set_cookie(
                CSRF_COOKIE,
                value,
                httponly=True,
                samesite="lax",
                secure=settings.secure_cookies,
                path=base or "/",
            )
        return response

    def form_again(
        request: Request, template: str, result: Result | None, **context: object
    ) -> Response:
        """The form once more, with the message for ``result`` (None: the CSRF check failed)."""
        if result is None:
            return form_page(request, template, 400, error=SESSION_EXPIRED, **context)
        return form_page(
            request,
            template,
            status_for(result),
            error=message_for(result),
            result=result.value,
            **context,
        )

    async def read_form(request: Request) -> dict[str, str]:
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def csrf_ok(request: Request, form: dict[str, str]) -> bool:
        return csrf.verify(request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD))

    @router.get("/forgot-password")
    def forgot_password_form(request: Request) -> Response:
        return form_page(request, "forgot_password.html", error=None, identifier="")

    @router.post("/forgot-password")
    async def forgot_password_submit(request: Request) -> Response:
        form = await read_form(request)
        identifier = form.get("identifier") or form.get("email") or form.get("username") or ""
        if not csrf_ok(request, form):
            return form_again(request, "forgot_password.html", None, identifier=identifier[:255])
        locale = clean_locale(form.get("locale") or request.query_params.get("kc_locale"))
        # The flow only writes an outbox row: run it off the event loop.
        result = await asyncio.to_thread(services.reset.request, identifier, locale)
        if result is not Result.SUCCESS:
            return form_again(request, "forgot_password.html", result, identifier=identifier[:255])
        # The same page for every accepted request, account or not.
        return pages.render("forgot_password_sent.html")

    @router.get("/reset-password", name="reset_password_form")
    def reset_password_form(request: Request, token: str | None = None) -> Response:
        if token is not None:
            # Move the token out of the URL at once: the address bar, history
            # and any referrer then no longer carry it. The check happens on
            # the clean URL; this GET never uses the token up.
            response = RedirectResponse(f"{base}/reset-password", status_code=303)
            response.set_cookie(
                RESET_COOKIE,
                token[:100],
                httponly=True,
                samesite="lax",
                secure=settings.secure_cookies,
                path=f"{base}/reset-password",
                max_age=settings.token_ttl_minutes * 60,
            )
            return response
        stored = request.cookies.get(RESET_COOKIE, "")
        if not stored or services.reset.check(stored) is None:
            return pages.render(
                "reset_expired.html", 400, message=message_for(Result.RECOVERY_TOKEN_EXPIRED)
            )
        return form_page(request, "reset_password.html", error=None)

    @router.post("/reset-password")
    async def reset_password_submit(request: Request) -> Response:
        form = await read_form(request)
        if not csrf_ok(request, form):
            return form_again(request, "reset_password.html", None)
        token = request.cookies.get(RESET_COOKIE, "")
        result = await asyncio.to_thread(
            services.reset.complete,
            token,
            form.get("password", ""),
            form.get("password_confirmation", ""),
        )
        if result is Result.RECOVERY_TOKEN_EXPIRED:
            return pages.render("reset_expired.html", 400, message=message_for(result))
        if result is not Result.SUCCESS:
            return form_again(request, "reset_password.html", result)
        login_url = settings.effective_login_url
        if login_url:
            response: Response = RedirectResponse(with_query(login_url, *SUCCESS_FLAG), 303)
        else:
            response = pages.render("reset_done.html", message=message_for(result))
        response.delete_cookie(RESET_COOKIE, path=f"{base}/reset-password")
        return response

    return router
