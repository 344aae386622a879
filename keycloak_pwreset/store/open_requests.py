"""The open requests: every live emailed link, as the support desk sees it, and its revocation.

A link is live until it is used, revoked, superseded (a new link for the same
account and purpose revokes it) or expired. What is shown is who it is for, when
it was made and runs out, and how many emails the account or address got in the
last hour; never the token, which is stored only as a hash anyway. For the
operator's CLI now, and for the admin console (issue 14) next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from keycloak_pwreset.clock import Clock, utc_now
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.link_tokens import live_at
from keycloak_pwreset.store.models import LinkToken, SentEmail

LIST_LIMIT = 500  # a page for people; a site with more open links filters by address


@dataclass(frozen=True)
class OpenRequest:
    id: int
    purpose: str
    user_id: str  # the Keycloak account (empty for a sign-up: no account exists yet)
    email: str
    locale: str
    created_at: datetime
    expires_at: datetime
    emails_this_hour: int


class OpenRequests:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def live(self, *, purpose: str | None = None, address: str | None = None) -> list[OpenRequest]:
        """Live links, newest first; ``address`` matches the email exactly (case-insensitive)."""
        now = self._clock()
        query = select(LinkToken).where(live_at(now))
        if purpose:
            query = query.where(LinkToken.purpose == purpose)
        if address:
            query = query.where(LinkToken.email == address.strip().lower())
        query = query.order_by(LinkToken.created_at.desc(), LinkToken.id.desc()).limit(LIST_LIMIT)
        with self._db.session() as session:
            rows = session.scalars(query).all()
            counts = self._emails_since(session, rows, now - timedelta(hours=1))
        return [
            OpenRequest(
                row.id,
                row.purpose,
                row.user_id,
                row.email,
                row.locale,
                row.created_at,
                row.expires_at,
                counts.get(row.user_id or row.email, 0),
            )
            for row in rows
        ]

    @staticmethod
    def _emails_since(
        session: Session, rows: Sequence[LinkToken], since: datetime
    ) -> dict[str, int]:
        """Emails per account in one query (the cooldown counts an account id, else an address)."""
        accounts = {row.user_id or row.email for row in rows}
        if not accounts:
            return {}
        query = (
            select(SentEmail.account, func.count())
            .where(SentEmail.account.in_(accounts), SentEmail.sent_at >= since)
            .group_by(SentEmail.account)
        )
        return {account: count for account, count in session.execute(query)}

    def revoke(self, link_id: int) -> bool:
        """Kill one live link at once; False if it was not live (used, expired, revoked, unknown).

        A completion already in flight (the link claimed) still ends: it checked the
        link before the revocation, as it would have a moment earlier.
        """
        now = self._clock()
        statement = (
            update(LinkToken).where(LinkToken.id == link_id, live_at(now)).values(revoked_at=now)
        )
        with self._db.session() as session:
            result = session.execute(statement)
            return isinstance(result, CursorResult) and result.rowcount == 1
