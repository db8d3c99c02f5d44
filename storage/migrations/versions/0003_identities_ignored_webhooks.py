"""admins are (platform, user id) pairs; ignored webhooks are counted

A Teams user whose id equals a Slack admin's id must not pass the admin check, so the unique key
of `admin` becomes (platform, user_id), and an alert records who resolved it by (platform, id)
for reopen rights (`resolved_by_id`, `resolved_by_platform`). `ignoredwebhook` counts webhooks
answered 2xx without being stored, per day, source and reason, for `/hotloop status`. The retention job deletes
handled-delivery records by age, so `webhookdelivery.received_at` gets an index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("admin") as batch:
        batch.drop_constraint("uq_admin_user", type_="unique")
        batch.create_unique_constraint("uq_admin_platform_user", ["platform", "user_id"])
    # reopen rights compare the resolver's (platform, id), not the display name in `resolved_by`
    with op.batch_alter_table("alert") as batch:
        batch.add_column(sa.Column("resolved_by_id", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("resolved_by_platform", sa.String(length=16), nullable=True))
    op.create_index("ix_webhookdelivery_received_at", "webhookdelivery", ["received_at"])
    op.create_table(
        "ignoredwebhook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", "source", "reason", name="uq_ignoredwebhook_day_source_reason"),
    )


def downgrade() -> None:
    op.drop_table("ignoredwebhook")
    op.drop_index("ix_webhookdelivery_received_at", table_name="webhookdelivery")
    with op.batch_alter_table("alert") as batch:
        batch.drop_column("resolved_by_platform")
        batch.drop_column("resolved_by_id")
    with op.batch_alter_table("admin") as batch:
        batch.drop_constraint("uq_admin_platform_user", type_="unique")
        batch.create_unique_constraint("uq_admin_user", ["user_id"])
