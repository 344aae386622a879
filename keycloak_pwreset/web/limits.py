"""Rate limiting at the edge: 429 with Retry-After, the same for every account.

Also where a request's client is determined, once: its address and its network key
(web/client.py), kept on ``request.state`` for the handlers.

Keyed by the client's network only (its IPv4 address, or its IPv6 /64: see
web/client.py), never by the account asked about, so the answer (429 with
Retry-After) is the same for known and unknown accounts.

Storage: the `limits` library's in-memory moving window. That is per process:
with several instances behind a balancer each enforces its own share, which
still bounds a client to N times the limit. A shared store (the database)
would make every POST also a write for accounting; at the traffic a reset
service sees, the per-process bound is the better trade, and the per-account
email cooldown, which matters most, is enforced in the shared database.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from keycloak_pwreset.audit import audit
from keycloak_pwreset.results import Result, message_for
from keycloak_pwreset.settings import LimitSettings
from keycloak_pwreset.web.answers import outcome_body
from keycloak_pwreset.web.client import client_address, network_key
from keycloak_pwreset.web.forwarding import UntrustedForwarders
from keycloak_pwreset.web.paths import API_PREFIX, TOKEN_PATHS


class ClientLimiter:
    def __init__(self, settings: LimitSettings) -> None:
        self.enabled = settings.enabled
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._rates: dict[str, RateLimitItem] = {
            "request": parse(settings.requests_per_client),
            "token": parse(settings.token_attempts_per_client),
        }

    def hit(self, kind: str, client: str) -> int | None:
        """Count one ``kind`` of attempt; seconds to wait if over the limit, else None."""
        if not self.enabled:
            return None
        rate = self._rates[kind]
        if self._limiter.hit(rate, kind, client):
            return None
        reset_at = self._limiter.get_window_stats(rate, kind, client).reset_time
        return max(1, math.ceil(reset_at - time.time()))


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
    ) -> None:
        self.app = app
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
            wait = self.limiter.hit(kind, client)
            if wait is not None:
                audit("rate_limited", client=address, limit=kind, path=request.url.path)
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
