"""What every flow shares: its collaborators and the few moves they all make."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from keycloak_pwreset.audit import audit
from keycloak_pwreset.errors import KeycloakRejected, KeycloakUnavailable
from keycloak_pwreset.gateway import Gateway
from keycloak_pwreset.i18n import Languages
from keycloak_pwreset.mail.mailer import Mailer
from keycloak_pwreset.metrics import Metrics
from keycloak_pwreset.password_rules import COUNTED, Rule, broken_rules, parse_policy
from keycloak_pwreset.password_screening import Screening, words_of
from keycloak_pwreset.results import Result
from keycloak_pwreset.store.link_tokens import TokenInfo, TokenStore
from keycloak_pwreset.store.outbox import Outbox
from keycloak_pwreset.store.sent_emails import SentEmails
from keycloak_pwreset.turns import Turns


@dataclass
class Flow:
    tokens: TokenStore
    outbox: Outbox
    gateway: Gateway
    mailer: Mailer
    public_url: str
    ttl: timedelta
    # The site's name as people know it (site_name.py), asked whenever an email is written.
    site: Callable[[], str]
    sent: SentEmails
    languages: Languages = field(default_factory=lambda: Languages(["en"], "en"))
    emails_per_account_per_client_per_hour: int = 3
    emails_per_account_per_hour: int = 10
    wake_worker: Callable[[], None] = lambda: None
    # Shared with the worker: its concurrent jobs for one person act in order (turns.py).
    turns: Turns = field(default_factory=Turns)
    metrics: Metrics = field(default_factory=Metrics)
    # NIST screening before Keycloak is asked (password_screening.py; None: off).
    screening: Screening | None = None

    @property
    def site_name(self) -> str:
        return self.site()

    @property
    def ttl_minutes(self) -> int:
        return int(self.ttl.total_seconds() // 60)

    def over_email_limit(self, account: str, network: str) -> bool:
        """Has this account had its share of emails this hour? Then drop, silently.

        Silently: the request was answered long ago, identically for every
        account; the drop is only counted in the audit log. Two budgets: one
        per requesting network, so that a stranger's requests spend only their
        own share and the owner's request still gets through; and a higher one
        for the account, so that many networks together cannot flood it either.
        """
        since = self.sent.clock() - timedelta(hours=1)
        from_here = self.sent.count_since(account, since, network=network)
        if from_here < self.emails_per_account_per_client_per_hour:
            total = self.sent.count_since(account, since)
            if total < self.emails_per_account_per_hour:
                return False
        audit(
            "email_suppressed", account_id=account if "@" not in account else None, kind="cooldown"
        )
        self.metrics.refused("emails_per_account")
        return True

    def privileged(self, user_id: str) -> bool:
        """Is this an account self-service must never touch (keycloak_pwreset.protected_roles)?

        Asked before any link is sent and again before a password is set; the
        refusal is only audited: the person's answer was the same as everyone's.
        """
        if not self.gateway.is_protected(user_id):
            return False
        audit("reset_refused_privileged", account_id=user_id)
        return True

    # -- the new password ------------------------------------------------------

    def password_rules(self) -> list[Rule]:
        """The rules a new password must meet: the realm's policy (cached), and our screening.

        Raises KeycloakUnavailable/KeycloakRejected when the policy cannot be read.
        """
        rules = parse_policy(self.gateway.password_policy())
        return [*rules, Rule("screening")] if self.screening else rules

    @staticmethod
    def identity(link: TokenInfo) -> tuple[str, str, list[str]]:
        """Who the link is for, as far as it says: (username, email, names).

        Reset links keep the account's username and names from when they were sent;
        sign-up and invitation links the applicant's.
        """
        data = link.data
        names = [str(data.get(k, "")) for k in ("first_name", "last_name")]
        return str(data.get("username", "")), link.email, names

    def too_common(self, link: TokenInfo, password: str) -> str | None:
        """The screening's reason to refuse the password (REASONS), or None."""
        if self.screening is None:
            return None
        username, email, names = self.identity(link)
        return self.screening.reason(password, words_of(username, email, *names))

    def screened_out(self, link: TokenInfo, password: str) -> bool:
        """Refuse the password before Keycloak is asked? Only for the screening's reasons.

        A password that breaks one of the realm's own rules goes to Keycloak, which
        refuses it with that rule (and the page marks every rule it breaks); the
        screening is for passwords that meet them all and are still easy to guess.
        """
        if self.screening is None:
            return False
        # A password equal to the username is the screening's too (Keycloak 24 and 25 compare
        # it with the username exactly, 26 ignoring case: keycloak_versions.py).
        if any(rule.kind in COUNTED for rule in self.broken(link, password, None)):
            return False
        return self.too_common(link, password) is not None

    def broken(self, link: TokenInfo, password: str, refusal: Result | None) -> list[Rule]:
        """Every rule a refused password breaks (password_rules.py): [] if the policy is unread."""
        try:
            rules = self.password_rules()
        except (KeycloakUnavailable, KeycloakRejected):
            return []
        username, email, _ = self.identity(link)
        return broken_rules(rules, password, refusal, username=username, email=email)

    def count_email(self, account: str, network: str, kind: str, locale: str) -> None:
        """An email has left: count it against the cooldown and note it."""
        self.sent.record(account, network=network, kind=kind)
        audit(
            "email_sent",
            account_id=account if "@" not in account else None,
            kind=kind,
            locale=locale,
        )
