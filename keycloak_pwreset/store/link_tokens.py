"""Token rows: issue, look up, claim atomically, consume, revoke.

Rules enforced here, in SQL, so that every caller gets them:
- one live token per account and purpose: issuing revokes the older ones;
- a token is used at most once: completing first *claims* it with a single
  conditional UPDATE, so of two simultaneous submissions exactly one wins;
- a claim that fails (Keycloak rejected the password, or was down) is
  released, so the person can try again with the same link;
- a claim left behind by a crashed process goes stale and can be taken again;
  each claim carries its own random nonce, and only the attempt holding the
  current nonce may consume or release the token, so an attempt whose stale
  claim was taken over can no longer use the link (nor give it back).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.engine import CursorResult

from keycloak_pwreset.clock import Clock, utc_now
from keycloak_pwreset.secret_token import hash_token, looks_like_token, make_token
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.locks import Locks
from keycloak_pwreset.store.models import LinkToken

# Longer than one completion can take (a few Keycloak calls, each timing out
# after 10 s), so that a claim is taken over only from an attempt that is over.
STALE_CLAIM = timedelta(minutes=2)
# Refusals a person can vary (a taken username) per link: after that the link is
# dead, so that one verified link cannot be used to probe usernames without end.
MAX_FAILED_ATTEMPTS = 5


@dataclass(frozen=True)
class TokenInfo:
    id: int
    purpose: str
    user_id: str
    email: str
    locale: str
    data: Mapping[str, object]  # JSON, as stored: a sign-up's pending fields (flows/jobs.py)
    expires_at: datetime
    # The claim this copy was handed by ``claim``: only its holder may consume
    # or release the token. Empty for copies from ``find_live``.
    claim_id: str = ""


def _info(row: LinkToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        purpose=row.purpose,
        user_id=row.user_id,
        email=row.email,
        locale=row.locale,
        data=dict(row.data or {}),
        expires_at=row.expires_at,
    )


def live_at(now: datetime) -> ColumnElement[bool]:
    """A link still works: not used, revoked or expired, and not probed too often.

    The one definition, for the flows' tokens and the support desk's open requests alike.
    """
    return and_(
        LinkToken.used_at.is_(None),
        LinkToken.revoked_at.is_(None),
        LinkToken.expires_at > now,
        LinkToken.failed_attempts < MAX_FAILED_ATTEMPTS,
    )


class TokenStore:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock
        self._locks = Locks(db)

    def clock(self) -> datetime:
        return self._clock()

    def _live(self, now: datetime) -> Any:
        return live_at(now)

    def issue(
        self,
        *,
        purpose: str,
        ttl: timedelta,
        user_id: str = "",
        email: str = "",
        locale: str = "",
        data: Mapping[str, object] | None = None,
    ) -> str:
        """Mint a token, revoking the account's earlier live ones; return the raw token."""
        token = make_token()
        now = self._clock()
        email = email.lower()  # addresses are keys: one mailbox, whatever its case
        owner = LinkToken.user_id == user_id if user_id else LinkToken.email == email
        with self._db.session() as session:
            # Two workers minting for one account at once would each revoke only what
            # they saw and both insert: one live link per account needs them in turn.
            self._locks.in_transaction(session, "links", purpose, user_id or email)
            session.execute(
                update(LinkToken)
                .where(LinkToken.purpose == purpose, owner, self._live(now))
                .values(revoked_at=now)
            )
            session.add(
                LinkToken(
                    token_hash=hash_token(token),
                    purpose=purpose,
                    user_id=user_id,
                    email=email,
                    locale=locale,
                    data=dict(data or {}),
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return token

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
                session.execute(delete(LinkToken).where(LinkToken.token_hash == hash_token(token)))
            raise

    def find_live(self, token: str, purpose: str) -> TokenInfo | None:
        """Look a token up without using it (a GET, a mail scanner opening the link)."""
        if not looks_like_token(token):
            return None
        with self._db.session() as session:
            row = session.scalars(
                select(LinkToken).where(
                    LinkToken.token_hash == hash_token(token),
                    LinkToken.purpose == purpose,
                    self._live(self._clock()),
                )
            ).one_or_none()
            return None if row is None else _info(row)

    def claim(self, token: str, purpose: str) -> TokenInfo | None:
        """Take the token for one completion attempt; None if it is not usable now.

        The copy returned carries this claim's nonce: pass it to ``consume`` or
        ``release``, which act only while the claim is still this one.
        """
        if not looks_like_token(token):
            return None
        now = self._clock()
        token_hash = hash_token(token)
        claim_id = secrets.token_hex(16)
        with self._db.session() as session:
            result = session.execute(
                update(LinkToken)
                .where(
                    LinkToken.token_hash == token_hash,
                    LinkToken.purpose == purpose,
                    self._live(now),
                    or_(
                        LinkToken.claimed_at.is_(None),
                        LinkToken.claimed_at < now - STALE_CLAIM,
                    ),
                )
                .values(claimed_at=now, claim_id=claim_id)
            )
            if not isinstance(result, CursorResult) or result.rowcount != 1:
                return None
            row = session.scalars(select(LinkToken).where(LinkToken.token_hash == token_hash)).one()
            return replace(_info(row), claim_id=claim_id)

    def _held(self, claimed: TokenInfo) -> Any:
        """The caller's own claim of an unused token (a copy from ``find_live`` holds none)."""
        return and_(
            LinkToken.id == claimed.id,
            LinkToken.claim_id == claimed.claim_id,
            LinkToken.used_at.is_(None),
        )

    def release(self, claimed: TokenInfo, *, failed_attempt: bool = False) -> bool:
        """Give a claimed token back after a failed attempt: the link keeps working.

        ``failed_attempt`` counts the attempt against MAX_FAILED_ATTEMPTS.

        False when the claim is no longer the caller's (taken over after going
        stale, or the token was used): then nothing changes, so a late attempt
        cannot free a claim that a newer attempt holds.
        """
        with self._db.session() as session:
            result = session.execute(
                update(LinkToken)
                .where(self._held(claimed))
                .values(
                    claimed_at=None,
                    claim_id=None,
                    failed_attempts=LinkToken.failed_attempts + int(failed_attempt),
                )
            )
            return isinstance(result, CursorResult) and result.rowcount == 1

    def consume(self, claimed: TokenInfo) -> bool:
        """Mark the token used and kill every other live token of the same account.

        Returns False, changing nothing, when the caller's claim was taken over
        (it went stale and a newer attempt claimed the token) or the token is
        already used: exactly one attempt per link can consume it. A caller
        that gets False must treat the link as spent by someone else.
        """
        now = self._clock()
        owner = (
            LinkToken.user_id == claimed.user_id
            if claimed.user_id
            else LinkToken.email == claimed.email
        )
        with self._db.session() as session:
            result = session.execute(
                update(LinkToken).where(self._held(claimed)).values(used_at=now)
            )
            if not isinstance(result, CursorResult) or result.rowcount != 1:
                return False
            session.execute(
                update(LinkToken)
                .where(owner, LinkToken.id != claimed.id, self._live(now))
                .values(revoked_at=now)
            )
            return True
