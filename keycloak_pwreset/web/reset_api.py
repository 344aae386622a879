"""The JSON API of the reset flow, documented at /openapi.json."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from keycloak_pwreset.flows.reset import ResetFlow
from keycloak_pwreset.web.api_steps import ApiSteps, documented
from keycloak_pwreset.web.link_api import LinkApi, LinkCompletion, LinkRequest, Route, link_router
from keycloak_pwreset.web.password_hints import api_details
from keycloak_pwreset.web.paths import RESET_API


class ResetRequest(LinkRequest):
    identifier: str = Field(default="", description="Email address or username")
    locale: str | None = Field(default=None, description="BCP 47 language tag for the email")


class ResetCompletion(LinkCompletion):
    pass  # its own name in the schema, as clients know it


def build_router(flow: ResetFlow, steps: ApiSteps) -> APIRouter:
    reset: LinkApi[ResetRequest, ResetCompletion] = LinkApi(
        "reset",
        RESET_API,
        Route(
            ResetRequest,
            "Ask for a reset link (same answer whether or not the account exists)",
            {},
        ),
        lambda body, client: flow.request(body.identifier, body.locale or "", client=client),
        "If an account matches, an email with a link is on its way.",
        Route(
            ResetCompletion,
            "Set the new password with the token from the email",
            documented(503, "Keycloak unavailable; nothing changed"),
        ),
        lambda body: flow.complete(body.token, body.password, body.password_confirmation),
        ask_store_only=True,
        explain=lambda body, result: api_details(
            flow, flow.check(body.token), body.password, result
        ),
    )
    return link_router(reset, steps, "password resets")
