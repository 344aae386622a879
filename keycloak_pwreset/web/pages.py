"""HTML pages of the reset flow: forgot-password and reset-password."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from keycloak_pwreset.audit import audit
from keycloak_pwreset.flows.links import RESET_LINK_PATH
from keycloak_pwreset.results import Result, message_for
from keycloak_pwreset.services import Services
from keycloak_pwreset.web.after_answer import wake_worker_after
from keycloak_pwreset.web.client import determined_client
from keycloak_pwreset.web.forms import Forms

RESET_COOKIE = "kcpr_reset"
RESET_PATH = RESET_LINK_PATH  # where the reset emails lead


def build_router(services: Services, forms: Forms) -> APIRouter:
    settings = services.settings
    router = APIRouter(include_in_schema=False)

    @router.get("/forgot-password")
    def forgot_password_form(request: Request) -> Response:
        response = forms.page(request, "forgot_password.html", identifier="")
        # Asking again abandons the link this browser may still hold.
        forms.abandon_link(request, response, RESET_PATH, RESET_COOKIE)
        return response

    @router.post("/forgot-password")
    async def forgot_password_submit(request: Request) -> Response:
        form, valid = await forms.read(request)
        identifier = form.get("identifier") or form.get("email") or form.get("username") or ""
        shown = identifier[:255]
        if not valid:
            return forms.again(request, "forgot_password.html", None, identifier=shown)
        if forms.trapped(request, form):
            return forms.render(request, "forgot_password_sent.html")  # as if we did
        if not await forms.human(request, form):
            return forms.again(
                request, "forgot_password.html", Result.CAPTCHA_FAILED, identifier=shown
            )
        page_locale, chosen = forms.languages_of(request, form)
        # The flow only writes an outbox row: run it off the event loop.
        result = await asyncio.to_thread(
            services.reset.request,
            identifier,
            chosen,
            page_locale,
            client=determined_client(request),
        )
        if result is not Result.SUCCESS:
            return forms.again(request, "forgot_password.html", result, identifier=shown)
        audit("reset_requested", client=forms.client(request))
        # The same page for every accepted request, account or not.
        return wake_worker_after(forms.render(request, "forgot_password_sent.html"), services)

    @router.get(RESET_PATH)
    async def reset_password_form(request: Request, token: str | None = None) -> Response:
        if token is not None:
            return forms.move_token_out_of_url(request, token, RESET_PATH, RESET_COOKIE)
        stored = forms.token_from_cookie(request, RESET_COOKIE)
        # Every flow call is a database query: off the event loop, like the rest.
        if not stored or await asyncio.to_thread(services.reset.check, stored) is None:
            return forms.expired(request, "/forgot-password")
        return forms.page(request, "reset_password.html")

    @router.post(RESET_PATH)
    async def reset_password_submit(request: Request) -> Response:
        form, valid = await forms.read(request)
        if not valid:
            return forms.again(request, "reset_password.html", None)
        result = await asyncio.to_thread(
            services.reset.complete,
            forms.token_from_cookie(request, RESET_COOKIE),
            form.get("password", ""),
            form.get("password_confirmation", ""),
        )
        if result is Result.LINK_EXPIRED:
            return forms.expired(request, "/forgot-password")
        if result is not Result.SUCCESS:
            return forms.again(request, "reset_password.html", result)
        target = forms.after_success(
            request, settings.effective_login_url, kcpr_status="password_changed"
        )
        if target:
            response: Response = RedirectResponse(target, 303)
        else:
            response = forms.render(request, "reset_done.html", message=message_for(result))
        forms.forget_token(response, RESET_PATH, RESET_COOKIE)
        return response

    return router
