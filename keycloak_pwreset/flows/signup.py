"""Email-verified sign-up: the Keycloak account exists only once the email is proven.

Request: validate and record work in the outbox (the same answer whether or
not the email has an account, so the form reveals nothing). Worker: no
account yet → a sign-up token holding the pending details and a verification
email; an account exists → an "you already have an account" email with a
reset link, and nothing is created (nothing at all for a disabled or
protected account). Completion: redeem the link (flows/links.py) by creating
the enabled, verified account with its password in one Keycloak call.

Nothing the requester typed but the address reaches an inbox before the
address is proven: the verification email greets neutrally, and the
account-exists email greets the owner by the account's own name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import ClassVar

from keycloak_pwreset.audit import audit
from keycloak_pwreset.errors import AccountExists
from keycloak_pwreset.flows import reset
from keycloak_pwreset.flows.jobs import SignupRequestJob, applicant_from_link, link_data
from keycloak_pwreset.flows.links import (
    RESET_LINK_PATH,
    SIGNUP_LINK_PATH,
    LinkFlow,
    Redeemed,
    Spend,
)
from keycloak_pwreset.gateway import KeycloakUser, NewAccount, SignupRules
from keycloak_pwreset.gateway import SignupRequest as SignupRequest
from keycloak_pwreset.mail.emails import send_account_exists_email, send_signup_email
from keycloak_pwreset.results import Result
from keycloak_pwreset.store.link_tokens import TokenInfo
from keycloak_pwreset.validation import (
    MAX_NAME,
    check_field,
    check_new_password,
    check_person_name,
    check_username,
    clean_locale,
    normalize_email,
)
from keycloak_pwreset.worker import Handler

PURPOSE = "signup"


@dataclass
class SignupFlow(LinkFlow):
    default_groups: tuple[str, ...] = ()
    # Invitations (flows/invite.py) redeem their links the same way, under their own purpose.
    purpose: ClassVar[str] = PURPOSE

    # -- web side -----------------------------------------------------------

    def rules(self) -> SignupRules:
        return self.gateway.signup_rules()

    def validate(self, request: SignupRequest, rules: SignupRules) -> Result | None:
        """The first problem with the request, judged by the realm's rules; None if fine."""
        checks = rules.names_check_characters
        for name in (request.first_name, request.last_name):
            problem = check_person_name(name, realm_checks_characters=checks)
            if problem:
                return problem
        problem = check_field(request.email, 254)
        if problem:
            return problem
        if normalize_email(request.email.strip()) is None:
            return Result.INVALID_EMAIL
        if not rules.email_as_username:
            problem = check_username(request.username)
            if problem:
                return problem
        for attribute in rules.extra_attributes:
            problem = check_field(request.attributes.get(attribute.name, ""), MAX_NAME * 2)
            if problem:
                return problem
        return None

    def request(self, request: SignupRequest, rules: SignupRules, *, client: str = "") -> Result:
        problem = self.validate(request, rules)
        if problem:
            return problem
        applicant = SignupRequest(
            email=normalize_email(request.email.strip()) or "",
            first_name=request.first_name.strip(),
            last_name=request.last_name.strip(),
            username="" if rules.email_as_username else request.username.strip(),
            locale=self.languages.pick(clean_locale(request.locale)),
            attributes={a.name: request.attributes[a.name] for a in rules.extra_attributes},
        )
        return self.accept(SignupRequestJob(applicant, client=client), key=applicant.email)

    def check(self, token: str) -> TokenInfo | None:
        return self.tokens.find_live(token, self.purpose)

    def complete(
        self, token: str, password: str, confirmation: str, username: str | None = None
    ) -> Redeemed:
        """Create the account; ``username`` replaces the pending one after a clash."""
        pending = self.check(token) if token else None
        if pending is None:
            return Redeemed(Result.LINK_EXPIRED)
        # A realm that uses emails as usernames asked for none: a submitted one
        # is ignored, never passed on.
        username = username if self.wants_username(pending) else None
        problem = check_new_password(password, confirmation)
        if problem is None and username is not None:
            problem = check_username(username)
        if problem is None and self.screened_out(pending, password):
            problem = Result.PASSWORD_TOO_COMMON  # NIST screening, before Keycloak is asked
        if problem:
            return Redeemed(problem, pending)
        return self.redeem(token, self.purpose, lambda link: self._create(link, password, username))

    def wants_username(self, link: TokenInfo) -> bool:
        """Does the person choose a username? Only if the realm asked for one with the request."""
        return bool(applicant_from_link(link).username)

    def username_field_first(self, link: TokenInfo) -> bool:
        """Does the completion form ask for a username from the start? (A sign-up's was given.)"""
        return False

    def groups_for(self, link: TokenInfo) -> tuple[str, ...]:
        """The groups a new account joins (a sign-up's are the site's defaults)."""
        return self.default_groups

    def _create(self, link: TokenInfo, password: str, username: str | None) -> tuple[Result, Spend]:
        """Create the enabled, verified account with its password, in one Keycloak call."""
        applicant = applicant_from_link(link)
        applicant = replace(applicant, username=(username or applicant.username).strip())
        account = NewAccount(**asdict(applicant), password=password, groups=self.groups_for(link))
        try:
            result = self.gateway.create_user(account)
        except AccountExists as exc:
            if exc.field == "username":
                # Let them pick another, a bounded number of times: a verified link
                # must not become a tool to probe which usernames exist.
                return Result.USERNAME_TAKEN, Spend.KEPT_COUNTED
            # Created elsewhere meanwhile (another completion, an admin): the
            # link has done its job; the person can sign in or reset.
            return Result.ACCOUNT_EXISTS, Spend.USED
        if result is not Result.SUCCESS:
            return result, Spend.KEPT  # a refused password: nothing was created
        audit(f"{self.purpose}_completed", kind=self.purpose)
        return Result.SUCCESS, Spend.USED

    # -- worker side ----------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        return {SignupRequestJob.KIND: Handler(SignupRequestJob.from_payload, self.process_request)}

    def process_request(self, job: SignupRequestJob) -> None:
        email, locale, network = job.applicant.email, job.applicant.locale, job.client
        rules = self.gateway.signup_rules()
        existing = self.gateway.find_user_by_email(email)
        if existing is not None and not rules.duplicate_emails:
            with self.turns.turn(existing.id):
                if self._may_get_reset_link(existing) and not self.over_email_limit(
                    existing.id, network
                ):
                    self._tell_account_exists(existing, locale, network)
            return
        with self.turns.turn(email):
            self._send_signup_link(job)

    def _send_signup_link(self, job: SignupRequestJob) -> None:
        email, locale, network = job.applicant.email, job.applicant.locale, job.client
        if self.over_email_limit(email, network):
            return
        self.send_link(
            purpose=PURPOSE,
            path=SIGNUP_LINK_PATH,
            account=email,
            network=network,
            kind="signup",
            locale=locale,
            send=partial(send_signup_email, to=email),
            email=email,
            data=link_data(job.applicant),
        )

    def _may_get_reset_link(self, existing: KeycloakUser) -> bool:
        """The reset path's rules hold here too: no link for a disabled or protected account."""
        if not existing.enabled:
            audit("link_refused_disabled", account_id=existing.id)
            return False
        return not self.privileged(existing.id)

    def _tell_account_exists(self, existing: KeycloakUser, locale: str, network: str) -> None:
        # A reset link, not a second account: whoever asked can only use it
        # if they own the mailbox, and the form's answer revealed nothing.
        self.send_link(
            purpose=reset.PURPOSE,
            path=RESET_LINK_PATH,
            account=existing.id,
            network=network,
            kind="account-exists",
            locale=locale,
            send=partial(send_account_exists_email, to=existing.email, name=existing.own_name),
            user_id=existing.id,
            email=existing.email,
        )
