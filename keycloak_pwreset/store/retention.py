"""The retention sweep: rows that hold personal data leave once they are of no more use.

Tokens carry an address, a name, sign-up attributes; failed outbox rows carry
what was asked; the sent-email log carries account ids and networks. None of it
may stay forever. The worker runs ``sweep`` about once an hour (worker.py).

What is kept, and why that long:
- a token, ``token_days`` (7) after it stopped being live (used, revoked or
  expired, whichever came first): long enough to answer "did someone use my
  link?" from the admin view, and for the audit trail to be matched to it;
- a failed outbox job, ``failed_job_days`` (30) after it failed: time for an
  operator to see it and retry it;
- a sent-email record, 2 days: it only serves the email cooldowns, whose
  windows are shorter.
Pending work is never swept: a job leaves the outbox only when it is done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_
from sqlalchemy.engine import CursorResult

from keycloak_pwreset.clock import Clock
from keycloak_pwreset.settings import RetentionSettings
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.models import LinkToken, OutboxItem, SentEmail

log = logging.getLogger(__name__)

SENT_EMAIL_KEPT = timedelta(days=2)


@dataclass(frozen=True)
class Swept:
    """How many rows one sweep removed, per table."""

    tokens: int
    failed_jobs: int
    sent_emails: int

    @property
    def total(self) -> int:
        return self.tokens + self.failed_jobs + self.sent_emails


def _deleted(result: Any) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0


def sweep(db: Database, clock: Clock, settings: RetentionSettings) -> Swept:
    """Delete what has been kept long enough; one transaction, three plain deletes."""
    now = clock()
    token_cutoff = now - timedelta(days=settings.token_days)
    job_cutoff = now - timedelta(days=settings.failed_job_days)
    with db.session() as session:
        # A token stopped being live at the earliest of these three moments; that
        # moment is before the cutoff exactly when one of them is.
        tokens = session.execute(
            delete(LinkToken).where(
                or_(
                    LinkToken.used_at < token_cutoff,
                    LinkToken.revoked_at < token_cutoff,
                    LinkToken.expires_at < token_cutoff,
                )
            )
        )
        jobs = session.execute(delete(OutboxItem).where(OutboxItem.failed_at < job_cutoff))
        sent = session.execute(delete(SentEmail).where(SentEmail.sent_at < now - SENT_EMAIL_KEPT))
        swept = Swept(_deleted(tokens), _deleted(jobs), _deleted(sent))
    if swept.total:
        log.info(
            "retention: removed %d tokens, %d failed jobs, %d sent-email records",
            swept.tokens,
            swept.failed_jobs,
            swept.sent_emails,
        )
    return swept
