"""Token rows: issue, look up, claim atomically, consume, revoke.

Rules enforced here, in SQL, so that every caller gets them:
- one live token per account and purpose: issuing revokes the older ones;
- a token is used at most once: completing first *claims* it with a single
  conditional UPDATE, so of two simultaneous submissions exactly one wins;
- a claim that fails (Keycloak rejected the password, or was down) is
  released, so the person can try again with the same link;
- a claim left behind by a crashed process goes stale and can be taken again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import CursorResult

from keycloak_pwreset.clock import Clock, utc_now
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.models import RecoveryToken
from keycloak_pwreset.tokens import hash_token, looks_like_token, make_token

STALE_CLAIM = timedelta(minutes=2)


@dataclass(frozen=True)
class TokenInfo:
    id: int
    purpose: str
    user_id: str
    email: str
    locale: str
    data: dict[str, Any]
    expires_at: datetime


def _info(row: RecoveryToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        purpose=row.purpose,
        user_id=row.user_id,
        email=row.email,
        locale=row.locale,
        data=dict(row.data or {}),
        expires_at=row.expires_at,
    )


class TokenStore:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def clock(self) -> datetime:
        return self._clock()

    def _live(self, now: datetime) -> Any:
        return and_(
            RecoveryToken.used_at.is_(None),
            RecoveryToken.revoked_at.is_(None),
            RecoveryToken.expires_at > now,
        )

    def issue(
        self,
        *,
        purpose: str,
        ttl: timedelta,
        user_id: str = "",
        email: str = "",
        locale: str = "",
        data: dict[str, Any] | None = None,
    ) -> str:
        """Mint a token, revoking the account's earlier live ones; return the raw token."""
        token = make_token()
        now = self._clock()
        owner = RecoveryToken.user_id == user_id if user_id else RecoveryToken.email == email
        with self._db.session() as session:
            session.execute(
                update(RecoveryToken)
                .where(RecoveryToken.purpose == purpose, owner, self._live(now))
                .values(revoked_at=now)
            )
            session.add(
                RecoveryToken(
                    token_hash=hash_token(token),
                    purpose=purpose,
                    user_id=user_id,
                    email=email,
                    locale=locale,
                    data=data or {},
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return token

    def issued_since(self, *, user_id: str = "", email: str = "", since: datetime) -> int:
        """How many tokens (any purpose) were minted for this account or address since ``since``.

        Every email with a link mints one, so this counts emails: the basis of
        the per-account cooldown, shared by every instance through the database.
        """
        owner = RecoveryToken.user_id == user_id if user_id else RecoveryToken.email == email
        with self._db.session() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(RecoveryToken)
                    .where(owner, RecoveryToken.created_at >= since)
                )
                or 0
            )

    @contextmanager
    def discarded_if_unsent(self, token: str) -> Iterator[None]:
        """Delete a freshly minted token if sending its email fails.

        The retry mints another; a token that never reached anyone must not
        count against the account's email cooldown, nor stay valid.
        """
        try:
            yield
        except BaseException:
            with self._db.session() as session:
                session.execute(
                    delete(RecoveryToken).where(RecoveryToken.token_hash == hash_token(token))
                )
            raise

    def find_live(self, token: str, purpose: str) -> TokenInfo | None:
        """Look a token up without using it (a GET, a mail scanner opening the link)."""
        if not looks_like_token(token):
            return None
        with self._db.session() as session:
            row = session.scalars(
                select(RecoveryToken).where(
                    RecoveryToken.token_hash == hash_token(token),
                    RecoveryToken.purpose == purpose,
                    self._live(self._clock()),
                )
            ).one_or_none()
            return None if row is None else _info(row)

    def claim(self, token: str, purpose: str) -> TokenInfo | None:
        """Take the token for one completion attempt; None if it is not usable now."""
        if not looks_like_token(token):
            return None
        now = self._clock()
        token_hash = hash_token(token)
        with self._db.session() as session:
            result = session.execute(
                update(RecoveryToken)
                .where(
                    RecoveryToken.token_hash == token_hash,
                    RecoveryToken.purpose == purpose,
                    self._live(now),
                    or_(
                        RecoveryToken.claimed_at.is_(None),
                        RecoveryToken.claimed_at < now - STALE_CLAIM,
                    ),
                )
                .values(claimed_at=now)
            )
            if not isinstance(result, CursorResult) or result.rowcount != 1:
                return None
            row = session.scalars(
                select(RecoveryToken).where(RecoveryToken.token_hash == token_hash)
            ).one()
            return _info(row)

    def release(self, token_id: int) -> None:
        """Give a claimed token back after a failed attempt: the link keeps working."""
        with self._db.session() as session:
            session.execute(
                update(RecoveryToken)
                .where(RecoveryToken.id == token_id, RecoveryToken.used_at.is_(None))
                .values(claimed_at=None)
            )

    def consume(self, info: TokenInfo) -> None:
        """Mark the token used and kill every other live token of the same account."""
        now = self._clock()
        owner = (
            RecoveryToken.user_id == info.user_id
            if info.user_id
            else RecoveryToken.email == info.email
        )
        with self._db.session() as session:
            session.execute(
                update(RecoveryToken).where(RecoveryToken.id == info.id).values(used_at=now)
            )
            session.execute(
                update(RecoveryToken)
                .where(owner, RecoveryToken.id != info.id, self._live(now))
                .values(revoked_at=now)
            )
