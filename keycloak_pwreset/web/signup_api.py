"""The JSON API of the sign-up flow."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from keycloak_pwreset.flows.signup import SignupFlow, SignupRequest
from keycloak_pwreset.results import Result
from keycloak_pwreset.web.api_steps import (
    CAPTCHA_FIELD,
    ERRORS,
    LINK_DEAD,
    ApiSteps,
    Outcome,
    documented,
)
from keycloak_pwreset.web.paths import COMPLETE, SIGNUP_API


class SignupBody(BaseModel):
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    username: str = Field(default="", description="Only when the realm does not use emails")
    attributes: dict[str, str] = Field(
        default_factory=dict, description="Extra attributes the realm's user profile requires"
    )
    locale: str | None = None
    captcha_response: str = CAPTCHA_FIELD

    def request(self) -> SignupRequest:
        return SignupRequest(
            email=self.email,
            first_name=self.first_name,
            last_name=self.last_name,
            username=self.username,
            locale=self.locale or "",
            attributes=self.attributes,
        )


class SignupCompletion(BaseModel):
    token: str = ""
    password: str = ""
    password_confirmation: str = ""
    username: str | None = Field(default=None, description="A new username after username_taken")


def build_router(flow: SignupFlow, steps: ApiSteps) -> APIRouter:
    router = APIRouter(tags=["sign-ups"])

    @router.post(
        SIGNUP_API,
        status_code=202,
        response_model=Outcome,
        responses={**ERRORS, **documented(503, "Keycloak unavailable")},
        summary="Ask for a verification link (same answer whether or not the email has an account)",
    )
    async def request_signup(body: SignupBody, request: Request) -> JSONResponse:
        def ask(client: str) -> Result:
            return flow.request(body.request(), flow.rules(), client=client)

        accepted = "Check your inbox for a link to finish signing up."
        return await steps.request_link(request, body.captcha_response, ask, accepted)

    @router.post(
        SIGNUP_API + COMPLETE,
        status_code=201,
        response_model=Outcome,
        responses={
            **ERRORS,
            **documented(409, "account_exists or username_taken"),
            **LINK_DEAD,
            **documented(503, "Keycloak unavailable; nothing created"),
        },
        summary="Choose the password; creates the enabled, email-verified account",
    )
    async def complete_signup(body: SignupCompletion) -> JSONResponse:
        def act() -> Result:
            password, again = body.password, body.password_confirmation
            return flow.complete(body.token, password, again, body.username).result

        return await steps.complete(act, success=201)

    return router
