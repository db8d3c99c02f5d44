"""alert.snoozed_at: when the current snooze began

A claim that ends a "waiting on customer" snooze early credits the paused time to the resolve
clock, as the SLA sweep does when the snooze runs out; that needs the snooze's start on the row.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.add_column(sa.Column("snoozed_at", storage.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.drop_column("snoozed_at")
