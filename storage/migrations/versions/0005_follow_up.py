"""e-mail to customers: "did we fix it?" — follow-up columns on alert, the follow-up table

An alert records whether its customer is asked after it was resolved (`follow_up_status`,
`follow_up_due_at`; `ix_alert_follow_up_due` lets the follow-up sweep read only the alerts it has to look
at). `followup` holds each follow-up e-mail's link (a nonce, signed with the alert id), its expiry and the
customer's single answer (resolved yes/no, an optional score, a comment); customers are named only by the
hash of their address.

Alerts that exist when this runs are marked `none`: turning follow-ups on must not survey old alerts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-21 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.add_column(sa.Column("follow_up_status", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("follow_up_due_at", storage.types.UTCDateTime(), nullable=True))
    op.execute("UPDATE alert SET follow_up_status = 'none'")
    op.create_index("ix_alert_follow_up_due", "alert", ["follow_up_status", "follow_up_due_at"])
    op.create_table(
        "followup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("sent_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("answered_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nonce", name="uq_followup_nonce"),
    )
    op.create_index("ix_followup_alert_id", "followup", ["alert_id"])
    op.create_index("ix_followup_address_created", "followup", ["address_hash", "created_at"])


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN, never a copy of the table (see 0004)
    op.drop_index("ix_followup_address_created", table_name="followup")
    op.drop_index("ix_followup_alert_id", table_name="followup")
    op.drop_table("followup")
    op.drop_index("ix_alert_follow_up_due", table_name="alert")
    with op.batch_alter_table("alert", recreate="never") as batch:
        batch.drop_column("follow_up_due_at")
        batch.drop_column("follow_up_status")
