"""What every HTML form page shares: CSRF, re-showing a form with its result, link tokens."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from keycloak_pwreset.audit import audit
from keycloak_pwreset.captcha import CaptchaVerifier
from keycloak_pwreset.i18n import N_
from keycloak_pwreset.results import Result, message_for
from keycloak_pwreset.secret_token import looks_like_token
from keycloak_pwreset.settings import Settings
from keycloak_pwreset.validation import has_control_characters
from keycloak_pwreset.web.bot_check import passes_captcha
from keycloak_pwreset.web.client import determined_address
from keycloak_pwreset.web.cookies import Cookies
from keycloak_pwreset.web.csrf import COOKIE as CSRF_COOKIE
from keycloak_pwreset.web.csrf import FIELD as CSRF_FIELD
from keycloak_pwreset.web.csrf import Csrf, looks_like_cookie_value
from keycloak_pwreset.web.pages_render import PageRenderer
from keycloak_pwreset.web.same_origin import SameOrigin

LOCALE_COOKIE = "kcpr_locale"
RETURN_COOKIE = "kcpr_return"
RETURN_PARAM = "return_to"
HONEYPOT = "website"
SESSION_EXPIRED = N_("Your session expired. Please submit the form again.")


def status_for(result: Result) -> int:
    """The status of a form shown again with a result's message.

    A refused password or a missing field is a normal answer of the page (the
    form with its message): 200, as browsers and assistive tech expect, and
    no console error. The JSON API keeps 4xx. Only an outage is 503.
    """
    return 503 if result is Result.SERVICE_UNAVAILABLE else 200


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode(params)))


class Forms:
    def __init__(
        self, settings: Settings, pages: PageRenderer, captcha: CaptchaVerifier | None = None
    ) -> None:
        self.settings = settings
        self.pages = pages
        self.captcha = captcha
        self.csrf = Csrf(settings.secret_key.get_secret_value())
        self.same_origin = SameOrigin(settings.public_url)
        self.base = urlsplit(settings.public_url).path.rstrip("/")
        self.cookies = Cookies(secure=settings.secure_cookies, base=self.base)

    def languages_of(self, request: Request, form: dict[str, str] | None = None) -> tuple[str, str]:
        """(the language to show, the one the person chose explicitly or '').

        Explicit: a form's ``locale`` field, ``kc_locale`` or ``ui_locales``
        (Keycloak's login pages pass them), or the switcher's cookie. Otherwise
        the browser's Accept-Language, then the site's default.
        """
        languages = self.pages.languages
        chosen = ""
        for explicit in (
            (form or {}).get("locale"),
            request.query_params.get("kc_locale"),
            request.query_params.get("ui_locales"),
            self.cookies.get(request, LOCALE_COOKIE),
        ):
            chosen = languages.first_offered(explicit)
            if chosen:
                break
        shown = chosen or languages.pick(request.headers.get("accept-language"))
        return shown, chosen

    def render(
        self, request: Request, template: str, status_code: int = 200, **context: object
    ) -> Response:
        """Any page, in the person's language; remembers a language picked by link."""
        shown, chosen = self.languages_of(request)
        response = self.pages.render(template, status_code, locale=shown, **context)
        self.remember_return(request, response)
        picked = request.query_params.get("kc_locale") or request.query_params.get("ui_locales")
        if picked and chosen and chosen != self.cookies.get(request, LOCALE_COOKIE):
            self.cookies.set(response, LOCALE_COOKIE, chosen)
        return response

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
        return self.page(
            request,
            template,
            status_for(result),
            error=message_for(result),
            result=result.value,
            **context,
        )

    def return_url(self, value: str | None) -> str | None:
        """The Keycloak login to go back to, if ``value`` is one; None for anything else.

        Only the realm's own restart-login endpoint is followed (the login
        theme sends it): it resumes the sign-in the person started, with its
        client, redirect URI, state and PKCE kept by Keycloak. Any other
        target, or another host, is an open redirect and is ignored.
        """
        if not value or len(value) > 2000 or not value.isascii() or has_control_characters(value):
            return None
        keycloak = urlsplit(self.settings.keycloak_url)
        target = urlsplit(value)
        if (target.scheme or target.netloc) and (target.scheme, target.netloc) != (
            keycloak.scheme,
            keycloak.netloc,
        ):
            return None
        restart = f"{keycloak.path}/realms/{self.settings.realm}/login-actions/restart"
        if target.path != restart or target.fragment:
            return None
        return urlunsplit((keycloak.scheme, keycloak.netloc, target.path, target.query, ""))

    def remember_return(self, request: Request, response: Response) -> None:
        """Keep the way back to Keycloak's login for after the flow (same browser only)."""
        back = self.return_url(request.query_params.get(RETURN_PARAM))
        if back:
            self.cookies.set(response, RETURN_COOKIE, back, max_age=86400)

    def after_success(self, request: Request, fallback: str, **params: str) -> str | None:
        """Where to send the person after success: back to their Keycloak login, else ``fallback``
        (KCPR_LOGIN_URL) with ``params``; None means: show our own success page."""
        back = self.return_url(self.cookies.get(request, RETURN_COOKIE))
        if back:
            return back
        return with_query(fallback, **params) if fallback else None

    def client(self, request: Request) -> str:
        """The client address the rate limiter determined (trusted proxies honoured), for audit."""
        return determined_address(request)

    def trapped(self, request: Request, form: dict[str, str]) -> bool:
        """A bot filled the honeypot field: answer as usual, do nothing, note it."""
        if not form.get(HONEYPOT):
            return False
        audit("bot_trapped", client=self.client(request), path=request.url.path)
        return True

    async def human(self, request: Request, form: dict[str, str]) -> bool:
        """The CAPTCHA, if the site has one, was solved (the widget's field in the form)."""
        field = self.captcha.field if self.captcha else ""
        return await passes_captcha(self.captcha, request, form.get(field, ""))

    async def read(self, request: Request) -> tuple[dict[str, str], bool]:
        """The submitted fields, and whether the POST passed the CSRF checks.

        Both must hold: the browser does not say it comes from another site
        (web/same_origin.py), and the form's token matches this browser's cookie.
        A failure re-shows the form ("session expired", 400), like a stale token.
        """
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if self.same_origin.refuses(request):
            audit("cross_site_refused", client=self.client(request), path=request.url.path)
            return fields, False
        valid = self.csrf.verify(self.cookies.get(request, CSRF_COOKIE), fields.get(CSRF_FIELD))
        return fields, valid

    def move_token_out_of_url(
        self, request: Request, token: str, path: str, cookie: str
    ) -> Response:
        """Put a link's token into an HttpOnly cookie and redirect to the clean URL.

        The address bar, history and any referrer then no longer carry it. The
        token is checked on the clean URL; this GET never uses it up.
        """
        response = RedirectResponse(f"{self.base}{path}", status_code=303)
        _, chosen = self.languages_of(request)
        if chosen:  # a link from a language switcher or a Keycloak page keeps its language
            self.cookies.set(response, LOCALE_COOKIE, chosen)
        # Only a token's own alphabet goes into the cookie (anything else is no
        # token of ours, and a cookie header could not carry it anyway).
        self.cookies.set(
            response,
            cookie,
            token if looks_like_token(token) else "invalid",
            path=path,
            max_age=self.settings.token_ttl_minutes * 60,
        )
        return response

    def token_from_cookie(self, request: Request, cookie: str) -> str:
        return self.cookies.get(request, cookie) or ""

    def forget_token(self, response: Response, path: str, cookie: str) -> None:
        self.cookies.forget(response, cookie, path=path)

    def abandon_link(self, request: Request, response: Response, path: str, cookie: str) -> None:
        """A new request page: the link of an earlier one, if this browser holds it, is dropped,
        so that a shared computer does not keep a live reset or sign-up form for the next person."""
        self.cookies.forget_if_held(request, response, cookie, path)

    def expired(self, request: Request, restart: str) -> Response:
        """The one page for every dead link; ``restart`` is where to ask for a new one."""
        return self.render(
            request,
            "link_expired.html",
            400,
            message=message_for(Result.LINK_EXPIRED),
            restart=restart,
        )
