"""The Keycloak gateway: the only module that talks to Keycloak.

It signs in as the companion's service account (client credentials), shares
that token (refreshed under a lock) and the HTTP connection pool across
requests and worker threads, and translates every Keycloak answer into this
product's terms: a result code for a rejected password, ``KeycloakUnavailable``
for "down or 5xx, try later", ``KeycloakRejected`` for anything else unexpected.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any, Protocol

import requests
from keycloak import KeycloakAdmin, KeycloakOpenID, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakConnectionError, KeycloakError

from keycloak_pwreset.accounts import KeycloakUser as KeycloakUser
from keycloak_pwreset.accounts import NewAccount as NewAccount
from keycloak_pwreset.accounts import SignupRequest as SignupRequest
from keycloak_pwreset.accounts import user_from_representation as user_from_representation
from keycloak_pwreset.errors import (
    AccountExists,
    AccountNotFound,
    KeycloakRejected,
    KeycloakUnavailable,
    PwresetError,
)
from keycloak_pwreset.keycloak_versions import GENERIC_POLICY_ERROR
from keycloak_pwreset.metrics import Metrics
from keycloak_pwreset.password_policy import error_key, result_for_error
from keycloak_pwreset.password_rules import likely_refusal
from keycloak_pwreset.protected_roles import ProtectedRoles
from keycloak_pwreset.results import Result
from keycloak_pwreset.user_profile import ExtraAttribute as ExtraAttribute
from keycloak_pwreset.user_profile import SignupRules as SignupRules
from keycloak_pwreset.user_profile import rules_from

# The realm-management roles the service account needs, and why.
REQUIRED_ROLES = {
    "view-users": "find accounts by email or username",
    "query-users": "search users",
    "manage-users": "set passwords and log sessions out",
    "view-realm": "read the realm's password policy",
    # Keycloak shows a user's client roles only to accounts that may view clients (little
    # beyond manage-users; Keycloak 26.8 and later mask client secrets from it).
    "view-clients": "see who holds realm-management roles (never reset by self-service)",
}
POLICY_CACHE_SECONDS = 300.0


class Gateway(Protocol):
    """What the flows need from Keycloak; the real one and test fakes implement it."""

    def find_user(self, identifier: str) -> KeycloakUser | None: ...
    def get_user(self, user_id: str) -> KeycloakUser | None: ...
    def set_password(self, user_id: str, password: str) -> Result: ...
    def logout(self, user_id: str) -> None: ...
    def ping(self) -> bool: ...
    def find_user_by_email(self, email: str) -> KeycloakUser | None: ...
    def signup_rules(self) -> SignupRules: ...
    def create_user(self, account: NewAccount) -> Result: ...
    def is_protected(self, user_id: str) -> bool: ...
    def signing_keys(self) -> tuple[str, dict[str, Any]]: ...
    def group_paths(self) -> list[str]: ...
    def password_policy(self) -> str: ...
    def realm_display_name(self) -> str: ...


class KeycloakGateway:
    def __init__(
        self,
        server_url: str,
        realm: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: int = 10,
        protected: ProtectedRoles | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.realm = realm
        self.protected = protected or ProtectedRoles.from_settings([], include_default=True)
        self._client_ids: dict[str, str] = {}
        self._connection = KeycloakOpenIDConnection(
            server_url=self.server_url + "/",
            realm_name=realm,
            client_id=client_id,
            client_secret_key=client_secret,
            timeout=timeout,
            # Retries are the outbox's: a silent one here would only double a failing call.
            max_retries=0,
            pool_maxsize=16,
        )
        self._admin = KeycloakAdmin(connection=self._connection)
        self._metrics = metrics or Metrics()
        self._token_lock = threading.Lock()
        self._client_lock = threading.Lock()  # a client's id is looked up once, not per thread
        self._policy: tuple[float, str] | None = None
        self._display_name = ""
        self._rules: tuple[float, SignupRules] | None = None

    # -- plumbing -----------------------------------------------------------

    def _translate(self, exc: KeycloakError, what: str) -> PwresetError:
        """Keycloak's exception in this product's terms: down, no such account, or refused."""
        if isinstance(exc, KeycloakConnectionError):
            return KeycloakUnavailable(f"Keycloak is unreachable at {self.server_url}")
        code = exc.response_code or 0
        if code >= 500:
            return KeycloakUnavailable(f"Keycloak answered {code} to {what}")
        if code == 404:
            return AccountNotFound(f"Keycloak has no such account (asked to {what})")
        return KeycloakRejected(f"Keycloak refused to {what} ({code})")

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn`` through python-keycloak, timed under ``what`` (a fixed phrase, never an id)."""
        self._ensure_token()
        try:
            with self._metrics.keycloak_call(what):
                return fn(*args, **kwargs)
        except KeycloakError as exc:
            raise self._translate(exc, what) from exc

    def _token_fresh(self) -> bool:
        expires = self._connection.expires_at
        return self._connection.token is not None and not (expires and datetime.now(UTC) >= expires)

    def _ensure_token(self) -> None:
        # Signed in up front (not on a first 401), and refreshed here under a lock
        # before it runs out: python-keycloak would refresh it in every thread at once.
        if self._token_fresh():
            return
        with self._token_lock:
            if self._token_fresh():
                return
            try:
                with self._metrics.keycloak_call("sign in"):
                    if self._connection.token is None:
                        self._connection.get_token()
                    else:
                        self._connection.refresh_token()
            except KeycloakError as exc:
                error = self._translate(exc, "sign in")
                if not isinstance(error, KeycloakUnavailable):
                    error = KeycloakRejected(
                        f"the service account could not sign in to realm {self.realm!r} "
                        f"({exc.response_code}): check KCPR_CLIENT_ID and KCPR_CLIENT_SECRET"
                    )
                raise error from exc

    # -- users --------------------------------------------------------------

    def find_user(self, identifier: str) -> KeycloakUser | None:
        """The one enabled account with this exact email or username, else None
        (one search without an "@": Keycloak refuses an email address without one)."""
        for attr in ("email", "username") if "@" in identifier else ("username",):
            reps = self._call(
                "search users", self._admin.get_users, {attr: identifier, "exact": "true"}
            )
            matches = [
                r
                for r in reps
                if r.get("enabled") and str(r.get(attr, "")).lower() == identifier.lower()
            ]
            if len(matches) == 1:
                return user_from_representation(matches[0])
            if len(matches) > 1:
                # A realm that allows duplicate emails: we cannot know which
                # account was meant, so we write to none of them.
                return None
        return None

    def find_user_by_email(self, email: str) -> KeycloakUser | None:
        """Any account (enabled or not: see ``enabled``) with this email: sign-up must not
        duplicate it, nor send a disabled one a link."""
        reps = self._call("search users", self._admin.get_users, {"email": email, "exact": "true"})
        for rep in reps:
            if str(rep.get("email", "")).lower() == email.lower():
                return user_from_representation(rep)
        return None

    def create_user(self, account: NewAccount) -> Result:
        """Create an enabled, verified account with its password, atomically: Keycloak checks
        the policy in the same call, names the rule broken, and creates nothing if refused."""
        attributes = {name: [value] for name, value in account.attributes.items()}
        if account.locale:
            attributes["locale"] = [account.locale]
        payload: dict[str, Any] = {
            "username": account.username or account.email,
            "email": account.email,
            "firstName": account.first_name,
            "lastName": account.last_name,
            "enabled": True,
            "emailVerified": True,
            "attributes": attributes,
            "credentials": [{"type": "password", "value": account.password, "temporary": False}],
        }
        if account.groups:
            payload["groups"] = list(account.groups)
        try:
            self._call("create an account", self._admin.create_user, payload)
        except KeycloakRejected as exc:
            cause = exc.__cause__
            body = cause.response_body if isinstance(cause, KeycloakError) else None
            code = cause.response_code if isinstance(cause, KeycloakError) else None
            if code == 409:
                which = "username" if b"username" in (body or b"") else "email"
                raise AccountExists(f"an account with this {which} exists", field=which) from exc
            key = error_key(body)
            if key == GENERIC_POLICY_ERROR:  # Keycloak 24 and 25 name no rule here
                username, email = account.username or account.email, account.email
                return likely_refusal(
                    self.password_policy(), account.password, username=username, email=email
                )
            result = result_for_error(key, self.password_policy())
            if code == 400 and result is not None:
                return result
            raise
        return Result.SUCCESS

    def signup_rules(self) -> SignupRules:
        """The realm's sign-up settings and required profile attributes, cached briefly."""
        now = time.monotonic()
        if self._rules and now - self._rules[0] < POLICY_CACHE_SECONDS:
            return self._rules[1]
        realm = self._call("read the realm", self._admin.get_realm, self.realm)
        profile = self._call("read the user profile", self._admin.get_realm_users_profile)
        rules = rules_from(realm, profile)
        self._rules = (now, rules)
        return rules

    def missing_groups(self, paths: list[str]) -> list[str]:
        """Those of the group paths that do not exist in the realm (for `check`)."""
        missing = []
        for path in paths:
            try:
                self._call("read a group", self._admin.get_group_by_path, path)
            except AccountNotFound:  # a 404, whatever was looked up
                missing.append(path)
        return missing

    def group_paths(self) -> list[str]:
        """Every group's path ("/staff/support"), subgroups too: what an invitation may name."""
        tree = self._call("read the groups", self._admin.get_groups, None, True)
        paths: list[str] = []
        stack = list(tree)
        while stack:
            group = stack.pop()
            paths.append(str(group.get("path", "")))
            stack.extend(group.get("subGroups") or [])
        return sorted(p for p in paths if p)

    def get_user(self, user_id: str) -> KeycloakUser | None:
        # Only a 404 means the account is gone: a failed sign-in must surface (and retry).
        try:
            rep = self._call("read a user", self._admin.get_user, user_id)
        except AccountNotFound:
            return None
        return user_from_representation(rep) if rep.get("enabled") else None

    def is_protected(self, user_id: str) -> bool:
        """Does the account hold a protected role (effective: groups and composites count)?

        One call for the default (realm-management), one more per other client
        named and one for realm roles. Any doubt raises: a job is retried and a
        completion refused rather than an administrator's password set.
        """
        for client in self.protected.client_roles:
            reps = self._call(
                "read a user's roles",
                self._admin.get_composite_client_roles_of_user,
                user_id,
                self._client_uuid(client),
                brief_representation=True,
            )
            if self.protected.protects_client_roles(client, {str(r.get("name")) for r in reps}):
                return True
        if self.protected.realm_roles:
            reps = self._call(
                "read a user's roles", self._admin.get_composite_realm_roles_of_user, user_id
            )
            if {str(r.get("name")) for r in reps} & self.protected.realm_roles:
                return True
        return False

    def check_protection(self) -> None:
        """For `check`: every client of KCPR_PROTECTED_ROLES can be read; else raises."""
        for client in self.protected.client_roles:
            self._client_uuid(client)

    def _client_uuid(self, client_id: str) -> str:
        """A client's internal id, looked up once (Keycloak lists only clients one may view)."""
        with self._client_lock:
            if client_id not in self._client_ids:
                uuid = self._call("find a client", self._admin.get_client_id, client_id)
                if not uuid:
                    raise KeycloakRejected(
                        f"cannot check for protected accounts: client {client_id!r} is not "
                        "visible to the service account (it needs realm-management's "
                        "view-clients role; keycloak-pwreset setup-realm grants it)"
                    )
                self._client_ids[client_id] = str(uuid)
            return self._client_ids[client_id]

    def set_password(self, user_id: str, password: str) -> Result:
        """Set a permanent password; a policy violation comes back as its result code."""
        try:
            self._call(
                "set a password", self._admin.set_user_password, user_id, password, temporary=False
            )
        except KeycloakRejected as exc:
            cause = exc.__cause__
            if isinstance(cause, KeycloakError) and cause.response_code == 400:
                result = result_for_error(error_key(cause.response_body), self.password_policy())
                if result is not None:
                    return result
            raise
        return Result.SUCCESS

    def logout(self, user_id: str) -> None:
        self._call("log the user's sessions out", self._admin.user_logout, user_id)

    # -- realm --------------------------------------------------------------

    def password_policy(self) -> str:
        """The realm's password policy string, cached for a few minutes."""
        now = time.monotonic()
        if self._policy and now - self._policy[0] < POLICY_CACHE_SECONDS:
            return self._policy[1]
        try:
            realm = self._call("read the realm", self._admin.get_realm, self.realm)
        except KeycloakRejected:
            return ""  # without view-realm we simply map less precisely
        policy = str(realm.get("passwordPolicy") or "")
        self._policy = (now, policy)
        self._display_name = str(realm.get("displayName") or "")
        return policy

    def realm_display_name(self) -> str:
        """The realm's display name ('' if it has none), read with its policy (site_name.py)."""
        self._policy = None  # the caller caches: read both afresh
        self.password_policy()
        return self._display_name

    def service_account_roles(self) -> set[str]:
        """The realm-management roles in the service account's token."""
        self._ensure_token()
        claims = _jwt_claims(str((self._connection.token or {}).get("access_token", "")))
        return set(claims.get("resource_access", {}).get("realm-management", {}).get("roles", []))

    def missing_roles(self) -> list[str]:
        have = self.service_account_roles()
        return sorted(role for role in REQUIRED_ROLES if role not in have)

    def signing_keys(self) -> tuple[str, dict[str, Any]]:
        """The realm's issuer and public signing keys (its JWKS), to verify its access tokens.

        Public endpoints: no service-account token needed. The issuer is what the
        realm's discovery document says (Keycloak's own hostname setting decides it).
        """
        openid = KeycloakOpenID(
            server_url=self.server_url + "/", realm_name=self.realm, client_id="keycloak-pwreset"
        )
        try:
            with self._metrics.keycloak_call("read the realm's signing keys"):
                issuer = str(openid.well_known()["issuer"])
                keys: dict[str, Any] = openid.certs()
        except KeycloakError as exc:
            raise self._translate(exc, "read the realm's signing keys") from exc
        return issuer, keys

    def ping(self, timeout: float = 3.0) -> bool:
        """Is the realm reachable? Uses the public realm endpoint: no token needed."""
        try:
            response = requests.get(f"{self.server_url}/realms/{self.realm}", timeout=timeout)
        except requests.RequestException:
            return False
        return response.status_code == 200


def _jwt_claims(token: str) -> dict[str, Any]:
    # Only read to report roles to an operator (it came over our own connection): unchecked.
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}
