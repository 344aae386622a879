"""Pages in the person's language, and forms protected against cross-site submission."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from keycloak_pwreset.audit import audit
from keycloak_pwreset.i18n import N_
from keycloak_pwreset.results import Result, message_for
from keycloak_pwreset.web.client import determined_address
from keycloak_pwreset.web.cookies import Cookies
from keycloak_pwreset.web.csrf import COOKIE as CSRF_COOKIE
from keycloak_pwreset.web.csrf import FIELD as CSRF_FIELD
from keycloak_pwreset.web.csrf import Csrf, looks_like_cookie_value
from keycloak_pwreset.web.languages import PageLanguages
from keycloak_pwreset.web.pages_render import PageRenderer
from keycloak_pwreset.web.request_counts import mark_result
from keycloak_pwreset.web.return_to import ReturnTo
from keycloak_pwreset.web.same_origin import SameOrigin

SESSION_EXPIRED = N_("Your session expired. Please submit the form again.")


def status_for(result: Result) -> int:
    """The status of a form shown again with a result's message.

    A refused password or a missing field is a normal answer of the page (the
    form with its message): 200, as browsers and assistive tech expect, and
    no console error. The JSON API keeps 4xx. Only an outage is 503.
    """
    return 503 if result is Result.SERVICE_UNAVAILABLE else 200


class Forms:
    def __init__(
        self,
        pages: PageRenderer,
        *,
        cookies: Cookies,
        csrf: Csrf,
        same_origin: SameOrigin,
        languages: PageLanguages,
        return_to: ReturnTo,
    ) -> None:
        self.pages = pages
        self.cookies = cookies
        self.csrf = csrf
        self.same_origin = same_origin
        self.languages = languages
        self.return_to = return_to

    def render(
        self, request: Request, template: str, status_code: int = 200, **context: object
    ) -> Response:
        """Any page, in the person's language; remembers a language picked by link."""
        shown, chosen = self.languages.of(request)
        response = self.pages.render(template, status_code, locale=shown, **context)
        self.return_to.remember(request, response)
        self.languages.remember_picked(request, response, chosen)
        return response

    def notice(
        self, request: Request, status_code: int, title: str, result: Result, **context: object
    ) -> Response:
        """The one-paragraph page: an outage, a refusal, a welcome."""
        mark_result(request.scope, result)
        context.setdefault("kind", "success" if result is Result.SUCCESS else "error")
        context.setdefault("message", message_for(result))
        return self.render(
            request, "notice.html", status_code, title=title, result=result.value, **context
        )

    def page(
        self, request: Request, template: str, status_code: int = 200, **context: object
    ) -> Response:
        """A page with a form: reuse the visitor's CSRF cookie or start one."""
        cookie = self.cookies.get(request, CSRF_COOKIE)
        # Reused only if it is one of ours in shape; junk is replaced, never signed.
        value = cookie if looks_like_cookie_value(cookie) else self.csrf.new_cookie_value()
        context.setdefault("error", None)
        context.setdefault("result", None)
        response = self.render(
            request,
            template,
            status_code,
            csrf_field=CSRF_FIELD,
            csrf_token=self.csrf.form_token(value),
            **context,
        )
        if value != cookie:
            self.cookies.set(response, CSRF_COOKIE, value)
        return response

    def again(
        self, request: Request, template: str, result: Result | None, **context: object
    ) -> Response:
        """The form once more, with the message for ``result`` (None: the CSRF check failed)."""
        if result is None:
            return self.page(request, template, 400, error=SESSION_EXPIRED, **context)
        mark_result(request.scope, result)
        return self.page(
            request,
            template,
            status_for(result),
            error=message_for(result),
            result=result.value,
            **context,
        )

    async def read(self, request: Request) -> tuple[dict[str, str], bool]:
        """The submitted fields, and whether the POST passed the CSRF checks.

        Both must hold: the browser does not say it comes from another site
        (web/same_origin.py), and the form's token matches this browser's cookie.
        A failure re-shows the form ("session expired", 400), like a stale token.
        """
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if self.same_origin.refuses(request):
            client = determined_address(request)
            audit("cross_site_refused", client=client, path=request.url.path)
            return fields, False
        valid = self.csrf.verify(self.cookies.get(request, CSRF_COOKIE), fields.get(CSRF_FIELD))
        return fields, valid

    def expired(self, request: Request, restart: str) -> Response:
        """The one page for every dead link; ``restart`` is where to ask for a new one."""
        message = message_for(Result.LINK_EXPIRED)
        mark_result(request.scope, Result.LINK_EXPIRED)
        return self.render(request, "link_expired.html", 400, message=message, restart=restart)
