"""The log of emails sent, per account and requesting network: the email cooldown.

Counted here rather than in the token table, so that an email without a
link (the no-account notice) counts like any other and a token row only ever
means a link. Shared by every instance through the database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select

from keycloak_pwreset.clock import Clock, utc_now
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.models import SentEmail


class SentEmails:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def clock(self) -> datetime:
        return self._clock()

    def record(self, account: str, *, network: str, kind: str) -> None:
        """One email left for ``account`` (a user id, or a lower-cased address)."""
        with self._db.session() as session:
            session.execute(
                insert(SentEmail).values(
                    account=account, network=network[:64], kind=kind, sent_at=self._clock()
                )
            )

    def count_since(self, account: str, since: datetime, *, network: str | None = None) -> int:
        """Emails sent to ``account`` since ``since``; from one ``network`` when given."""
        query = (
            select(func.count())
            .select_from(SentEmail)
            .where(SentEmail.account == account, SentEmail.sent_at >= since)
        )
        if network is not None:
            query = query.where(SentEmail.network == network)
        with self._db.session() as session:
            return session.scalar(query) or 0
