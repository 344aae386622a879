"""The JSON API of the sign-up flow."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from keycloak_pwreset.flows.signup import SignupFlow, SignupRequest
from keycloak_pwreset.results import Result
from keycloak_pwreset.web.api_steps import ApiSteps, documented
from keycloak_pwreset.web.link_api import LinkApi, LinkCompletion, LinkRequest, Route, link_router
from keycloak_pwreset.web.password_hints import api_details
from keycloak_pwreset.web.paths import SIGNUP_API


class SignupBody(LinkRequest):
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    username: str = Field(default="", description="Only when the realm does not use emails")
    attributes: dict[str, str] = Field(
        default_factory=dict, description="Extra attributes the realm's user profile requires"
    )
    locale: str | None = None

    def request(self) -> SignupRequest:
        return SignupRequest(
            email=self.email,
            first_name=self.first_name,
            last_name=self.last_name,
            username=self.username,
            locale=self.locale or "",
            attributes=self.attributes,
        )


class SignupCompletion(LinkCompletion):
    username: str | None = Field(default=None, description="A new username after username_taken")


def build_router(flow: SignupFlow, steps: ApiSteps) -> APIRouter:
    def ask(body: SignupBody, client: str) -> Result:
        # The realm's rules are read per request: a failure to read them is a 503.
        return flow.request(body.request(), flow.rules(), client=client)

    def redeem(body: SignupCompletion) -> Result:
        password, again = body.password, body.password_confirmation
        return flow.complete(body.token, password, again, body.username).result

    asking = Route(
        SignupBody,
        "Ask for a verification link (same answer whether or not the email has an account)",
        documented(503, "Keycloak unavailable"),
    )
    redeeming = Route(
        SignupCompletion,
        "Choose the password; creates the enabled, email-verified account",
        {
            **documented(409, "account_exists or username_taken"),
            **documented(503, "Keycloak unavailable; nothing created"),
        },
    )
    accepted = "Check your inbox for a link to finish signing up."

    def explain(body: SignupCompletion, result: Result) -> dict[str, object]:
        link = flow.check(body.token) if body.token else None
        return api_details(flow, link, body.password, result)

    signup = LinkApi(
        "signup", SIGNUP_API, asking, ask, accepted, redeeming, redeem, created=201, explain=explain
    )
    return link_router(signup, steps, "sign-ups")
