"""HTML pages of the sign-up flow (/signup and /signup/complete) and of invitations (/invitation).

An invitation's link page is a sign-up's completion under another path: the
same form, the same account creation (flows/invite.py).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response

from keycloak_pwreset.errors import KeycloakRejected, KeycloakUnavailable
from keycloak_pwreset.flows.links import Redeemed
from keycloak_pwreset.flows.signup import SignupFlow, SignupRequest
from keycloak_pwreset.gateway import SignupRules
from keycloak_pwreset.i18n import N_
from keycloak_pwreset.results import Result
from keycloak_pwreset.store.link_tokens import TokenInfo
from keycloak_pwreset.web.form_steps import Context, FormSteps, RequestPage, Submitted
from keycloak_pwreset.web.link_cookies import LinkPage
from keycloak_pwreset.web.password_hints import page_hints
from keycloak_pwreset.web.paths import FORGOT_PATH, SIGNUP_LINK, SIGNUP_PATH
from keycloak_pwreset.web.request_counts import mark_result

SIGNUP = RequestPage("signup.html", "signup_sent.html", SIGNUP_LINK)
ATTRIBUTE_PREFIX = "attr_"
# Refusals after which the completion form also asks for a username.
ASK_USERNAME = (Result.USERNAME_TAKEN, Result.INVALID_USERNAME)


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


class SignupPages:
    def __init__(
        self,
        flow: SignupFlow,
        steps: FormSteps,
        login_url: str,
        keycloak_url: str,
        link: LinkPage = SIGNUP_LINK,
    ) -> None:
        self.flow = flow
        self.link = link
        self.steps = steps
        self.forms = steps.forms
        self.login_url = login_url
        # Keycloak pre-fills its login form from login_hint: only worth sending there.
        self.hints_login = login_url.startswith(keycloak_url + "/")

    async def rules(self) -> SignupRules | None:
        try:
            return await asyncio.to_thread(self.flow.rules)
        except (KeycloakUnavailable, KeycloakRejected):
            return None

    def unavailable(self, request: Request) -> Response:
        return self.forms.notice(request, 503, N_("Sign-up"), Result.SERVICE_UNAVAILABLE)

    async def signup_form(self, request: Request) -> Response:
        rules = await self.rules()
        if rules is None:
            return self.unavailable(request)
        return self.steps.ask_form(request, SIGNUP, rules=rules, values={})

    async def signup_submit(self, request: Request) -> Response:
        rules = await self.rules()
        if rules is None:
            return self.unavailable(request)

        def ask(form: Submitted) -> Result:
            signup = request_from_form(form.fields, rules, form.chosen or form.shown)
            return self.flow.request(signup, rules, client=form.client)

        def shown_again(fields: dict[str, str]) -> Context:
            return {"rules": rules, "values": {k: v[:255] for k, v in fields.items()}}

        return await self.steps.request_link(request, SIGNUP, ask, shown_again)

    async def complete_form(self, request: Request, token: str | None = None) -> Response:
        def context(pending: TokenInfo) -> Context:
            ask = self.flow.username_field_first(pending)
            hints = page_hints(self.flow, pending)
            return {"pending": pending, "ask_username": ask, "form_path": self.link.path, **hints}

        return await self.steps.link_form(request, self.link, token, self.flow.check, context)

    async def complete_submit(self, request: Request) -> Response:
        pending = await self.steps.pending(request, self.link, self.flow.check)
        if pending is None:
            return self.forms.expired(request, self.link.restart)

        def act(token: str, fields: dict[str, str]) -> Redeemed:
            password, again = fields.get("password", ""), fields.get("password_confirmation", "")
            return self.flow.complete(token, password, again, fields.get("username"))

        def shown_again(result: Result | None, password: str) -> Context:
            ask = result in ASK_USERNAME or self.flow.username_field_first(pending)
            hints = page_hints(self.flow, pending, password, result)
            return {"pending": pending, "ask_username": ask, "form_path": self.link.path, **hints}

        return await self.steps.redeem_link(request, self.link, act, self.created, shown_again)

    def created(self, request: Request, redeemed: Redeemed) -> Response | None:
        if redeemed.result is Result.ACCOUNT_EXISTS:  # the link is spent: go reset instead
            return self.forms.notice(request, 409, N_("Sign-up"), redeemed.result, link=FORGOT_PATH)
        if redeemed.result is not Result.SUCCESS:
            return None  # the form again, with the refusal's message
        params = {"kcpr_status": "account_created"}
        if self.hints_login:
            params["login_hint"] = redeemed.email
        target = self.forms.return_to.after_success(request, self.login_url, **params)
        mark_result(request.scope, Result.SUCCESS)
        welcome = N_("Your account is ready. You can now sign in.")
        return self.forms.render(
            request, "signup_done.html", 201, message=welcome, continue_url=target or ""
        )


def build_invitation_router(pages: SignupPages) -> APIRouter:
    """The invitation's link page: there whether or not sign-up is switched on."""
    router = APIRouter(include_in_schema=False)
    router.add_api_route(pages.link.path, pages.complete_form, methods=["GET"])
    router.add_api_route(pages.link.path, pages.complete_submit, methods=["POST"])
    return router


def build_router(pages: SignupPages) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    router.add_api_route(SIGNUP_PATH, pages.signup_form, methods=["GET"])
    router.add_api_route(SIGNUP_PATH, pages.signup_submit, methods=["POST"])
    router.add_api_route(SIGNUP_LINK.path, pages.complete_form, methods=["GET"])
    router.add_api_route(SIGNUP_LINK.path, pages.complete_submit, methods=["POST"])
    return router
