"""HTML pages of the sign-up flow: /signup and /signup/complete."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from keycloak_pwreset.errors import KeycloakRejected, KeycloakUnavailable
from keycloak_pwreset.flows.links import SIGNUP_LINK_PATH
from keycloak_pwreset.flows.signup import SignupRequest
from keycloak_pwreset.gateway import SignupRules
from keycloak_pwreset.i18n import N_
from keycloak_pwreset.results import Result, message_for
from keycloak_pwreset.services import Services
from keycloak_pwreset.web.after_answer import wake_worker_after
from keycloak_pwreset.web.client import determined_client
from keycloak_pwreset.web.forms import Forms

SIGNUP_COOKIE = "kcpr_signup"
COMPLETE_PATH = SIGNUP_LINK_PATH  # where the verification emails lead
ATTRIBUTE_PREFIX = "attr_"


def request_from_form(form: dict[str, str], rules: SignupRules, locale: str) -> SignupRequest:
    return SignupRequest(
        email=form.get("email", ""),
        first_name=form.get("first_name", ""),
        last_name=form.get("last_name", ""),
        username=form.get("username", ""),
        locale=locale,
        attributes={
            a.name: form.get(ATTRIBUTE_PREFIX + a.name, "") for a in rules.extra_attributes
        },
    )


def build_router(services: Services, forms: Forms) -> APIRouter:
    settings = services.settings
    flow = services.signup
    router = APIRouter(include_in_schema=False)

    async def realm_rules() -> SignupRules | None:
        try:
            return await asyncio.to_thread(flow.rules)
        except (KeycloakUnavailable, KeycloakRejected):
            return None

    def unavailable(request: Request) -> Response:
        return forms.render(
            request,
            "notice.html",
            503,
            title=N_("Sign-up"),
            kind="error",
            result=Result.SERVICE_UNAVAILABLE.value,
            message=message_for(Result.SERVICE_UNAVAILABLE),
        )

    @router.get("/signup")
    async def signup_form(request: Request) -> Response:
        rules = await realm_rules()
        if rules is None:
            return unavailable(request)
        response = forms.page(request, "signup.html", rules=rules, values={})
        # Asking again abandons the link this browser may still hold.
        forms.abandon_link(request, response, COMPLETE_PATH, SIGNUP_COOKIE)
        return response

    @router.post("/signup")
    async def signup_submit(request: Request) -> Response:
        form, valid = await forms.read(request)
        rules = await realm_rules()
        if rules is None:
            return unavailable(request)
        values = {k: v[:255] for k, v in form.items()}
        if not valid:
            return forms.again(request, "signup.html", None, rules=rules, values=values)
        if forms.trapped(request, form):
            return forms.render(request, "signup_sent.html")  # as if we did
        if not await forms.human(request, form):
            return forms.again(
                request, "signup.html", Result.CAPTCHA_FAILED, rules=rules, values=values
            )
        shown, chosen = forms.languages_of(request, form)
        signup = request_from_form(form, rules, chosen or shown)
        result = await asyncio.to_thread(
            flow.request, signup, rules, client=determined_client(request)
        )
        if result is not Result.SUCCESS:
            return forms.again(request, "signup.html", result, rules=rules, values=values)
        # The same answer whether or not the address already has an account.
        return wake_worker_after(forms.render(request, "signup_sent.html"), services)

    @router.get(COMPLETE_PATH)
    async def complete_form(request: Request, token: str | None = None) -> Response:
        if token is not None:
            return forms.move_token_out_of_url(request, token, COMPLETE_PATH, SIGNUP_COOKIE)
        # Every flow call is a database query: off the event loop.
        pending = await asyncio.to_thread(
            flow.check, forms.token_from_cookie(request, SIGNUP_COOKIE)
        )
        if pending is None:
            return forms.expired(request, "/signup")
        return forms.page(request, "signup_complete.html", pending=pending, ask_username=False)

    @router.post(COMPLETE_PATH)
    async def complete_submit(request: Request) -> Response:
        form, valid = await forms.read(request)
        token = forms.token_from_cookie(request, SIGNUP_COOKIE)
        pending = await asyncio.to_thread(flow.check, token)
        if pending is None:
            return forms.expired(request, "/signup")
        if not valid:
            return forms.again(
                request, "signup_complete.html", None, pending=pending, ask_username=False
            )
        outcome = await asyncio.to_thread(
            flow.complete,
            token,
            form.get("password", ""),
            form.get("password_confirmation", ""),
            form.get("username"),
        )
        result = outcome.result
        if result is Result.LINK_EXPIRED:
            return forms.expired(request, "/signup")
        if result is Result.ACCOUNT_EXISTS:
            response: Response = forms.render(
                request,
                "notice.html",
                409,
                title=N_("Sign-up"),
                kind="error",
                result=result.value,
                message=message_for(result),
                link="/forgot-password",
            )
        elif result is not Result.SUCCESS:
            ask = result in (Result.USERNAME_TAKEN, Result.INVALID_USERNAME)
            return forms.again(
                request, "signup_complete.html", result, pending=pending, ask_username=ask
            )
        else:
            response = success(request, outcome.email)
        forms.forget_token(response, COMPLETE_PATH, SIGNUP_COOKIE)
        return response

    def success(request: Request, email: str) -> Response:
        login_url = settings.effective_login_url
        params = {"kcpr_status": "account_created"}
        if login_url.startswith(settings.keycloak_url + "/"):
            # Keycloak pre-fills its login form from login_hint.
            params["login_hint"] = email
        target = forms.after_success(request, login_url, **params)
        if not target:
            return forms.render(
                request,
                "notice.html",
                201,
                title=N_("Welcome"),
                kind="success",
                result="success",
                message=N_("Your account is ready. You can now sign in."),
                link=None,
            )
        return RedirectResponse(target, 303)

    return router
