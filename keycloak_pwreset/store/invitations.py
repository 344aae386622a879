"""The invitations sent, as the console lists them: pending, accepted, expired or revoked.

An invitation is its link's token row (purpose ``invite``, flows/invite.py):
the row's columns say what became of it, and its data holds the names, groups
and who invited. Rows go when the retention sweep removes old links, so the
list is the recent past, not a history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from keycloak_pwreset.clock import Clock, utc_now
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.link_tokens import MAX_FAILED_ATTEMPTS
from keycloak_pwreset.store.models import LinkToken

PURPOSE = "invite"  # flows/invite.py's, named here too so the store imports no flow
LIST_LIMIT = 500


@dataclass(frozen=True)
class SentInvitation:
    id: int
    email: str
    first_name: str
    last_name: str
    groups: tuple[str, ...]
    locale: str
    invited_by: str
    state: str  # pending, accepted, expired or revoked
    created_at: datetime
    expires_at: datetime


def _state(row: LinkToken, now: datetime) -> str:
    if row.used_at is not None:
        return "accepted"
    if row.revoked_at is not None:
        return "revoked"  # by an administrator, or replaced by a newer invitation
    if row.expires_at <= now or row.failed_attempts >= MAX_FAILED_ATTEMPTS:
        return "expired"
    return "pending"


class Invitations:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def sent(self, *, state: str | None = None) -> list[SentInvitation]:
        """The invitations, newest first; ``state`` keeps only those in it."""
        now = self._clock()
        query = (
            select(LinkToken)
            .where(LinkToken.purpose == PURPOSE)
            .order_by(LinkToken.created_at.desc(), LinkToken.id.desc())
            .limit(LIST_LIMIT)
        )
        with self._db.session() as session:
            rows = session.scalars(query).all()
            found = [self._one(row, now) for row in rows]
        return [i for i in found if state is None or i.state == state]

    def one(self, invitation_id: int) -> SentInvitation | None:
        with self._db.session() as session:
            row = session.get(LinkToken, invitation_id)
            if row is None or row.purpose != PURPOSE:
                return None
            return self._one(row, self._clock())

    @staticmethod
    def _one(row: LinkToken, now: datetime) -> SentInvitation:
        data = dict(row.data or {})
        groups = data.get("groups")
        return SentInvitation(
            id=row.id,
            email=row.email,
            first_name=str(data.get("first_name", "")),
            last_name=str(data.get("last_name", "")),
            groups=tuple(str(g) for g in groups) if isinstance(groups, list) else (),
            locale=row.locale,
            invited_by=str(data.get("invited_by", "")),
            state=_state(row, now),
            created_at=row.created_at,
            expires_at=row.expires_at,
        )
