"""The emailed link, written once: send one, redeem one.

Reset, sign-up and invitations each supply only their purpose, their
email and their one Keycloak action; the lifecycle around them is here: a link
is minted, emailed and counted, or discarded if it never left; a link is
claimed, acted on, then used up or given back, and given back when Keycloak
is down or refuses us, so that an outage never costs anyone their link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Protocol
from urllib.parse import urlencode

from keycloak_pwreset.errors import KeycloakRejected, KeycloakUnavailable, PwresetError
from keycloak_pwreset.flows.base import Flow
from keycloak_pwreset.flows.jobs import Job, RequestJob
from keycloak_pwreset.mail.mailer import Mailer
from keycloak_pwreset.results import Result
from keycloak_pwreset.store.link_tokens import TokenInfo

log = logging.getLogger(__name__)

# Where the emailed links lead (the web layer serves these paths).
RESET_LINK_PATH = "/reset-password"
SIGNUP_LINK_PATH = "/signup/complete"
INVITE_LINK_PATH = "/invitation"


class Spend(Enum):
    """What becomes of a link after an attempt to redeem it."""

    USED = "used"  # it did its job, or is dead for good: consumed
    KEPT = "kept"  # the person may try again with it (a refused password)
    KEPT_COUNTED = "kept_counted"  # may try again, a bounded number of times (a taken username)


@dataclass(frozen=True)
class Redeemed:
    """What an attempt to redeem a link came to, and the link it concerned (if it is one)."""

    result: Result
    link: TokenInfo | None = None

    @property
    def email(self) -> str:
        """The address the link was sent to ('' when there was no live link)."""
        return self.link.email if self.link else ""


class LinkEmail(Protocol):
    """One of mail/emails.py's senders, with what is particular to it already given."""

    def __call__(
        self, mailer: Mailer, *, locale: str, link: str, ttl_minutes: int, site_name: str
    ) -> None: ...


# The one Keycloak action of a flow: its result, and what becomes of the link.
Action = Callable[[TokenInfo], tuple[Result, Spend]]


class LinkFlow(Flow):
    def accept(self, job: RequestJob, *, key: str) -> Result:
        """Accept a person's request: one outbox row and nothing else, for every account.

        Looking the account up and sending the email happen in the worker, so
        the answer costs the same, looks the same and takes the same time
        whether or not an account exists (and an SMTP outage cannot show up as
        an error only for real accounts). The worker is not woken here: the web
        layer wakes it once the answer has left (web/after_answer.py), so that
        its work for a real account cannot slow that answer down. Requests with
        the same ``key`` from the same client network (``job.client``) that wait
        together are one job; from another network they never are, so a
        stranger's flood cannot swallow the owner's request.
        """
        self.enqueue(
            job,
            client=job.client,
            coalesce_key=f"{job.KIND}:{job.client}:{key}"[:128],
            wake=False,
        )
        return Result.SUCCESS

    def enqueue(
        self,
        job: Job,
        *,
        client: str = "",
        coalesce_key: str | None = None,
        wake: bool = True,
    ) -> None:
        """Record work for the worker; ``wake=False`` leaves waking it to the caller.

        ``client`` is the asking client's network (fairness between clients);
        a ``coalesce_key`` makes a request that is already waiting absorb this one.
        """
        self.outbox.add(job.KIND, job.to_payload(), client=client, coalesce_key=coalesce_key)
        if wake:
            self.wake_worker()

    def link(self, path: str, token: str) -> str:
        """An emailed link: built from KCPR_PUBLIC_URL only, never from a request."""
        return f"{self.public_url}{path}?{urlencode({'token': token})}"

    def send_link(
        self,
        *,
        purpose: str,
        path: str,
        account: str,
        network: str,
        kind: str,
        locale: str,
        send: LinkEmail,
        user_id: str = "",
        email: str = "",
        data: Mapping[str, object] | None = None,
        ttl: timedelta | None = None,
    ) -> None:
        """Mint a link for its owner (an account, or an address with ``data``), email it, count it.

        ``ttl`` replaces the flow's link lifetime (an invitation's is days, not minutes).

        A link whose email did not leave is deleted (the retry mints another):
        it never reached anyone, so it must neither stay valid nor count
        against the account's cooldown.
        """
        lifetime = ttl or self.ttl
        token = self.tokens.issue(
            purpose=purpose, ttl=lifetime, locale=locale, user_id=user_id, email=email, data=data
        )
        with self.tokens.discarded_if_unsent(token):
            send(
                self.mailer,
                locale=locale,
                link=self.link(path, token),
                ttl_minutes=int(lifetime.total_seconds() // 60),
                site_name=self.site_name,
            )
        self.count_email(account, network, kind, locale)

    def redeem(self, token: str, purpose: str, act: Action) -> Redeemed:
        """Claim the link, act, then use it up or give it back; exactly one caller wins."""
        claimed = self.tokens.claim(token, purpose)
        if claimed is None:  # used, or being used, by a concurrent submission
            return Redeemed(Result.LINK_EXPIRED)
        try:
            result, spend = act(claimed)
        except (KeycloakRejected, KeycloakUnavailable) as exc:
            return Redeemed(self.outage(claimed, exc), claimed)  # nothing was changed
        if spend is Spend.USED:
            if not self.tokens.consume(claimed):
                log.warning("a %s link's claim was taken over while it was acted on", purpose)
        else:
            self.tokens.release(claimed, failed_attempt=spend is Spend.KEPT_COUNTED)
        return Redeemed(result, claimed)

    def outage(self, claimed: TokenInfo, exc: PwresetError) -> Result:
        """Keycloak is down, or refuses us (a lost role, a rotated secret).

        Nothing was changed and it is not the person's fault: give the token
        back so their link keeps working, and tell the operator.
        """
        if not isinstance(exc, KeycloakUnavailable):
            log.error("Keycloak refused a change: %s", exc)
        self.tokens.release(claimed)
        return Result.SERVICE_UNAVAILABLE
