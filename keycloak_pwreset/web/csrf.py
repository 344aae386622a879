"""CSRF protection for the HTML forms: a signed double-submit token.

The browser holds a random value in an HttpOnly cookie; every form carries an
HMAC of that value under the service's secret key. A cross-site page can make
the browser send the cookie but can neither read it nor compute the HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

COOKIE = "kcpr_csrf"
FIELD = "csrf_token"


class Csrf:
    def __init__(self, secret_key: str) -> None:
        self._key = secret_key.encode("utf-8")

    @staticmethod
    def new_cookie_value() -> str:
        return secrets.token_urlsafe(32)

    def form_token(self, cookie_value: str) -> str:
        return hmac.new(self._key, b"csrf:" + cookie_value.encode(), hashlib.sha256).hexdigest()

    def verify(self, cookie_value: str | None, form_value: str | None) -> bool:
        if not cookie_value or not form_value or len(cookie_value) > 100:
            return False
        return hmac.compare_digest(self.form_token(cookie_value), form_value)
