"""Which language a page speaks, and which one the person chose explicitly."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from keycloak_pwreset.i18n import Languages
from keycloak_pwreset.web.cookies import Cookies

LOCALE_COOKIE = "kcpr_locale"


class PageLanguages:
    def __init__(self, languages: Languages, cookies: Cookies) -> None:
        self.offered = languages
        self._cookies = cookies

    def of(self, request: Request, form: dict[str, str] | None = None) -> tuple[str, str]:
        """(the language to show, the one the person chose explicitly or '').

        Explicit: a form's ``locale`` field, ``kc_locale`` or ``ui_locales``
        (Keycloak's login pages pass them), or the switcher's cookie. Otherwise
        the browser's Accept-Language, then the site's default.
        """
        chosen = ""
        for explicit in (
            (form or {}).get("locale"),
            request.query_params.get("kc_locale"),
            request.query_params.get("ui_locales"),
            self._cookies.get(request, LOCALE_COOKIE),
        ):
            chosen = self.offered.first_offered(explicit)
            if chosen:
                break
        shown = chosen or self.offered.pick(request.headers.get("accept-language"))
        return shown, chosen

    def remember_picked(self, request: Request, response: Response, chosen: str) -> None:
        """A language picked by link (``kc_locale``/``ui_locales``) sticks for the next pages."""
        picked = request.query_params.get("kc_locale") or request.query_params.get("ui_locales")
        if picked and chosen and chosen != self._cookies.get(request, LOCALE_COOKIE):
            self._cookies.set(response, LOCALE_COOKIE, chosen)

    def keep(self, response: Response, chosen: str) -> None:
        """Keep an explicit choice across a redirect."""
        if chosen:
            self._cookies.set(response, LOCALE_COOKIE, chosen)
