"""Refusing POSTs that a browser says come from another site.

The signed double-submit token (web/csrf.py) already stops a forged form. This is
the second, independent layer OWASP recommends: a browser says where a POST comes
from, in headers no page's script can set. ``Sec-Fetch-Site`` (every current
browser) must be ``same-origin`` (or ``none``: typed, bookmarked); ``cross-site``
and ``same-site`` (a sibling subdomain) are refused. ``Origin``, where it names an
origin, must be KCPR_PUBLIC_URL's. ``Origin: null`` is not refused on its own: our
pages set ``Referrer-Policy: no-referrer``, under which browsers send exactly that
with our own forms' POSTs. A POST without either header is allowed: old browsers
and non-browser clients (curl, an SPA's backend, the tests) send none, and the
token still guards the forms.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from starlette.requests import Request

from keycloak_pwreset.audit import audit
from keycloak_pwreset.web.client import determined_address

DEFAULT_PORTS = {"http": 80, "https": 443}
OTHER_SITES = {"cross-site", "same-site"}  # Sec-Fetch-Site values that are not this origin


def normalized_origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin or URL, default port made explicit; None if it has none.

    ``https://Help.example.org:443`` and ``https://help.example.org`` are one origin.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a junk port or bracket: not an origin
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


class SameOrigin:
    def __init__(self, public_url: str) -> None:
        self._origin = normalized_origin(public_url)

    def refuses(self, request: Request) -> bool:
        """True when the browser says this request comes from another site."""
        if request.headers.get("sec-fetch-site", "").strip().lower() in OTHER_SITES:
            return True
        origin = request.headers.get("origin", "").strip()
        if not origin or origin == "null":  # no origin said (see above)
            return False
        return normalized_origin(origin) != self._origin


class CrossSiteRequest(Exception):
    """A POST to the JSON API from another site (answered 400 by the app)."""


def refuse_cross_site(same_origin: SameOrigin) -> Callable[[Request], Awaitable[None]]:
    """A router dependency: the API's POSTs get the same check as the forms' (web/forms.py)."""

    async def check(request: Request) -> None:
        if request.method == "POST" and same_origin.refuses(request):
            audit("cross_site_refused", client=determined_address(request), path=request.url.path)
            raise CrossSiteRequest

    return check
