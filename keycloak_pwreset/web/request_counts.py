"""Every answered request counted for the metrics: route template, method, status, result code.

The result code is the product's own (``recovery_token_expired``, ``rate_limited``):
whoever decides it marks it on the request's scope (``mark_result``), and this
middleware, outermost, reads it once the answer has left. Labels come only from
fixed sets: the matched route's template (never the path a client sent, which
would let anyone create series at will), a known method, the status.
"""

from __future__ import annotations

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keycloak_pwreset.metrics import Metrics
from keycloak_pwreset.results import Result

RESULT_KEY = "kcpr.result"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def mark_result(scope: Scope, result: Result) -> None:
    """Name the result code this request ends with (the last mark wins)."""
    scope[RESULT_KEY] = result.value


class RouteTemplates:
    """Names a request's path by the template of the route it is for, else ``unmatched``.

    From the app's own list of route templates (web/app.py records them as it
    includes each router), not from the framework's matching: a request refused
    before routing (a 429, a 413) still gets its route's name.
    """

    def __init__(self, templates: list[str], mounts: list[str]) -> None:
        self.fixed = frozenset(t for t in templates if "{" not in t)
        self.patterns = [(compile_path(t)[0], t) for t in templates if "{" in t]
        self.mounts = tuple(mounts)

    def name(self, path: str) -> str:
        if path in self.fixed:
            return path
        for pattern, template in self.patterns:
            if pattern.match(path):
                return template
        for mount in self.mounts:
            if path.startswith(mount + "/"):
                return mount
        return "unmatched"


class CountRequests:
    """Plain ASGI, like the other middleware: watches the status on its way out."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, routes: RouteTemplates) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers if the application raises before answering

        async def watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watching)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            result = scope.get(RESULT_KEY, "none")
            self.metrics.request(self.routes.name(scope["path"]), method, status, result)
