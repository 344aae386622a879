"""Claim and lease ownership, fair and coalesced outbox, sent-email log, forwarding peers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Additive only (new nullable or defaulted columns, new tables, new indexes), so
a service of the previous version keeps working on the upgraded schema.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recovery_tokens") as table:
        table.add_column(sa.Column("claim_id", sa.String(32), nullable=True))
        table.add_column(
            sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0")
        )
    # Addresses become keys compared without regard to case: stored lower-cased.
    op.execute("UPDATE recovery_tokens SET email = lower(email)")
    op.create_index("ix_recovery_tokens_email_purpose", "recovery_tokens", ["email", "purpose"])
    with op.batch_alter_table("outbox") as table:
        table.add_column(sa.Column("lease_id", sa.String(32), nullable=True))
        table.add_column(sa.Column("client", sa.String(64), nullable=False, server_default=""))
        table.add_column(sa.Column("coalesce_key", sa.String(128), nullable=True))
    op.create_index("ix_outbox_coalesce_key", "outbox", ["coalesce_key"])
    op.create_table(
        "sent_emails",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account", sa.String(320), nullable=False),
        sa.Column("network", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_sent_emails_account_sent", "sent_emails", ["account", "sent_at"])
    op.create_table(
        "forwarding_peers",
        sa.Column("peer", sa.String(64), primary_key=True),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("forwarding_peers")
    op.drop_index("ix_sent_emails_account_sent", "sent_emails")
    op.drop_table("sent_emails")
    op.drop_index("ix_outbox_coalesce_key", "outbox")
    with op.batch_alter_table("outbox") as table:
        table.drop_column("coalesce_key")
        table.drop_column("client")
        table.drop_column("lease_id")
    op.drop_index("ix_recovery_tokens_email_purpose", "recovery_tokens")
    with op.batch_alter_table("recovery_tokens") as table:
        table.drop_column("failed_attempts")
        table.drop_column("claim_id")
