"""The JSON API over the same flows as the pages, documented at /openapi.json."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from keycloak_pwreset.results import Result
from keycloak_pwreset.services import Services
from keycloak_pwreset.web.after_answer import wake_worker_after
from keycloak_pwreset.web.answers import outcome
from keycloak_pwreset.web.bot_check import passes_captcha
from keycloak_pwreset.web.client import determined_client
from keycloak_pwreset.web.same_origin import SameOrigin, refuse_cross_site

CAPTCHA_FIELD = Field(
    default="",
    description="The CAPTCHA widget's response, when the site has a CAPTCHA (else ignored)",
    max_length=4096,
)


class ResetRequest(BaseModel):
    identifier: str = Field(default="", description="Email address or username")
    locale: str | None = Field(default=None, description="BCP 47 language tag for the email")
    captcha_response: str = CAPTCHA_FIELD


class ResetCompletion(BaseModel):
    token: str = ""
    password: str = ""
    password_confirmation: str = ""


class Outcome(BaseModel):
    result: str = Field(description="A result code, e.g. success or recovery_token_expired")
    message: str


ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": Outcome, "description": "Invalid input or a password rule not met"},
    413: {"model": Outcome, "description": "Request body too large"},
    429: {
        "model": Outcome,
        "description": "Too many requests from this client address (see Retry-After)",
    },
}


def build_router(services: Services) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1",
        tags=["password resets"],
        dependencies=[Depends(refuse_cross_site(SameOrigin(services.settings.public_url)))],
    )

    @router.post(
        "/password-resets",
        status_code=202,
        response_model=Outcome,
        responses=ERRORS,
        summary="Ask for a reset link (same answer whether or not the account exists)",
    )
    async def request_reset(body: ResetRequest, request: Request) -> JSONResponse:
        if not await passes_captcha(services.captcha, request, body.captcha_response):
            return outcome(Result.CAPTCHA_FAILED, 400)
        result = await asyncio.to_thread(
            services.reset.request,
            body.identifier,
            body.locale or "",
            client=determined_client(request),
        )
        if result is not Result.SUCCESS:
            return outcome(result, 400)
        accepted = JSONResponse(
            {
                "result": "success",
                "message": "If an account matches, an email with a link is on its way.",
            },
            status_code=202,
        )
        return wake_worker_after(accepted, services)

    @router.post(
        "/password-resets/complete",
        response_model=Outcome,
        responses={
            **ERRORS,
            410: {"model": Outcome, "description": "Link expired, used, superseded or unknown"},
            503: {"model": Outcome, "description": "Keycloak unavailable; nothing changed"},
        },
        summary="Set the new password with the token from the email",
    )
    async def complete_reset(body: ResetCompletion) -> JSONResponse:
        result = await asyncio.to_thread(
            services.reset.complete, body.token, body.password, body.password_confirmation
        )
        return outcome(result)

    return router
