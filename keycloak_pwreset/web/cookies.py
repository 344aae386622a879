"""The service's cookies: their names, scope and flags in one place.

Every cookie is HttpOnly and SameSite=Lax (the console's session: Strict). Over
https each is also a ``__Host-`` cookie: the browser then accepts it only with
Secure, ``Path=/`` and no Domain, so neither a sibling subdomain nor a
plain-http page on the same host can set or overwrite it ("cookie tossing").
Without that, such a page could plant a CSRF value it knows, a link token of its
own choosing or a way back of its own. Over plain http (a local demo) the prefix
cannot be used: names and paths stay as they are, the link cookies scoped to
their own page.
"""

from __future__ import annotations

from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

HOST_PREFIX = "__Host-"


def cookie_name(name: str, *, secure: bool) -> str:
    return HOST_PREFIX + name if secure else name


class Cookies:
    def __init__(self, *, secure: bool, base: str) -> None:
        self.secure = secure
        self._base = base  # KCPR_PUBLIC_URL's path, "" at the root

    def name(self, name: str) -> str:
        return cookie_name(name, secure=self.secure)

    def get(self, request: Request, name: str) -> str | None:
        # Only the prefixed name counts over https: a cookie without the prefix may
        # have been set by anyone on the host or its parent domain.
        return request.cookies.get(self.name(name))

    def path(self, path: str) -> str:
        """Where a cookie for ``path`` (a path of ours, "" for all) is sent."""
        return "/" if self.secure else f"{self._base}{path}" or "/"

    def set(
        self,
        response: Response,
        name: str,
        value: str,
        *,
        path: str = "",
        max_age: int | None = None,
        samesite: Literal["lax", "strict"] = "lax",
    ) -> None:
        response.set_cookie(
            self.name(name),
            value,
            httponly=True,
            samesite=samesite,
            secure=self.secure,
            path=self.path(path),
            max_age=max_age,
        )

    def forget(self, response: Response, name: str, *, path: str = "") -> None:
        # With the same flags as when set: a browser ignores a __Host- deletion without Secure.
        response.delete_cookie(
            self.name(name), path=self.path(path), secure=self.secure, httponly=True
        )

    def forget_if_held(self, request: Request, response: Response, name: str, path: str) -> None:
        if self.get(request, name) is not None:
            self.forget(response, name, path=path)
