"""What every HTML form page shares: CSRF, re-showing a form with its result, link tokens."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from keycloak_pwreset.results import Result, message_for
from keycloak_pwreset.settings import Settings
from keycloak_pwreset.web.csrf import COOKIE as CSRF_COOKIE
from keycloak_pwreset.web.csrf import FIELD as CSRF_FIELD
from keycloak_pwreset.web.csrf import Csrf
from keycloak_pwreset.web.pages_render import PageRenderer

SESSION_EXPIRED = "Your session expired. Please submit the form again."


def status_for(result: Result) -> int:
    if result is Result.SERVICE_UNAVAILABLE:
        return 503
    return 200 if result is Result.SUCCESS else 400


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode(params)))


class Forms:
    def __init__(self, settings: Settings, pages: PageRenderer) -> None:
        self.settings = settings
        self.pages = pages
        self.csrf = Csrf(settings.secret_key.get_secret_value())
        self.base = urlsplit(settings.public_url).path.rstrip("/")

    def page(
        self, request: Request, template: str, status_code: int = 200, **context: object
    ) -> Response:
        """A page with a form: reuse the visitor's CSRF cookie or start one."""
        cookie = request.cookies.get(CSRF_COOKIE)
        value = cookie if cookie and len(cookie) <= 100 else self.csrf.new_cookie_value()
        context.setdefault("error", None)
        context.setdefault("result", None)
        response = self.pages.render(
            template,
            status_code,
            csrf_field=CSRF_FIELD,
            csrf_token=self.csrf.form_token(value),
            **context,
        )
        if value != cookie:
            self._cookie(response, CSRF_COOKIE, value, path=self.base or "/")
        return response

    def again(
        self, request: Request, template: str, result: Result | None, **context: object
    ) -> Response:
        """The form once more, with the message for ``result`` (None: the CSRF check failed)."""
        if result is None:
            return self.page(request, template, 400, error=SESSION_EXPIRED, **context)
        return self.page(
            request,
            template,
            status_for(result),
            error=message_for(result),
            result=result.value,
            **context,
        )

    async def read(self, request: Request) -> tuple[dict[str, str], bool]:
        """The submitted fields, and whether the CSRF token in them is valid."""
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        valid = self.csrf.verify(request.cookies.get(CSRF_COOKIE), fields.get(CSRF_FIELD))
        return fields, valid

    def move_token_out_of_url(self, token: str, path: str, cookie: str) -> Response:
        """Put a link's token into an HttpOnly cookie and redirect to the clean URL.

        The address bar, history and any referrer then no longer carry it. The
        token is checked on the clean URL; this GET never uses it up.
        """
        response = RedirectResponse(f"{self.base}{path}", status_code=303)
        self._cookie(
            response,
            cookie,
            token[:100],
            path=f"{self.base}{path}",
            max_age=self.settings.token_ttl_minutes * 60,
        )
        return response

    def token_from_cookie(self, request: Request, cookie: str) -> str:
        return request.cookies.get(cookie, "")

    def forget_token(self, response: Response, path: str, cookie: str) -> None:
        response.delete_cookie(cookie, path=f"{self.base}{path}")

    def expired(self, restart: str) -> Response:
        """The one page for every dead link; ``restart`` is where to ask for a new one."""
        return self.pages.render(
            "link_expired.html",
            400,
            message=message_for(Result.RECOVERY_TOKEN_EXPIRED),
            restart=restart,
        )

    def _cookie(
        self, response: Response, name: str, value: str, *, path: str, max_age: int | None = None
    ) -> None:
        response.set_cookie(
            name,
            value,
            httponly=True,
            samesite="lax",
            secure=self.settings.secure_cookies,
            path=path,
            max_age=max_age,
        )
