"""the dashboard's weekly figures: `figureday` (one team's figures for one UTC day, kept and recomputed
when its alerts change) and the two indexes its reads use (alert by created_at/team/version, feedback by
received_at)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "figureday",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("computed_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", "team_id", name="uq_figureday_day_team"),
    )
    op.create_index("ix_alert_created_team", "alert", ["created_at", "team_id", "version"])
    op.create_index("ix_feedback_received", "feedback", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_feedback_received", table_name="feedback")
    op.drop_index("ix_alert_created_team", table_name="alert")
    op.drop_table("figureday")
