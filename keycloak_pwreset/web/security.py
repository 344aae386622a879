"""Security headers on every response (the body size cap is web/body_limit.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def content_security_policy(
    redirect_targets: list[str], captcha_sources: tuple[str, ...] = ()
) -> str:
    # form-action also governs where a form's POST may redirect to (Chromium
    # enforces it on redirects), so the login page's origin must be listed.
    form_action = " ".join(["'self'", *sorted({o for o in map(origin_of, redirect_targets) if o})])
    # Without a CAPTCHA no script at all: the pages work without JavaScript. With
    # one, its widget is the provider's script, frame, styles and calls home,
    # exactly as its documentation lists them; nothing else is allowed.
    widget = " ".join(captcha_sources)
    directives = [
        "default-src 'none'",
        f"style-src 'self' {widget}".rstrip(),
        "img-src 'self' data:",
        f"form-action {form_action}",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
    if widget:
        directives += [f"script-src {widget}", f"frame-src {widget}", f"connect-src {widget}"]
    return "; ".join(directives)


class SecurityHeaders(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, *, csp: str, hsts: bool) -> None:
        super().__init__(app)
        self.headers = {
            "Content-Security-Policy": csp,
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            # Token pages must never leak their URL to another site; no page
            # of ours needs to send a referrer anywhere.
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cache-Control": "no-store",
        }
        if hsts:
            self.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in self.headers.items():
            if name == "Cache-Control" and request.url.path.startswith("/static/"):
                continue
            response.headers.setdefault(name, value)
        return response
