"""The JSON API of the reset flow, documented at /openapi.json."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from keycloak_pwreset.flows.reset import ResetFlow
from keycloak_pwreset.results import Result
from keycloak_pwreset.web.api_steps import (
    CAPTCHA_FIELD,
    ERRORS,
    LINK_DEAD,
    ApiSteps,
    Outcome,
    documented,
)
from keycloak_pwreset.web.paths import COMPLETE, RESET_API


class ResetRequest(BaseModel):
    identifier: str = Field(default="", description="Email address or username")
    locale: str | None = Field(default=None, description="BCP 47 language tag for the email")
    captcha_response: str = CAPTCHA_FIELD


class ResetCompletion(BaseModel):
    token: str = ""
    password: str = ""
    password_confirmation: str = ""


def build_router(flow: ResetFlow, steps: ApiSteps) -> APIRouter:
    router = APIRouter(tags=["password resets"])

    @router.post(
        RESET_API,
        status_code=202,
        response_model=Outcome,
        responses=ERRORS,
        summary="Ask for a reset link (same answer whether or not the account exists)",
    )
    async def request_reset(body: ResetRequest, request: Request) -> JSONResponse:
        def ask(client: str) -> Result:
            return flow.request(body.identifier, body.locale or "", client=client)

        accepted = "If an account matches, an email with a link is on its way."
        return await steps.request_link(request, body.captcha_response, ask, accepted)

    @router.post(
        RESET_API + COMPLETE,
        response_model=Outcome,
        responses={
            **ERRORS,
            **LINK_DEAD,
            **documented(503, "Keycloak unavailable; nothing changed"),
        },
        summary="Set the new password with the token from the email",
    )
    async def complete_reset(body: ResetCompletion) -> JSONResponse:
        return await steps.complete(
            lambda: flow.complete(body.token, body.password, body.password_confirmation)
        )

    return router
