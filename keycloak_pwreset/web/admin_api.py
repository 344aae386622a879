"""The admin API at /admin/api/v1: open requests, the outbox, invitations, for automation.

Behind a bearer access token of the realm with the console role (web/admin_auth.py);
absent (404) until the console is configured (KCPR_CONSOLE__CLIENT_SECRET). Every
change is an audit event naming the administrator's Keycloak user id. The answers
show addresses and SMTP's own error texts: they are for administrators only.
"""

# No `from __future__ import annotations` here: the routes' dependency type (Admin) is
# made when the router is built, and FastAPI reads it off the endpoints' signatures.

import asyncio
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from keycloak_pwreset import desk
from keycloak_pwreset.audit import audit
from keycloak_pwreset.errors import KeycloakRejected, KeycloakUnavailable
from keycloak_pwreset.flows.invite import DEFAULT_VALID_DAYS, Invitation, Refusal
from keycloak_pwreset.services import Services
from keycloak_pwreset.store.invitations import Invitations
from keycloak_pwreset.store.open_requests import OpenRequests
from keycloak_pwreset.store.outbox_view import OutboxView
from keycloak_pwreset.web.admin_auth import Administrator, AdminTokens, NotAllowed, NotAuthenticated

ADMIN_API_PREFIX = "/admin/api/v1"


class OpenRequestOut(BaseModel):
    id: int
    purpose: str
    user_id: str
    email: str
    locale: str
    created_at: datetime
    expires_at: datetime
    emails_this_hour: int


class QueuedJobOut(BaseModel):
    id: int
    kind: str
    state: Literal["due", "running", "later", "failed"]
    subject: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str


def administrator_of(tokens: AdminTokens) -> Any:
    """The dependency: the verified administrator, or 401/403 (503 if Keycloak is down)."""

    async def administrator(request: Request) -> Administrator:
        header = request.headers.get("authorization", "")
        try:
            return await asyncio.to_thread(tokens.verify, header)
        except NotAuthenticated as exc:
            raise HTTPException(401, str(exc), {"WWW-Authenticate": "Bearer"}) from exc
        except NotAllowed as exc:
            raise HTTPException(403, str(exc)) from exc
        except (KeycloakUnavailable, KeycloakRejected) as exc:
            raise HTTPException(503, "the realm's signing keys could not be read") from exc

    return administrator


def changed(done: bool, what: str, event: str, item: int, by: Administrator) -> Response:
    """204 and an audit event naming the administrator, or 404 if nothing changed."""
    if not done:
        raise HTTPException(404, f"no such {what}, or not in a state to change")
    audit(event, by=by.id, item=str(item))
    return Response(status_code=204)


# ``admin`` below is the routes' dependency type: Annotated[Administrator, Depends(...)].


def add_request_routes(router: APIRouter, view: OpenRequests, admin: Any) -> None:
    @router.get("/requests", summary="The live emailed links (never a token)")
    async def list_requests(
        _by: admin,
        purpose: Annotated[str | None, Query(max_length=16)] = None,
        address: Annotated[str | None, Query(max_length=320)] = None,
    ) -> list[OpenRequestOut]:
        rows = await asyncio.to_thread(view.live, purpose=purpose, address=address)
        return [OpenRequestOut(**asdict(row)) for row in rows]

    @router.delete("/requests/{link_id}", status_code=204, summary="Revoke a live link")
    async def revoke_request(link_id: int, by: admin) -> Response:
        done = await asyncio.to_thread(view.revoke, link_id)
        return changed(done, "link", "link_revoked", link_id, by)


def add_outbox_routes(
    router: APIRouter, view: OutboxView, admin: Any, wake: Callable[[], None]
) -> None:
    @router.get("/outbox", summary="The worker's jobs, oldest first")
    async def list_outbox(
        _by: admin,
        state: Literal["due", "running", "later", "failed"] | None = None,
    ) -> list[QueuedJobOut]:
        rows = await asyncio.to_thread(view.jobs, state)
        return [QueuedJobOut(**asdict(row)) for row in rows]

    @router.post("/outbox/{job_id}/retry", status_code=204, summary="Make a job due now")
    async def retry_job(job_id: int, by: admin) -> Response:
        done = await asyncio.to_thread(view.retry_now, job_id)
        if done:
            wake()  # now, not at the worker's next poll
        return changed(done, "job", "job_retry_now", job_id, by)

    @router.delete("/outbox/{job_id}", status_code=204, summary="Discard a job")
    async def discard_job(job_id: int, by: admin) -> Response:
        done = await asyncio.to_thread(view.discard, job_id)
        return changed(done, "job", "job_discarded", job_id, by)


# Keycloak's user ids: UUIDs, or federated ones such as f:<provider>:<id>. Nothing else
# reaches the admin API's URL, so no path can be smuggled into it.
ACCOUNT_ID = r"^[A-Za-z0-9][A-Za-z0-9:_.-]{0,63}$"


class Queued(BaseModel):
    account_id: str
    queued: bool = True


def add_account_routes(router: APIRouter, services: Services, admin: Any) -> None:
    @router.post(
        "/accounts/{account_id}/reset-link",
        status_code=202,
        summary="Email an account a new reset link (supersedes its earlier ones)",
    )
    async def send_reset_link(
        account_id: Annotated[str, Path(pattern=ACCOUNT_ID)], by: admin
    ) -> Queued:
        """The support desk's answer to "I've lost access", without seeing or setting a password.

        404 for an unknown or disabled account, 409 for one self-service never resets
        (desk.py); 503 if Keycloak cannot be asked.
        """
        try:
            refusal = await asyncio.to_thread(desk.send_reset_link, services, account_id, by=by.id)
        except (KeycloakUnavailable, KeycloakRejected) as exc:
            raise HTTPException(503, "Keycloak could not be asked about the account") from exc
        if refusal is not None:
            raise HTTPException(
                404 if refusal is desk.NoResetLink.NO_ACCOUNT else 409, refusal.value
            )
        return Queued(account_id=account_id)


class InvitationIn(BaseModel):
    email: str = Field(max_length=320)
    first_name: str = Field("", max_length=255)
    last_name: str = Field("", max_length=255)
    groups: list[Annotated[str, Field(max_length=255)]] | None = Field(None, max_length=50)
    locale: str = Field("", max_length=35)
    valid_days: int = DEFAULT_VALID_DAYS


class InvitationOut(BaseModel):
    id: int
    email: str
    first_name: str
    last_name: str
    groups: list[str]
    locale: str
    invited_by: str
    state: Literal["pending", "accepted", "expired", "revoked"]
    created_at: datetime
    expires_at: datetime


class InvitationQueued(BaseModel):
    email: str
    queued: bool = True


def invite(services: Services, invitation: Invitation, by: Administrator) -> None:
    """Queue the invitation, or the HTTP answer that says why not (503 if Keycloak is down)."""
    try:
        refusal = services.invite.invite(invitation, by=by.id)
    except (KeycloakUnavailable, KeycloakRejected) as exc:
        raise HTTPException(503, "Keycloak could not be asked about the invitation") from exc
    if refusal is Refusal.ACCOUNT_EXISTS:
        raise HTTPException(409, refusal.value)
    if refusal is not None:
        raise HTTPException(400, refusal.value)


def add_invitation_routes(
    router: APIRouter, services: Services, view: Invitations, admin: Any
) -> None:
    @router.post("/invitations", status_code=202, summary="Email a person an invitation")
    async def post_invitation(body: InvitationIn, by: admin) -> InvitationQueued:
        """400 ``invalid_email``, ``invalid_name``, ``unknown_group`` or ``invalid_validity``
        (1 to 30 days); 409 ``account_exists``. ``groups`` absent: KCPR_SIGNUP_DEFAULT_GROUPS."""
        groups = None if body.groups is None else tuple(body.groups)
        invitation = Invitation(
            body.email, body.first_name, body.last_name, groups, body.locale, body.valid_days
        )
        await asyncio.to_thread(invite, services, invitation, by)
        return InvitationQueued(email=body.email.strip().lower())

    @router.get("/invitations", summary="The invitations sent, newest first")
    async def list_invitations(
        _by: admin,
        state: Literal["pending", "accepted", "expired", "revoked"] | None = None,
    ) -> list[InvitationOut]:
        rows = await asyncio.to_thread(view.sent, state=state)
        return [InvitationOut(**{**asdict(row), "groups": list(row.groups)}) for row in rows]


def build_router(services: Services) -> APIRouter | None:
    if not services.settings.console.enabled:
        return None
    tokens = AdminTokens(services.gateway.signing_keys, services.settings.console)
    admin = Annotated[Administrator, Depends(administrator_of(tokens))]
    clock = services.tokens.clock  # the store's own clock (tests inject one)
    router = APIRouter(prefix=ADMIN_API_PREFIX, tags=["admin"])
    add_request_routes(router, OpenRequests(services.db, clock), admin)
    # Whichever worker this process wakes when the routes run (serve's may be elsewhere).
    add_outbox_routes(router, OutboxView(services.db, clock), admin, lambda: services.waker.wake())
    add_account_routes(router, services, admin)
    add_invitation_routes(router, services, Invitations(services.db, clock), admin)
    return router
