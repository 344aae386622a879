"""The JSON API of the sign-up flow."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from keycloak_pwreset.errors import KeycloakRejected, KeycloakUnavailable
from keycloak_pwreset.flows.signup import SignupRequest
from keycloak_pwreset.results import Result
from keycloak_pwreset.services import Services
from keycloak_pwreset.web.after_answer import wake_worker_after
from keycloak_pwreset.web.answers import api_status, outcome
from keycloak_pwreset.web.api import CAPTCHA_FIELD, ERRORS, Outcome
from keycloak_pwreset.web.bot_check import passes_captcha
from keycloak_pwreset.web.client import determined_client
from keycloak_pwreset.web.same_origin import SameOrigin, refuse_cross_site


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


class SignupCompletion(BaseModel):
    token: str = ""
    password: str = ""
    password_confirmation: str = ""
    username: str | None = Field(default=None, description="A new username after username_taken")


def build_router(services: Services) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1",
        tags=["sign-ups"],
        dependencies=[Depends(refuse_cross_site(SameOrigin(services.settings.public_url)))],
    )
    flow = services.signup

    @router.post(
        "/signups",
        status_code=202,
        response_model=Outcome,
        responses={**ERRORS, 503: {"model": Outcome, "description": "Keycloak unavailable"}},
        summary="Ask for a verification link (same answer whether or not the email has an account)",
    )
    async def request_signup(body: SignupBody, request: Request) -> JSONResponse:
        if not await passes_captcha(services.captcha, request, body.captcha_response):
            return outcome(Result.CAPTCHA_FAILED, 400)
        try:
            rules = await asyncio.to_thread(flow.rules)
        except (KeycloakUnavailable, KeycloakRejected):
            return outcome(Result.SERVICE_UNAVAILABLE, 503)
        signup = SignupRequest(
            email=body.email,
            first_name=body.first_name,
            last_name=body.last_name,
            username=body.username,
            locale=body.locale or "",
            attributes=body.attributes,
        )
        result = await asyncio.to_thread(
            flow.request, signup, rules, client=determined_client(request)
        )
        if result is not Result.SUCCESS:
            return outcome(result, 400)
        accepted = JSONResponse(
            {"result": "success", "message": "Check your inbox for a link to finish signing up."},
            status_code=202,
        )
        return wake_worker_after(accepted, services)

    @router.post(
        "/signups/complete",
        status_code=201,
        response_model=Outcome,
        responses={
            **ERRORS,
            409: {"model": Outcome, "description": "account_exists or username_taken"},
            410: {"model": Outcome, "description": "Link expired, used, superseded or unknown"},
            503: {"model": Outcome, "description": "Keycloak unavailable; nothing created"},
        },
        summary="Choose the password; creates the enabled, email-verified account",
    )
    async def complete_signup(body: SignupCompletion) -> JSONResponse:
        completion = await asyncio.to_thread(
            flow.complete, body.token, body.password, body.password_confirmation, body.username
        )
        result = completion.result
        return outcome(result, api_status(result, success=201))

    return router
