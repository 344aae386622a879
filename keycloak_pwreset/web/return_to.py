"""The way back to Keycloak's login after a flow, guarded against open redirects."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import Response

from keycloak_pwreset.validation import has_control_characters
from keycloak_pwreset.web.cookies import Cookies

RETURN_COOKIE = "kcpr_return"
RETURN_PARAM = "return_to"


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode(params)))


class ReturnTo:
    def __init__(self, keycloak_url: str, realm: str, cookies: Cookies) -> None:
        self._keycloak = urlsplit(keycloak_url)
        self._restart = f"{self._keycloak.path}/realms/{realm}/login-actions/restart"
        self._cookies = cookies

    def url(self, value: str | None) -> str | None:
        """The Keycloak login to go back to, if ``value`` is one; None for anything else.

        Only the realm's own restart-login endpoint is followed (the login
        theme sends it): it resumes the sign-in the person started, with its
        client, redirect URI, state and PKCE kept by Keycloak. Any other
        target, or another host, is an open redirect and is ignored.
        """
        if not value or len(value) > 2000 or not value.isascii() or has_control_characters(value):
            return None
        keycloak = self._keycloak
        target = urlsplit(value)
        if (target.scheme or target.netloc) and (target.scheme, target.netloc) != (
            keycloak.scheme,
            keycloak.netloc,
        ):
            return None
        if target.path != self._restart or target.fragment:
            return None
        return urlunsplit((keycloak.scheme, keycloak.netloc, target.path, target.query, ""))

    def remember(self, request: Request, response: Response) -> None:
        """Keep the way back to Keycloak's login for after the flow (same browser only)."""
        back = self.url(request.query_params.get(RETURN_PARAM))
        if back:
            self._cookies.set(response, RETURN_COOKIE, back, max_age=86400)

    def after_success(self, request: Request, fallback: str, **params: str) -> str | None:
        """Where to send the person after success: back to their Keycloak login, else ``fallback``
        (KCPR_LOGIN_URL) with ``params``; None means: show our own success page."""
        back = self.url(self._cookies.get(request, RETURN_COOKIE))
        if back:
            return back
        return with_query(fallback, **params) if fallback else None
