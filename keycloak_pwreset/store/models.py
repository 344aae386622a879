"""Tables. The schema itself is owned by the Alembic migrations next door."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the database keeps.

    SQLite has no time zones; storing naive UTC and re-attaching UTC on the way
    out keeps comparisons with the injected clock correct on every backend.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class LinkToken(Base):
    """One emailed link. Purpose ``reset`` or ``signup``; never stores the token itself."""

    # The table keeps its first name: renaming it would be a migration for a word.
    __tablename__ = "recovery_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))
    # The Keycloak user id for resets; empty for sign-ups (no account exists yet).
    user_id: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    locale: Mapped[str] = mapped_column(String(35), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set while a completion is in flight: the atomic claim that makes a token
    # usable once even under concurrent submissions. ``claim_id`` names the one
    # attempt holding it, so that only that attempt can consume or release it.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claim_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Completion attempts refused for a reason the person can vary (a taken
    # username): bounded per link, so one verified link cannot probe without end.
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_recovery_tokens_user_purpose", "user_id", "purpose"),
        # Addresses are stored lower-cased, so this index serves every lookup by address.
        Index("ix_recovery_tokens_email_purpose", "email", "purpose"),
    )


class OutboxItem(Base):
    """Work the request path promised and the worker must do; deleted only when done."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A worker leases an item; a crashed worker's lease simply runs out.
    # ``lease_id`` names the lease, so a worker can finish only what it still holds.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Who asked (the client's network), so that one client's flood cannot delay
    # everyone else's work; empty for work the service itself created.
    client: Mapped[str] = mapped_column(String(64), default="")
    # Pending requests with the same key (same purpose, same identifier) are one job.
    coalesce_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_outbox_due", "failed_at", "next_attempt_at"),
        Index("ix_outbox_coalesce_key", "coalesce_key"),
    )


class SentEmail(Base):
    """One email that left for an account or address: the basis of the email cooldown.

    ``account`` is the Keycloak user id, or the lower-cased address when there is
    no account; ``network`` the requesting client's network, so that one client
    cannot spend an account's whole budget. Holds no address of an account.
    """

    __tablename__ = "sent_emails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(320))
    network: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_sent_emails_account_sent", "account", "sent_at"),)


class ForwardingPeer(Base):
    """A peer that sent X-Forwarded-For without being a trusted proxy (for `check`)."""

    __tablename__ = "forwarding_peers"

    peer: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
