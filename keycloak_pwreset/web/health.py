"""Health endpoints for orchestrators: alive, and ready (database and Keycloak reachable)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from keycloak_pwreset.services import Services


class Readiness(BaseModel):
    database: str
    keycloak: str


def build_router(services: Services) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:  # on the loop: no thread-pool hop
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Database and Keycloak are reachable",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Database or Keycloak unreachable"}},
    )
    async def readyz() -> Response:
        database = await asyncio.to_thread(services.db.ping)
        keycloak = await asyncio.to_thread(services.gateway.ping)
        body = {
            "database": "ok" if database else "unreachable",
            "keycloak": "ok" if keycloak else "unreachable",
        }
        return JSONResponse(body, status_code=200 if database and keycloak else 503)

    return router
