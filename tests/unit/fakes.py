"""Small real fakes for the tests: a Keycloak with a password policy, a clock, a mail transport."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import cache
from typing import Any, TypeVar

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from keycloak_pwreset.errors import AccountExists, KeycloakUnavailable, MailDeliveryError
from keycloak_pwreset.gateway import KeycloakUser, NewAccount, SignupRules
from keycloak_pwreset.mail.message import Sender
from keycloak_pwreset.mail.routing import MailRouting
from keycloak_pwreset.results import Result
from keycloak_pwreset.settings import MailSettings

T = TypeVar("T")


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


ISSUER = "http://keycloak.test/realms/demo"


@cache
def realm_key() -> RSAKey:
    """The fake realm's signing key (made once a run: RSA key generation takes a moment)."""
    return RSAKey.generate_key(2048, parameters={"kid": "fake-realm-key", "alg": "RS256"})


def access_token(
    roles: list[str], *, lifetime: float = 300, key: RSAKey | None = None, **claims: object
) -> str:
    """An access token as the fake realm (or ``key``'s realm) would sign it."""
    now = int(time.time())
    body: dict[str, object] = {
        "iss": ISSUER,
        "sub": "id-admin",
        "typ": "Bearer",
        "azp": "admin-cli",
        "preferred_username": "admin",
        "iat": now,
        "exp": now + int(lifetime),
        "realm_access": {"roles": roles},
        **claims,
    }
    signer = key or realm_key()
    return jwt.encode({"alg": "RS256", "kid": signer.kid or ""}, body, signer)


@dataclass
class FakeKeycloak:
    """Users with passwords and a policy like a real realm: length(8), digits(1), history."""

    users: dict[str, KeycloakUser] = field(default_factory=dict)
    passwords: dict[str, list[str]] = field(default_factory=dict)
    logouts: list[str] = field(default_factory=list)
    down: bool = False
    logout_down: bool = False
    password_changes: int = 0
    rules: SignupRules = field(default_factory=SignupRules)
    created: list[NewAccount] = field(default_factory=list)
    # Accounts holding a protected role (KCPR_PROTECTED_ROLES), by id.
    protected: set[str] = field(default_factory=set)
    display_name: str = ""  # the realm's displayName ('': none, the realm's name is shown)
    policy: str = "length(8) and digits(1) and notUsername(undefined) and passwordHistory(3)"
    # The realm's group paths (invitations may name only these).
    groups: list[str] = field(default_factory=lambda: ["/customers", "/staff", "/staff/support"])
    # Every call the flows made, by method name: bounds on Keycloak round trips.
    calls: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_user(
        self, username: str, email: str, password: str = "Initial-Orbit-7", locale: str = ""
    ) -> KeycloakUser:
        user = KeycloakUser(
            id=f"id-{username}",
            username=username,
            email=email,
            first_name=username.title(),
            last_name="Tester",
            locale=locale,
        )
        self.users[user.id] = user
        self.passwords[user.id] = [password]
        return user

    def disable(self, user_id: str) -> None:
        self.users[user_id] = replace(self.users[user_id], enabled=False)

    def change_email(self, user_id: str, email: str) -> None:
        self.users[user_id] = replace(self.users[user_id], email=email)

    def _check_up(self) -> None:
        self.calls.append(sys._getframe(1).f_code.co_name)
        if self.down:
            raise KeycloakUnavailable("Keycloak is unreachable at http://fake")

    def find_user(self, identifier: str) -> KeycloakUser | None:
        """Like the real gateway: enabled accounts only."""
        self._check_up()
        for user in self.users.values():
            if user.enabled and identifier.lower() in (user.email.lower(), user.username.lower()):
                return user
        return None

    def get_user(self, user_id: str) -> KeycloakUser | None:
        """Like the real gateway: None for a deleted or disabled account."""
        self._check_up()
        user = self.users.get(user_id)
        return user if user is not None and user.enabled else None

    def is_protected(self, user_id: str) -> bool:
        self._check_up()
        return user_id in self.protected

    def signing_keys(self) -> tuple[str, dict[str, Any]]:
        self._check_up()
        self.calls.append("signing_keys")
        return ISSUER, KeySet([realm_key()]).as_dict(private=False)

    def group_paths(self) -> list[str]:
        self._check_up()
        return list(self.groups)

    def password_policy(self) -> str:
        """What set_password and create_user below enforce, as Keycloak would write it."""
        return self.policy

    def realm_display_name(self) -> str:
        # Not in ``calls``: the service reads it in the background (site_name.py), at any time.
        if self.down:
            raise KeycloakUnavailable("Keycloak is unreachable at http://fake")
        return self.display_name

    def set_password(self, user_id: str, password: str) -> Result:
        self._check_up()
        if len(password) < 8:
            return Result.INVALID_PASSWORD_LENGTH
        if not any(ch.isdigit() for ch in password):
            return Result.MUST_CONTAIN_NUMBERS_AND_CHARACTERS
        if password.lower() == self.users[user_id].username.lower():
            return Result.PASSWORD_CONTAINS_IDENTITY
        with self._lock:
            if password in self.passwords[user_id][-3:]:
                return Result.VIOLATING_REUSE_RULES
            self.passwords[user_id].append(password)
            self.password_changes += 1
        return Result.SUCCESS

    def logout(self, user_id: str) -> None:
        self.calls.append("logout")
        if self.logout_down:
            raise KeycloakUnavailable("Keycloak is unreachable at http://fake")
        self.logouts.append(user_id)

    def ping(self) -> bool:
        return not self.down

    def find_user_by_email(self, email: str) -> KeycloakUser | None:
        self._check_up()
        return next((u for u in self.users.values() if u.email.lower() == email.lower()), None)

    def signup_rules(self) -> SignupRules:
        self._check_up()
        return self.rules

    def create_user(self, account: NewAccount) -> Result:
        """Like Keycloak 26: the password is checked in the same transaction as the create."""
        self._check_up()
        username = account.username or account.email
        with self._lock:
            if any(u.username.lower() == username.lower() for u in self.users.values()):
                raise AccountExists("an account with this username exists", field="username")
            if not self.rules.duplicate_emails and self.find_user_by_email(account.email):
                raise AccountExists("an account with this email exists", field="email")
            if len(account.password) < 8:
                return Result.INVALID_PASSWORD_LENGTH
            if not any(ch.isdigit() for ch in account.password):
                return Result.MUST_CONTAIN_NUMBERS_AND_CHARACTERS
            user = KeycloakUser(
                id=f"id-{username}",
                username=username,
                email=account.email,
                first_name=account.first_name,
                last_name=account.last_name,
                locale=account.locale,
            )
            self.users[user.id] = user
            self.passwords[user.id] = [account.password]
            self.created.append(account)
        return Result.SUCCESS

    def current_password(self, user_id: str) -> str:
        return self.passwords[user_id][-1]


def route_to(sender: Sender) -> MailRouting:
    """Routing that sends every kind, in every language, as ``sender``."""
    return MailRouting(
        MailSettings(
            from_address=sender.from_address,
            from_name=sender.from_name,
            reply_to=sender.reply_to,
            envelope_from=sender.envelope_from,
        )
    )


@dataclass(frozen=True)
class SentMail:
    message: EmailMessage
    envelope_from: str
    to: str


class MemoryTransport:
    """Keeps messages in a list; can be told to fail, to test retries."""

    def __init__(self) -> None:
        self.sent: list[SentMail] = []
        self.failing = False
        self._lock = threading.Lock()

    def send(self, message: EmailMessage, *, envelope_from: str, to: str) -> None:
        if self.failing:
            raise MailDeliveryError("memory transport told to fail")
        with self._lock:
            self.sent.append(SentMail(message, envelope_from, to))


class SlowTransport(MemoryTransport):
    """An SMTP server that takes a while: it widens the window between a job's cooldown
    check and its count, where concurrent jobs for one account could both slip through."""

    def send(self, message: EmailMessage, *, envelope_from: str, to: str) -> None:
        time.sleep(0.02)
        super().send(message, envelope_from=envelope_from, to=to)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` in a thread of its own: an earlier test (Playwright's sync API, in the
    same pytest process) may have left an event loop running in this one."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, main).result()
