"""e-mail to customers: acknowledgement columns on alert, per-team mail settings, a suppression list

An alert records its acknowledgement (`ack_status`, `ack_due_at`, `acknowledged_at`) and its first
contact with the customer (`first_contact_at`); `ix_alert_ack_due` lets the acknowledgement sweep read
only the alerts it has to look at. A team's e-mail settings (sender, reply-to, ack policy and delay,
language) are one JSON column, as the YAML document nests them. `mailsuppression` holds the hashes of
addresses that unsubscribed or bounced, never an address. E-mails themselves are outbox rows of kind
`email.send`: the outbox needs no new column.

Alerts that exist when this runs are marked `none`: turning e-mail on must not acknowledge old feedback.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-20 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.add_column(sa.Column("ack_status", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("ack_due_at", storage.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("acknowledged_at", storage.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("first_contact_at", storage.types.UTCDateTime(), nullable=True))
    op.execute("UPDATE alert SET ack_status = 'none'")
    op.create_index("ix_alert_ack_due", "alert", ["ack_status", "ack_due_at"])
    with op.batch_alter_table("team") as batch:
        batch.add_column(sa.Column("mail", storage.types.JSONType(), nullable=True))
    op.create_table(
        "mailsuppression",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("address_hash", name="uq_mailsuppression_address_hash"),
    )


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35), never a copy of the table: on SQLite a copy drops the
    # original, which rows in other tables still point at (foreign keys are enforced)
    op.drop_table("mailsuppression")
    with op.batch_alter_table("team", recreate="never") as batch:
        batch.drop_column("mail")
    op.drop_index("ix_alert_ack_due", table_name="alert")
    with op.batch_alter_table("alert", recreate="never") as batch:
        batch.drop_column("first_contact_at")
        batch.drop_column("acknowledged_at")
        batch.drop_column("ack_due_at")
        batch.drop_column("ack_status")
