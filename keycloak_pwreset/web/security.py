"""Security headers on every response (the body size cap is web/body_limit.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send


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


class SecurityHeaders:
    """Adds the headers to every HTTP response that does not set them itself.

    Plain ASGI rather than Starlette's BaseHTTPMiddleware, which costs a task
    group and a memory stream per request (issue 12): this only edits the
    response's first message on its way out.
    """

    def __init__(self, app: ASGIApp, *, csp: str, hsts: bool) -> None:
        self.app = app
        headers = {
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
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        self.headers = headers
        encoded = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
        # Static files may be cached: everything but Cache-Control for them.
        self._for_pages = encoded
        self._for_static = [pair for pair in encoded if pair[0] != b"cache-control"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")
        ours = self._for_static if static else self._for_pages

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [pair for pair in ours if pair[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
