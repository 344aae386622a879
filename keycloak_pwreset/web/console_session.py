"""The console's own session: a short-lived signed cookie, and the sign-in's state.

Signed and timed with itsdangerous under the service's secret key (no server-side
session store: every instance reads it alike). Two cookies, both HttpOnly and
``__Host-`` over https:

- the session (SameSite=Strict, SESSION_SECONDS): who signed in, the CSRF value of
  the console's forms, and the ID token for Keycloak's end-session endpoint;
- the sign-in's state (SameSite=Lax, LOGIN_SECONDS): what Authlib keeps between the
  redirect to Keycloak and the way back (state, nonce, PKCE verifier). Lax, because
  the way back is a navigation from Keycloak's site.

Role changes in Keycloak take effect at the next sign-in, at most SESSION_SECONDS
later: the session is short on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from keycloak_pwreset.web.cookies import Cookies
from keycloak_pwreset.web.csrf import Csrf

SESSION_COOKIE = "kcpr_console"
LOGIN_COOKIE = "kcpr_console_login"
SESSION_SECONDS = 30 * 60
LOGIN_SECONDS = 10 * 60


@dataclass(frozen=True)
class ConsoleUser:
    id: str  # the Keycloak user id: what the audit events name
    username: str
    csrf: str  # this session's CSRF value (the forms carry its HMAC)
    id_token: str  # for sign-out through Keycloak's end-session endpoint


class ConsoleSessions:
    def __init__(self, secret_key: str, cookies: Cookies) -> None:
        self._cookies = cookies
        self._csrf = Csrf(secret_key)
        self._session = URLSafeTimedSerializer(secret_key, salt="kcpr-console-session")
        self._login = URLSafeTimedSerializer(secret_key, salt="kcpr-console-login")

    # -- the session ----------------------------------------------------------

    def start(self, response: Response, user_id: str, username: str, id_token: str) -> None:
        value = self._session.dumps(
            {"sub": user_id, "name": username, "csrf": Csrf.new_cookie_value(), "idt": id_token}
        )
        self._cookies.set(
            response, SESSION_COOKIE, value, max_age=SESSION_SECONDS, samesite="strict"
        )

    def user(self, request: Request) -> ConsoleUser | None:
        data = self._read(self._session, request, SESSION_COOKIE, SESSION_SECONDS)
        if not data or not isinstance(data.get("sub"), str):
            return None
        return ConsoleUser(
            data["sub"], str(data.get("name", "")), str(data["csrf"]), str(data.get("idt", ""))
        )

    def end(self, response: Response) -> None:
        self._cookies.forget(response, SESSION_COOKIE)

    def form_token(self, user: ConsoleUser) -> str:
        return self._csrf.form_token(user.csrf)

    def form_is_ours(self, user: ConsoleUser, form_value: str | None) -> bool:
        return self._csrf.verify(user.csrf, form_value)

    # -- the sign-in's state (Authlib's "session" between redirect and callback) -----

    def save_login_state(self, response: Response, state: dict[str, Any]) -> None:
        value = self._login.dumps(state)
        self._cookies.set(response, LOGIN_COOKIE, value, max_age=LOGIN_SECONDS)

    def login_state(self, request: Request) -> dict[str, Any]:
        return self._read(self._login, request, LOGIN_COOKIE, LOGIN_SECONDS) or {}

    def forget_login_state(self, response: Response) -> None:
        self._cookies.forget(response, LOGIN_COOKIE)

    def _read(
        self, serializer: URLSafeTimedSerializer, request: Request, name: str, seconds: int
    ) -> dict[str, Any] | None:
        value = self._cookies.get(request, name)
        if not value or len(value) > 4096:
            return None
        try:
            data = serializer.loads(value, max_age=seconds)
        except BadSignature:  # forged, altered or expired (SignatureExpired is one)
            return None
        return data if isinstance(data, dict) else None
