"""Signing in to the console with the realm: OpenID Connect's code flow with PKCE, by Authlib.

Authlib's Starlette client does the protocol (discovery, state, nonce, the S256
code challenge, the code exchange, the ID token's signature and claims); this
module only keeps Authlib's state between the redirect and the way back in a
signed cookie (web/console_session.py) instead of a server-side session, and then
admits the person only if their access token carries the console role, checked
as the admin API checks a bearer token (web/admin_auth.py), issued to the
console's own client.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.starlette_client import OAuth, OAuthError
from starlette.requests import Request
from starlette.responses import Response

from keycloak_pwreset.settings import Settings
from keycloak_pwreset.web.admin_auth import Administrator, AdminTokens, NotAuthenticated
from keycloak_pwreset.web.console_session import ConsoleSessions

CALLBACK_PATH = "/admin/callback"
HOME_PATH = "/admin"


class ConsoleSignIn:
    def __init__(self, settings: Settings, tokens: AdminTokens, sessions: ConsoleSessions) -> None:
        console = settings.console
        secret = console.client_secret.get_secret_value() if console.client_secret else ""
        self._client_id = console.client_id
        self._tokens = tokens
        self._sessions = sessions
        self._home = settings.public_url + HOME_PATH
        self._callback = settings.public_url + CALLBACK_PATH
        realm_url = f"{settings.keycloak_url}/realms/{settings.realm}"
        self._client: Any = OAuth().register(
            "keycloak",
            client_id=console.client_id,
            client_secret=secret,
            server_metadata_url=f"{realm_url}/.well-known/openid-configuration",
            client_kwargs={"scope": "openid", "code_challenge_method": "S256", "timeout": 10},
        )

    async def begin(self, request: Request) -> Response:
        """The redirect to the realm's sign-in page, its state kept in the login cookie."""
        request.scope["session"] = {}
        response: Response = await self._client.authorize_redirect(request, self._callback)
        self._sessions.save_login_state(response, request.scope["session"])
        return response

    async def finish(self, request: Request) -> tuple[Administrator, str]:
        """The administrator the way back proves, and their ID token; raises otherwise.

        NotAuthenticated for anything wrong with the exchange (a replayed or forged
        state, a refused code); NotAllowed (from AdminTokens) without the role.
        """
        request.scope["session"] = self._sessions.login_state(request)
        try:
            token = await self._client.authorize_access_token(request)
        except OAuthError as exc:
            raise NotAuthenticated(f"the sign-in did not complete ({exc.error})") from exc
        header = f"Bearer {token.get('access_token', '')}"
        admin = await asyncio.to_thread(self._tokens.verify, header, client=self._client_id)
        return admin, str(token.get("id_token", ""))

    async def end_session_url(self, id_token: str) -> str:
        """Keycloak's end-session endpoint, coming back to the console's start page."""
        metadata = await self._client.load_server_metadata()
        query = {"post_logout_redirect_uri": self._home, "client_id": self._client_id}
        if id_token:
            query["id_token_hint"] = id_token
        return f"{metadata['end_session_endpoint']}?{urlencode(query)}"
