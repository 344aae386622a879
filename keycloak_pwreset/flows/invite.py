"""Invitations: an administrator invites a person, who then chooses a password.

The support desk's way to open an account for someone, with or without
public sign-up: the console, the admin API or the CLI names an address (names,
groups, language and validity optional); the worker emails an invitation
link; the person opens it, chooses a password (and a username when the realm
wants one) and the account is created enabled, verified and in its groups in
one Keycloak call, exactly as a sign-up's completion (flows/signup.py, whose
redemption this flow inherits under its own purpose).

Unlike a stranger's sign-up, the administrator is told at once when an
account with the address exists: they are trusted, and an invitation that
would create nothing should not leave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import partial
from typing import ClassVar

from keycloak_pwreset.accounts import SignupRequest
from keycloak_pwreset.audit import audit
from keycloak_pwreset.flows.jobs import InviteJob, link_data
from keycloak_pwreset.flows.links import INVITE_LINK_PATH
from keycloak_pwreset.flows.signup import SignupFlow
from keycloak_pwreset.mail.emails import send_invite_email
from keycloak_pwreset.store.link_tokens import TokenInfo
from keycloak_pwreset.validation import check_person_name, clean_locale, normalize_email
from keycloak_pwreset.worker import Handler

PURPOSE = "invite"
DEFAULT_VALID_DAYS = 7
MAX_VALID_DAYS = 30


class Refusal(StrEnum):
    """Why an invitation was not sent (said to the administrator, never to the invitee)."""

    INVALID_EMAIL = "invalid_email"
    INVALID_NAME = "invalid_name"
    UNKNOWN_GROUP = "unknown_group"
    INVALID_VALIDITY = "invalid_validity"
    ACCOUNT_EXISTS = "account_exists"


@dataclass(frozen=True)
class Invitation:
    email: str
    first_name: str = ""
    last_name: str = ""
    groups: tuple[str, ...] | None = None  # None: the site's KCPR_SIGNUP_DEFAULT_GROUPS
    locale: str = ""
    valid_days: int = DEFAULT_VALID_DAYS


@dataclass
class InviteFlow(SignupFlow):
    purpose: ClassVar[str] = PURPOSE

    # -- the administrator's side ----------------------------------------------

    def invite(self, invitation: Invitation, *, by: str) -> Refusal | None:
        """Check the invitation and queue its email; the refusal if it cannot be sent.

        ``by`` names who invites (a Keycloak user id, or "cli") for the audit log
        and the invitation's list.
        """
        refusal, email = self._refusal(invitation)
        if refusal:
            return refusal
        groups = self.default_groups if invitation.groups is None else invitation.groups
        if set(groups) - set(self.gateway.group_paths()):
            return Refusal.UNKNOWN_GROUP
        if self.gateway.find_user_by_email(email) is not None:
            return Refusal.ACCOUNT_EXISTS
        ask_username = not self.gateway.signup_rules().email_as_username
        job = InviteJob(
            email=email,
            first_name=invitation.first_name.strip(),
            last_name=invitation.last_name.strip(),
            locale=self.languages.pick(clean_locale(invitation.locale)),
            groups="\n".join(groups),
            valid_days=str(invitation.valid_days),
            ask_username="yes" if ask_username else "",
            invited_by=by,
        )
        self.enqueue(job, coalesce_key=f"{InviteJob.KIND}:{email}"[:128])
        audit("invitation_requested", by=by, locale=job.locale)
        return None

    @staticmethod
    def _refusal(invitation: Invitation) -> tuple[Refusal | None, str]:
        email = normalize_email(invitation.email.strip()) or ""
        if not email:
            return Refusal.INVALID_EMAIL, ""
        for name in (invitation.first_name, invitation.last_name):
            if name and check_person_name(name):
                return Refusal.INVALID_NAME, email
        if not 1 <= invitation.valid_days <= MAX_VALID_DAYS:
            return Refusal.INVALID_VALIDITY, email
        return None, email

    # -- the worker's side --------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        return {InviteJob.KIND: Handler(InviteJob.from_payload, self.process_invite)}

    def process_invite(self, job: InviteJob) -> None:
        with self.turns.turn(job.email):
            if self.gateway.find_user_by_email(job.email) is not None:
                # Created meanwhile (a sign-up, another administrator): nothing to invite to.
                audit("invitation_skipped", kind="account_exists", by=job.invited_by)
                return
            person = SignupRequest(job.email, job.first_name, job.last_name, locale=job.locale)
            data = {
                **link_data(person),
                "groups": [g for g in job.groups.split("\n") if g],
                "ask_username": bool(job.ask_username),
                "invited_by": job.invited_by,
            }
            self.send_link(
                purpose=PURPOSE,
                path=INVITE_LINK_PATH,
                account=job.email,
                network="console",
                kind="invite",
                locale=job.locale,
                send=partial(send_invite_email, to=job.email, name=full_name(person)),
                email=job.email,
                data=data,
                ttl=timedelta(days=int(job.valid_days or DEFAULT_VALID_DAYS)),
            )

    # -- the person's side: SignupFlow.complete, with the invitation's own answers ----

    def wants_username(self, link: TokenInfo) -> bool:
        return bool(link.data.get("ask_username"))

    def username_field_first(self, link: TokenInfo) -> bool:
        return self.wants_username(link)

    def groups_for(self, link: TokenInfo) -> tuple[str, ...]:
        groups = link.data.get("groups", [])
        return tuple(str(g) for g in groups) if isinstance(groups, list) else ()


def full_name(person: SignupRequest) -> str:
    # Folded to one line: it is also the To header's display name.
    return " ".join(f"{person.first_name} {person.last_name}".split())
