"""systemic spikes and the dashboard: alert kind, team systemic settings, signals, sign-in and sessions

- `alert.kind`: "response" (every alert so far) or "systemic" (the parent of a spike, bot/systemic);
- `team.systemic`: per-team detection settings (None = the defaults);
- `systemicissue` / `systemicmember`: a spike and its children (one parent per alert and dimension);
- `alertsignal` (each alert's dimension values, for the sliding window) and `signalday` (per-day counts,
  the trailing baseline); `jobcursor` (how far the detector has read);
- `websignin` (single-use sign-in links) and `websession` (dashboard sessions, token hash only).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 14:20:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_T = storage.types.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="response"))
    with op.batch_alter_table("team") as batch:
        batch.add_column(sa.Column("systemic", storage.types.JSONType(), nullable=True))
    _systemic_tables()
    _signal_tables()
    _web_tables()


def _systemic_tables() -> None:
    op.create_table(
        "systemicissue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("baseline_per_window", sa.Float(), nullable=False),
        sa.Column("child_count", sa.Integer(), nullable=False),
        sa.Column("first_child_at", _T(), nullable=False),
        sa.Column("last_child_at", _T(), nullable=False),
        sa.Column("created_at", _T(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"]),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alert_id"),
        sa.UniqueConstraint("number", name="uq_systemicissue_number"),
    )
    op.create_index("ix_systemicissue_value", "systemicissue",
                    ["team_id", "dimension", "value", "last_child_at"])
    op.create_table(
        "systemicmember",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("systemic_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=32), nullable=False),
        sa.Column("joined_at", _T(), nullable=False),
        sa.ForeignKeyConstraint(["systemic_id"], ["systemicissue.id"]),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alert_id", "dimension", name="uq_systemicmember_alert_dimension"),
    )
    op.create_index("ix_systemicmember_systemic_id", "systemicmember", ["systemic_id"])
    op.create_index("ix_systemicmember_alert_id", "systemicmember", ["alert_id"])


def _signal_tables() -> None:
    op.create_table(
        "alertsignal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("at", _T(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"]),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alertsignal_lookup", "alertsignal", ["team_id", "dimension", "value", "at"])
    op.create_index("ix_alertsignal_at", "alertsignal", ["at"])
    op.create_table(
        "signalday",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "dimension", "value", "day", name="uq_signalday"),
    )
    op.create_index("ix_signalday_counts", "signalday", ["team_id", "dimension", "value", "day", "count"])
    cursor = op.create_table(
        "jobcursor",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", _T(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # Seeded here, not by the detector's first tick: a timer writing a row at an arbitrary moment
    # would make "this request changed nothing" untestable.
    op.bulk_insert(cursor, [{"name": "systemic", "last_id": 0, "updated_at": datetime.now(UTC)}])


def _web_tables() -> None:
    op.create_table(
        "websignin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("user_name", sa.String(length=255), nullable=False),
        sa.Column("teams", storage.types.JSONType(), nullable=False),
        sa.Column("created_at", _T(), nullable=False),
        sa.Column("expires_at", _T(), nullable=False),
        sa.Column("used_at", _T(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nonce", name="uq_websignin_nonce"),
    )
    op.create_table(
        "websession",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("user_name", sa.String(length=255), nullable=False),
        sa.Column("teams", storage.types.JSONType(), nullable=False),
        sa.Column("created_at", _T(), nullable=False),
        sa.Column("expires_at", _T(), nullable=False),
        sa.Column("last_seen_at", _T(), nullable=False),
        sa.Column("revoked_at", _T(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash", name="uq_websession_token_hash"),
    )


def downgrade() -> None:
    op.drop_index("ix_signalday_counts", table_name="signalday")
    for table in ("websession", "websignin", "jobcursor", "signalday"):
        op.drop_table(table)
    op.drop_index("ix_alertsignal_at", table_name="alertsignal")
    op.drop_index("ix_alertsignal_lookup", table_name="alertsignal")
    op.drop_table("alertsignal")
    op.drop_index("ix_systemicmember_alert_id", table_name="systemicmember")
    op.drop_index("ix_systemicmember_systemic_id", table_name="systemicmember")
    op.drop_table("systemicmember")
    op.drop_index("ix_systemicissue_value", table_name="systemicissue")
    op.drop_table("systemicissue")
    with op.batch_alter_table("team", recreate="never") as batch:
        batch.drop_column("systemic")
    with op.batch_alter_table("alert", recreate="never") as batch:
        batch.drop_column("kind")
