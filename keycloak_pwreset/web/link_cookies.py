"""Where a link's token waits once it has left the address bar: a cookie for its page only."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from keycloak_pwreset.secret_token import looks_like_token
from keycloak_pwreset.web.cookies import Cookies


@dataclass(frozen=True)
class LinkPage:
    """A page an emailed link leads to, and what belongs to it."""

    path: str  # where the emails lead (flows/links.py)
    cookie: str  # the cookie the token waits in
    template: str  # the form the page shows
    restart: str  # where to ask for a new link when this one is dead


class LinkCookies:
    def __init__(self, cookies: Cookies, *, ttl_minutes: int) -> None:
        self._cookies = cookies
        self._max_age = ttl_minutes * 60

    def hold(self, response: Response, page: LinkPage, token: str) -> None:
        # Only a token's own alphabet goes into the cookie (anything else is no
        # token of ours, and a cookie header could not carry it anyway).
        value = token if looks_like_token(token) else "invalid"
        self._cookies.set(response, page.cookie, value, path=page.path, max_age=self._max_age)

    def token(self, request: Request, page: LinkPage) -> str:
        return self._cookies.get(request, page.cookie) or ""

    def forget(self, response: Response, page: LinkPage) -> None:
        self._cookies.forget(response, page.cookie, path=page.path)

    def abandon(self, request: Request, response: Response, page: LinkPage) -> None:
        """A new request page: the link of an earlier one, if this browser holds it, is dropped,
        so that a shared computer does not keep a live reset or sign-up form for the next person."""
        self._cookies.forget_if_held(request, response, page.cookie, page.path)
