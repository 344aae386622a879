"""``GET /metrics`` on the public port, for sites that cannot give the metrics a port of their own.

Behind a bearer token (``KCPR_METRICS_TOKEN``): the figures say how busy the
service is and how often Keycloak or SMTP fail, which is nobody else's business.
With ``KCPR_METRICS_PORT`` set the metrics are served there instead
(commands/serve.py) and this route does not exist; with neither, no metrics are
served at all.
"""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from keycloak_pwreset.metrics import CONTENT_TYPE, exposition
from keycloak_pwreset.services import Services


def build_router(services: Services) -> APIRouter | None:
    settings = services.settings
    if settings.metrics_port is not None or settings.metrics_token is None:
        return None
    expected = settings.metrics_token.get_secret_value().encode()
    registry = services.scrape_registry()
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        # Off the loop: the outbox's gauges are a database query.
        body = await asyncio.to_thread(exposition, registry)
        return Response(body, media_type=CONTENT_TYPE)

    return router
