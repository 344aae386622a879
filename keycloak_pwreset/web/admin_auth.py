"""Who may use the admin API: a bearer access token of the realm that carries the console role.

Checked with joserfc (the JOSE library of Authlib's author), never by hand: the
signature against the realm's published keys, the issuer, the expiry (and not-before),
that it is an access token (Keycloak's ``typ`` "Bearer", not an ID or refresh token),
the realm role ``KCPR_CONSOLE__ROLE``, and, when ``KCPR_CONSOLE__API_CLIENTS`` is set,
the client it was issued to. Only asymmetric algorithms: a token signed with a shared
secret or with none is refused whatever it says.

The keys are fetched from Keycloak (gateway.py) once, and again when a token names a
key id they lack (Keycloak rotates keys), at most once every KEY_REFRESH_SECONDS, so a
stream of forged key ids cannot make this service hammer Keycloak.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet, KeySetSerialization

from keycloak_pwreset.errors import PwresetError
from keycloak_pwreset.settings.console import ConsoleSettings

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
KEY_REFRESH_SECONDS = 60.0
LEEWAY_SECONDS = 10  # the clocks of this host and of Keycloak may differ a little


class NotAuthenticated(PwresetError):
    """No token, or one that is not a valid access token of this realm: 401."""


class NotAllowed(PwresetError):
    """A valid token without the console role (or of a client not allowed): 403."""


@dataclass(frozen=True)
class Administrator:
    id: str  # the Keycloak user id (``sub``): what the audit events name
    username: str


class AdminTokens:
    def __init__(
        self,
        signing_keys: Callable[[], tuple[str, dict[str, Any]]],
        settings: ConsoleSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._signing_keys = signing_keys
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: tuple[str, KeySet] | None = None
        self._fetched_at = -KEY_REFRESH_SECONDS

    def _current(self, refresh: bool) -> tuple[str, KeySet]:
        with self._lock:
            stale = self._clock() - self._fetched_at >= KEY_REFRESH_SECONDS
            if self._keys is None or (refresh and stale):
                issuer, jwks = self._signing_keys()  # KeycloakUnavailable propagates: 503
                # Keycloak's JWKS document, as it sent it: joserfc checks each key's shape.
                self._keys = (issuer, KeySet.import_key_set(cast(KeySetSerialization, jwks)))
                self._fetched_at = self._clock()
            return self._keys

    def _decode(self, token: str) -> tuple[str, dict[str, Any]]:
        issuer, keys = self._current(refresh=False)
        try:
            return issuer, jwt.decode(token, keys, algorithms=ALGORITHMS).claims
        except InvalidKeyIdError:  # perhaps a key Keycloak has rotated in since
            issuer, keys = self._current(refresh=True)
            return issuer, jwt.decode(token, keys, algorithms=ALGORITHMS).claims

    def verify(self, authorization: str, *, client: str | None = None) -> Administrator:
        """The administrator a request's ``Authorization`` header proves; raises otherwise.

        ``client``: the token must have been issued to it (the console's own sign-in),
        instead of to one of KCPR_CONSOLE__API_CLIENTS.
        """
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("a bearer access token of the realm is required")
        try:
            issuer, claims = self._decode(token.strip())
            jwt.JWTClaimsRegistry(
                leeway=LEEWAY_SECONDS,
                iss={"essential": True, "value": issuer},
                exp={"essential": True},
                sub={"essential": True},
                typ={"essential": True, "value": "Bearer"},
            ).validate(claims)
        except (JoseError, ValueError) as exc:
            raise NotAuthenticated(f"the token is not valid here ({exc})") from exc
        roles = (claims.get("realm_access") or {}).get("roles") or []
        if self._settings.role not in roles:
            raise NotAllowed(f"the token lacks the realm role {self._settings.role!r}")
        allowed = [client] if client else self._settings.api_clients
        if allowed and claims.get("azp") not in allowed:
            raise NotAllowed("the token was issued to a client the API does not accept")
        return Administrator(str(claims["sub"]), str(claims.get("preferred_username", "")))
