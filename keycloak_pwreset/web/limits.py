"""Rate limiting at the edge: 429 with Retry-After, the same for every account.

Also where a request's client is determined, once: its address and its network key
(web/client.py), kept on ``request.state`` for the handlers.

Keyed by the client's network only (its IPv4 address, or its IPv6 /64: see
web/client.py), never by the account asked about, so the answer (429 with
Retry-After) is the same for known and unknown accounts.

The counts live in this process's memory or in Redis (web/limit_counts.py,
``KCPR_LIMITS__STORAGE_URI``); the per-account email cooldown, which matters
most, is enforced in the shared database either way.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from keycloak_pwreset.audit import audit
from keycloak_pwreset.metrics import Metrics
from keycloak_pwreset.results import Result, message_for
from keycloak_pwreset.web.answers import outcome_body
from keycloak_pwreset.web.client import client_address, network_key
from keycloak_pwreset.web.forwarding import UntrustedForwarders
from keycloak_pwreset.web.limit_counts import ClientLimiter
from keycloak_pwreset.web.paths import API_PREFIX, TOKEN_PATHS
from keycloak_pwreset.web.request_counts import mark_result

# The settings each kind of count is governed by: the metrics' label.
LIMIT_NAMES = {"request": "requests_per_client", "token": "token_attempts_per_client"}


class RateLimits:
    """Plain ASGI (not BaseHTTPMiddleware, which costs a task group and a
    memory stream per request): count, then pass the request on untouched or
    answer 429 itself."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: ClientLimiter,
        trusted_proxies: frozenset[str],
        render_page: Callable[[Request, int], Response] | None = None,
        forwarders: UntrustedForwarders | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.limiter = limiter
        self.trusted = trusted_proxies
        self.render_page = render_page
        self.forwarders = forwarders

    def kinds(self, scope: Scope) -> list[str]:
        """What this request counts against: read from the scope, no URL objects built."""
        post = scope["method"] == "POST"
        kinds = ["request"] if post else []
        uses_token = scope["path"] in TOKEN_PATHS and (post or _has_token(scope["query_string"]))
        return [*kinds, "token"] if uses_token else kinds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        address = client_address(request, self.trusted)
        # Counted per network (an IPv6 /64 is one client), logged by address.
        client = network_key(address)
        # request.state lives in the scope: the handlers' Request sees it too.
        request.state.client_address = address
        request.state.client_network = client
        if self.forwarders is not None:
            await self.forwarders.observe(request)
        for kind in self.kinds(scope):
            wait = await self.limiter.hit(kind, client)
            if wait is not None:
                audit("rate_limited", client=address, limit=kind, path=request.url.path)
                mark_result(scope, Result.RATE_LIMITED)
                if self.metrics is not None:
                    self.metrics.refused(LIMIT_NAMES[kind])
                await self.refuse(request, wait)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refuse(self, request: Request, wait: int) -> Response:
        headers = {"Retry-After": str(wait)}
        if request.url.path.startswith(API_PREFIX + "/"):
            result = Result.RATE_LIMITED
            body = outcome_body(result)
            return JSONResponse(body, status_code=429, headers=headers)
        if self.render_page is not None:
            response = self.render_page(request, wait)
            response.headers.update(headers)
            return response
        return PlainTextResponse(message_for(Result.RATE_LIMITED), 429, headers=headers)


def _has_token(query_string: bytes) -> bool:
    """Does the query name a ``token`` (the link's first GET)?"""
    return any(name == "token" for name, _ in parse_qsl(query_string.decode("latin-1"), True))
