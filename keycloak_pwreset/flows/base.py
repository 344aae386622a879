"""What every flow shares: its collaborators and the few moves they all make."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from keycloak_pwreset.audit import audit
from keycloak_pwreset.errors import KeycloakUnavailable, PwresetError
from keycloak_pwreset.gateway import Gateway
from keycloak_pwreset.i18n import Languages
from keycloak_pwreset.mail.mailer import Mailer
from keycloak_pwreset.results import Result
from keycloak_pwreset.store.outbox import Outbox
from keycloak_pwreset.store.tokens import TokenInfo, TokenStore

log = logging.getLogger(__name__)


@dataclass
class Flow:
    tokens: TokenStore
    outbox: Outbox
    gateway: Gateway
    mailer: Mailer
    public_url: str
    ttl: timedelta
    site_name: str
    languages: Languages = field(default_factory=lambda: Languages(["en"], "en"))
    emails_per_account_per_hour: int = 3
    wake_worker: Callable[[], None] = lambda: None

    @property
    def ttl_minutes(self) -> int:
        return int(self.ttl.total_seconds() // 60)

    def link(self, path: str, token: str) -> str:
        """An emailed link: built from KCPR_PUBLIC_URL only, never from a request."""
        return f"{self.public_url}{path}?{urlencode({'token': token})}"

    def enqueue(self, job: str, payload: dict[str, Any], *, wake: bool = True) -> None:
        """Record work for the worker; ``wake=False`` leaves waking it to the caller."""
        self.outbox.add(job, payload)
        if wake:
            self.wake_worker()

    def over_email_limit(self, *, user_id: str = "", email: str = "") -> bool:
        """Has this account had its share of emails this hour? Then drop, silently.

        Silently: the request was answered long ago, identically for every
        account; the drop is only counted in the audit log. It stops anyone
        from flooding a mailbox with reset or sign-up emails.
        """
        since = self.tokens.clock() - timedelta(hours=1)
        sent = self.tokens.issued_since(user_id=user_id, email=email, since=since)
        if sent < self.emails_per_account_per_hour:
            return False
        audit("email_suppressed", account_id=user_id or None, kind="cooldown")
        return True

    def outage(self, claimed: TokenInfo, exc: PwresetError) -> Result:
        """Keycloak is down, or refuses us (a lost role, a rotated secret).

        Nothing was changed and it is not the person's fault: give the token
        back so their link keeps working, and tell the operator.
        """
        if not isinstance(exc, KeycloakUnavailable):
            log.error("Keycloak refused a change: %s", exc)
        self.tokens.release(claimed.id)
        return Result.SERVICE_UNAVAILABLE
