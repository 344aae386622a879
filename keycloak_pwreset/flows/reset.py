"""Password reset: request a link, check it, complete it; plus the worker's side.

The link's lifecycle (accept the request, send the link, redeem it) is
flows/links.py's; this module supplies what is particular to a reset: who gets
a link, its email, and the one Keycloak action, setting the password.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import partial

from keycloak_pwreset.audit import audit
from keycloak_pwreset.errors import AccountNotFound
from keycloak_pwreset.flows.jobs import LogoutSessionsJob, PasswordChangedJob, ResetRequestJob
from keycloak_pwreset.flows.links import RESET_LINK_PATH, LinkFlow, Spend
from keycloak_pwreset.mail.emails import (
    send_no_account_email,
    send_password_changed_email,
    send_reset_email,
)
from keycloak_pwreset.results import Result
from keycloak_pwreset.store.link_tokens import TokenInfo
from keycloak_pwreset.validation import (
    MAX_IDENTIFIER,
    check_field,
    check_new_password,
    clean_locale,
    normalize_email,
)
from keycloak_pwreset.worker import Handler

PURPOSE = "reset"


@dataclass
class ResetFlow(LinkFlow):
    # KCPR_UNKNOWN_ACCOUNT_NOTICE: tell an address with no account that someone asked.
    unknown_account_notice: bool = False
    signup_url: str = ""  # offered in that notice; empty when sign-up is off

    # -- web side -----------------------------------------------------------

    def request(
        self, identifier: str, locale: str = "", page_locale: str = "", *, client: str = ""
    ) -> Result:
        """Accept a reset request for an email or username. Never reveals existence.

        ``locale`` is a language the person chose explicitly; ``page_locale``
        the one their browser got. The email's language is decided in the
        worker: the explicit choice, else the account's saved language, else
        the page's. ``client`` is the asking client's network: its requests
        for one identifier wait as one job, and cannot delay other clients'.
        """
        identifier = identifier.strip()
        problem = check_field(identifier, MAX_IDENTIFIER)
        if problem:
            return problem
        job = ResetRequestJob(
            identifier,
            locale=clean_locale(locale),
            page_locale=clean_locale(page_locale),
            client=client,
        )
        return self.accept(job, key=identifier.lower())

    def check(self, token: str) -> TokenInfo | None:
        """Is this link usable? Does not use it up (mail scanners open links too)."""
        return self.tokens.find_live(token, PURPOSE)

    def complete(self, token: str, password: str, confirmation: str) -> Result:
        """Set the new password if the token is live; exactly one caller can succeed.

        Three Keycloak calls: read the account, read its roles, set the
        password. Its sessions are logged out by the worker right after.
        """
        link = self.check(token) if token else None
        if link is None:
            return Result.LINK_EXPIRED
        problem = check_new_password(password, confirmation)
        if problem:
            return problem
        if self.screened_out(link, password):  # NIST screening, before Keycloak is asked
            return Result.PASSWORD_TOO_COMMON
        redeemed = self.redeem(token, PURPOSE, lambda link: self._set_password(link, password))
        if redeemed.result is Result.SUCCESS and redeemed.link is not None:
            self._after_change(redeemed.link)
        return redeemed.result

    def _set_password(self, link: TokenInfo, password: str) -> tuple[Result, Spend]:
        try:
            if not self._still_entitled(link):
                return Result.LINK_EXPIRED, Spend.USED  # dead for good
            result = self.gateway.set_password(link.user_id, password)
        except AccountNotFound:  # deleted since the link was sent: the link is dead
            return Result.LINK_EXPIRED, Spend.USED
        # A password the realm refused: the same link may try another.
        return result, Spend.USED if result is Result.SUCCESS else Spend.KEPT

    def _still_entitled(self, claimed: TokenInfo) -> bool:
        """Is the account still the one the link was sent for, and still open to self-service?

        A link proves control of the mailbox it was sent to, at that time. An
        account disabled since, or whose address an administrator changed (say,
        off a compromised mailbox), or that has since become an administrator,
        must not take a new password from it.
        """
        user = self.gateway.get_user(claimed.user_id)  # None: deleted or disabled
        if user is None or user.email.lower() != claimed.email.lower():
            audit("link_refused_account_changed", account_id=claimed.user_id)
            return False
        return not self.privileged(user.id)

    def _after_change(self, claimed: TokenInfo) -> None:
        # Whoever knew the old password may hold a session: the worker ends
        # them all as soon as this answer has left (and retries if Keycloak
        # hiccups), which keeps the completion itself to three Keycloak calls.
        self.enqueue(LogoutSessionsJob(claimed.user_id))
        self.enqueue(PasswordChangedJob(claimed.user_id, claimed.locale))
        audit("password_changed", account_id=claimed.user_id)

    # -- worker side ----------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        return {
            ResetRequestJob.KIND: Handler(ResetRequestJob.from_payload, self.process_request),
            PasswordChangedJob.KIND: Handler(PasswordChangedJob.from_payload, self.process_changed),
            LogoutSessionsJob.KIND: Handler(LogoutSessionsJob.from_payload, self.process_logout),
        }

    def process_request(self, job: ResetRequestJob) -> None:
        """Look the account up; if it may have one, mint a token and email the link.

        Raising (Keycloak or SMTP down) leaves the job in the outbox for a
        later attempt, which mints a fresh token that supersedes this one.
        """
        network = job.client
        user = self.gateway.find_user(job.identifier)
        if user is None or not user.email:
            # Return as if we did, to avoid leaking registered accounts.
            audit("reset_no_account")
            if self.unknown_account_notice:
                self._tell_no_account(job)
            return
        with self.turns.turn(user.id):
            if self.privileged(user.id):  # an administrator's password is not ours to set
                return
            if self.over_email_limit(user.id, network):
                return
            self.send_link(
                purpose=PURPOSE,
                path=RESET_LINK_PATH,
                account=user.id,
                network=network,
                kind="reset",
                locale=self.languages.pick(job.locale, user.locale, job.page_locale),
                send=partial(send_reset_email, user=user),
                user_id=user.id,
                email=user.email,
                # For the new-password page: the rules and the screening know whose it is.
                data={
                    "username": user.username,
                    "first_name": user.first_name,
                    "last_name": user.last_name,
                },
            )

    def _tell_no_account(self, job: ResetRequestJob) -> None:
        """Email an address with no account that someone asked to reset "its" password.

        Only to something that is an email address (a username has nowhere to
        write to), under the same per-address cooldown as every email. The
        email carries nothing the requester typed but the address itself, so
        it cannot be used to send someone a message of one's own.
        """
        address = normalize_email(job.identifier)
        if address is None:
            return
        with self.turns.turn(address):
            if self.over_email_limit(address, job.client):
                return
            locale = self.languages.pick(job.locale, job.page_locale)
            send_no_account_email(
                self.mailer,
                locale=locale,
                to=address,
                reset_url=f"{self.public_url}/forgot-password",
                signup_url=self.signup_url,
                site_name=self.site_name,
            )
            self.count_email(address, job.client, "no-account", locale)

    def process_changed(self, job: PasswordChangedJob) -> None:
        user = self.gateway.get_user(job.user_id)
        if user is None or not user.email:
            return
        with self.turns.turn(user.id):
            send_password_changed_email(
                self.mailer,
                locale=self.languages.pick(job.locale, user.locale),
                user=user,
                reset_url=f"{self.public_url}/forgot-password",
                site_name=self.site_name,
            )

    def process_logout(self, job: LogoutSessionsJob) -> None:
        with contextlib.suppress(AccountNotFound):  # no account, no sessions: done
            self.gateway.logout(job.user_id)
