"""The JSON API of an emailed-link flow, declared once: ask for a link, then redeem it.

Reset and sign-up (and later invitations) each declare a LinkApi: the
resource's path, the two body models, the one flow call each route makes and
the words of their documentation. The routes, their statuses and what every
answer looks like are built here, on web/api_steps.py.
"""

# No `from __future__ import annotations` here: a route's body type is a flow's
# own model, known only when the router is built, and FastAPI reads it off the
# endpoint's signature.

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from keycloak_pwreset.results import Result
from keycloak_pwreset.web.api_steps import ERRORS, LINK_DEAD, ApiSteps, Outcome
from keycloak_pwreset.web.paths import COMPLETE

Responses = dict[int | str, dict[str, object]]


class LinkRequest(BaseModel):
    captcha_response: str = Field(
        default="",
        description="The CAPTCHA widget's response, when the site has a CAPTCHA (else ignored)",
        max_length=4096,
    )


# Redeeming a link: the token from the email and the password chosen. (No
# docstring: it would become the schema's description.)
class LinkCompletion(BaseModel):
    token: str = ""
    password: str = ""
    password_confirmation: str = ""


Asked = TypeVar("Asked", bound=LinkRequest)
Redeeming = TypeVar("Redeeming", bound=LinkCompletion)
Body = TypeVar("Body", bound=BaseModel)


@dataclass(frozen=True)
class Route(Generic[Body]):
    """One route's body model and its documentation (its errors beyond the common ones)."""

    body: type[Body]
    summary: str
    errors: Responses


@dataclass(frozen=True)
class LinkApi(Generic[Asked, Redeeming]):
    name: str  # the routes are request_<name> and complete_<name> (OpenAPI operation ids)
    path: str  # the resource; its completion is path + /complete
    asking: Route[Asked]
    ask: Callable[[Asked, str], Result]  # the flow's request, given the client's network
    accepted: str  # the one message for every accepted request, account or not
    redeeming: Route[Redeeming]
    redeem: Callable[[Redeeming], Result]  # the flow's redemption
    created: int = 200  # the status of a successful redemption
    # ``ask`` only writes the outbox (no Keycloak): web/store_calls.py.
    ask_store_only: bool = False
    # A refused password's broken rules and reason (web/password_hints.py).
    explain: Callable[[Redeeming, Result], dict[str, object]] | None = None


def link_router(api: LinkApi[Asked, Redeeming], steps: ApiSteps, tag: str) -> APIRouter:
    router = APIRouter(tags=[tag])
    asked, redeeming = api.asking.body, api.redeeming.body

    async def request_link(body: asked, request: Request) -> Response:  # type: ignore[valid-type]
        typed: Asked = body  # what the annotation means, for the type checker
        captcha = typed.captcha_response
        ask = partial(api.ask, typed)
        only = api.ask_store_only
        return await steps.request_link(request, captcha, ask, api.accepted, store_only=only)

    async def redeem_link(body: redeeming) -> JSONResponse:  # type: ignore[valid-type]
        explain = partial(api.explain, body) if api.explain else None
        return await steps.complete(partial(api.redeem, body), success=api.created, explain=explain)

    router.add_api_route(
        api.path,
        request_link,
        methods=["POST"],
        name=f"request_{api.name}",
        status_code=202,
        response_model=Outcome,
        responses={**ERRORS, **api.asking.errors},
        summary=api.asking.summary,
    )
    router.add_api_route(
        api.path + COMPLETE,
        redeem_link,
        methods=["POST"],
        name=f"complete_{api.name}",
        status_code=api.created,
        response_model=Outcome,
        responses={**ERRORS, **LINK_DEAD, **api.redeeming.errors},
        summary=api.redeeming.summary,
    )
    return router
