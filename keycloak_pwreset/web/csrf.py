"""CSRF protection for the HTML forms: a signed double-submit token.

The browser holds a random value in an HttpOnly cookie; every form carries an
HMAC of that value under the service's secret key. A cross-site page can make
the browser send the cookie but can neither read it nor compute the HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import TypeGuard

COOKIE = "kcpr_csrf"
FIELD = "csrf_token"
# What new_cookie_value makes (43 characters of the URL-safe alphabet), with room.
COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{32,100}")
FORM_TOKEN = re.compile(r"[0-9a-f]{64}")  # form_token's hex digest


def looks_like_cookie_value(value: str | None) -> TypeGuard[str]:
    return value is not None and COOKIE_VALUE.fullmatch(value) is not None


class Csrf:
    def __init__(self, secret_key: str) -> None:
        self._key = secret_key.encode("utf-8")

    @staticmethod
    def new_cookie_value() -> str:
        return secrets.token_urlsafe(32)

    def form_token(self, cookie_value: str) -> str:
        return hmac.new(self._key, b"csrf:" + cookie_value.encode(), hashlib.sha256).hexdigest()

    def verify(self, cookie_value: str | None, form_value: str | None) -> bool:
        """Whether ``form_value`` is the token for ``cookie_value``; False for any junk.

        Both are checked for their shape first: anything else (non-ASCII, control
        characters, megabytes) is simply not a token, the normal "session expired"
        answer. ``hmac.compare_digest`` would raise on a non-ASCII ``str``; it is
        given bytes all the same, so no value can turn into a 500.
        """
        if cookie_value is None or not looks_like_cookie_value(cookie_value):
            return False
        if form_value is None or FORM_TOKEN.fullmatch(form_value) is None:
            return False
        expected = self.form_token(cookie_value).encode("ascii")
        return hmac.compare_digest(expected, form_value.encode("ascii"))
