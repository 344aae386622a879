"""HTML pages of the reset flow: forgot-password and reset-password."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from starlette.responses import Response

from keycloak_pwreset.flows.links import Redeemed
from keycloak_pwreset.flows.reset import ResetFlow
from keycloak_pwreset.results import Result, message_for
from keycloak_pwreset.web.form_steps import Context, FormSteps, RequestPage, Submitted
from keycloak_pwreset.web.forms import Forms
from keycloak_pwreset.web.password_hints import page_hints
from keycloak_pwreset.web.paths import FORGOT_PATH, RESET_LINK

FORGOT = RequestPage(
    "forgot_password.html", "forgot_password_sent.html", RESET_LINK, audited_as="reset_requested"
)


def identifier_of(fields: dict[str, str]) -> str:
    return fields.get("identifier") or fields.get("email") or fields.get("username") or ""


def password_changed(
    forms: Forms, login_url: str, request: Request, redeemed: Redeemed
) -> Response | None:
    """The page after a new password: it says so, with one button on (or None: form again)."""
    if redeemed.result is not Result.SUCCESS:
        return None  # the form again, with the refusal's message
    # Landing on a sign-in form without a word, a person cannot tell whether it worked.
    target = forms.return_to.after_success(request, login_url, kcpr_status="password_changed")
    message = message_for(Result.SUCCESS)
    return forms.render(request, "reset_done.html", message=message, continue_url=target or "")


def build_router(flow: ResetFlow, steps: FormSteps, login_url: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    forms = steps.forms

    @router.get(FORGOT_PATH)
    def forgot_password_form(request: Request) -> Response:
        return steps.ask_form(request, FORGOT, identifier="")

    @router.post(FORGOT_PATH)
    async def forgot_password_submit(request: Request) -> Response:
        def ask(form: Submitted) -> Result:
            return flow.request(
                identifier_of(form.fields), form.chosen, form.shown, client=form.client
            )

        return await steps.request_link(
            request, FORGOT, ask, lambda fields: {"identifier": identifier_of(fields)[:255]}
        )

    @router.get(RESET_LINK.path)
    async def reset_password_form(request: Request, token: str | None = None) -> Response:
        return await steps.link_form(
            request, RESET_LINK, token, flow.check, lambda link: page_hints(flow, link)
        )

    @router.post(RESET_LINK.path)
    async def reset_password_submit(request: Request) -> Response:
        def act(token: str, fields: dict[str, str]) -> Redeemed:
            password, again = fields.get("password", ""), fields.get("password_confirmation", "")
            return Redeemed(flow.complete(token, password, again))

        pending = await steps.pending(request, RESET_LINK, flow.check)

        def shown_again(result: Result | None, password: str) -> Context:
            return page_hints(flow, pending, password, result)

        changed = partial(password_changed, forms, login_url)
        return await steps.redeem_link(request, RESET_LINK, act, changed, shown_again)

    return router
