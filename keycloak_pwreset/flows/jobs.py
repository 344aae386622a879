"""The worker's jobs, typed: one frozen dataclass per kind of outbox row.

The outbox stores JSON (store/outbox.py); here each job knows its kind, writes
its payload and reads it back. Kinds and field names are a contract with the
rows already queued in a site's database, which the next version must still
do after an upgrade: they never change, and a field added later needs a
default, for the rows written without it. Keys a job does not know (a newer
version's, during a rollout) are ignored.

A sign-up's fields are one SignupRequest (gateway.py) from the form to the
account: written here into its job's payload and into its link's token data,
in the JSON both had before they were typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, fields
from typing import Any, ClassVar, Self

from keycloak_pwreset.errors import UnreadablePayload
from keycloak_pwreset.gateway import SignupRequest
from keycloak_pwreset.store.link_tokens import TokenInfo

# The reasons below name kinds and fields, never values: payloads hold email
# addresses, and a reason is logged and kept in the row.


def _object(payload: object, what: str) -> Mapping[str, object]:
    if not isinstance(payload, Mapping):
        raise UnreadablePayload(f"the {what} payload is not an object")
    return payload


def _text(payload: Mapping[str, object], name: str, what: str, default: str | None = "") -> str:
    """The text field ``name``, or ``default`` if it is absent (None: it must be there)."""
    value = payload.get(name, default)
    if not isinstance(value, str):
        raise UnreadablePayload(f"the {what} payload's {name!r} is missing or not text")
    return value


def _default(spec: Field[Any]) -> str | None:
    return None if spec.default is MISSING else str(spec.default)


@dataclass(frozen=True)
class Job:
    """A kind of outbox row. Its fields are text; one without a default must be there."""

    KIND: ClassVar[str]

    def to_payload(self) -> dict[str, object]:
        # Every field is text (from_payload reads them so): no deep copy needed, as
        # asdict would make on the request path.
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> Self:
        """The job a row holds; UnreadablePayload if it holds none."""
        row = _object(payload, cls.KIND)
        return cls(**{f.name: _text(row, f.name, cls.KIND, _default(f)) for f in fields(cls)})


@dataclass(frozen=True, kw_only=True)
class RequestJob(Job):
    """A person's request: it names the client network it came from (see LinkFlow.accept)."""

    client: str = ""


@dataclass(frozen=True)
class ResetRequestJob(RequestJob):
    """Someone asked for a reset link for an email or username."""

    KIND: ClassVar[str] = "reset_request"
    identifier: str
    locale: str = ""  # the language they chose explicitly, if they did
    page_locale: str = ""  # the language their page was in


@dataclass(frozen=True)
class PasswordChangedJob(Job):
    """Tell an account's owner that its password was changed."""

    KIND: ClassVar[str] = "password_changed"
    user_id: str
    locale: str = ""


@dataclass(frozen=True)
class LogoutSessionsJob(Job):
    """End every session of an account whose password was changed."""

    KIND: ClassVar[str] = "logout_sessions"
    user_id: str


@dataclass(frozen=True)
class SignupRequestJob(RequestJob):
    """Someone asked for an account, with these (already cleaned) fields."""

    KIND: ClassVar[str] = "signup_request"
    applicant: SignupRequest

    def to_payload(self) -> dict[str, object]:
        person = self.applicant
        return {
            "email": person.email,
            **link_data(person),
            "locale": person.locale,
            "client": self.client,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> Self:
        row = _object(payload, cls.KIND)
        email, locale = _text(row, "email", cls.KIND, None), _text(row, "locale", cls.KIND)
        applicant = _applicant(row, cls.KIND, email=email, locale=locale)
        return cls(applicant, client=_text(row, "client", cls.KIND))


@dataclass(frozen=True, kw_only=True)
class InviteJob(Job):
    """An administrator invited this address (flows/invite.py); every field already checked."""

    KIND: ClassVar[str] = "invite"
    email: str
    first_name: str = ""
    last_name: str = ""
    locale: str = ""
    groups: str = ""  # group paths, one per line
    valid_days: str = ""
    ask_username: str = ""  # "yes" when the realm wants a username chosen
    invited_by: str = ""


def link_data(applicant: SignupRequest) -> dict[str, object]:
    """What a sign-up link's token keeps besides its email and locale columns.

    Field by field, never asdict: a NewAccount is a SignupRequest too, and its
    password must never reach a row.
    """
    return {
        "first_name": applicant.first_name,
        "last_name": applicant.last_name,
        "username": applicant.username,
        "attributes": dict(applicant.attributes),
    }


def applicant_from_link(link: TokenInfo) -> SignupRequest:
    """The sign-up a link's token holds; UnreadablePayload if its data holds none."""
    what = "signup link"
    return _applicant(_object(link.data, what), what, email=link.email, locale=link.locale)


def _applicant(row: Mapping[str, object], what: str, *, email: str, locale: str) -> SignupRequest:
    return SignupRequest(
        email=email,
        first_name=_text(row, "first_name", what),
        last_name=_text(row, "last_name", what),
        username=_text(row, "username", what),
        locale=locale,
        attributes=_attributes(row, what),
    )


def _attributes(row: Mapping[str, object], what: str) -> dict[str, str]:
    value = row.get("attributes", {})
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise UnreadablePayload(f"the {what} payload's 'attributes' are not texts by name")
    return {str(name): text for name, text in value.items()}
