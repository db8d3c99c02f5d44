"""The systemic detector's tables (bot/systemic): parents, their members, the signals it counts, their
per-day sums for the baseline, and its cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Index, Table, UniqueConstraint, event
from sqlmodel import Field, SQLModel

from storage.columns import now_column
from storage.types import utcnow


class SystemicIssue(SQLModel, table=True):
    """A spike: many alerts of one team sharing a dimension value (location=042, topic="delivery late")
    within a sliding window, more than the trailing baseline makes likely. Its case (claim, escalate,
    resolve, cards) is the alert `alert_id` of kind "systemic", key SYS-<number>."""

    __table_args__ = (
        UniqueConstraint("number", name="uq_systemicissue_number"),
        Index("ix_systemicissue_value", "team_id", "dimension", "value", "last_child_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: int  # SYS-<number>
    alert_id: int = Field(foreign_key="alert.id", unique=True)
    team_id: int = Field(foreign_key="team.id")
    # location | region | product | employee | source | topic
    dimension: str = Field(max_length=32)
    value: str = Field(max_length=255)
    window_seconds: int
    baseline_per_window: float = 0.0  # the expected count in one window, from the trailing 28 days
    child_count: int = 0
    first_child_at: datetime = now_column()
    last_child_at: datetime = now_column()
    created_at: datetime = now_column()


class SystemicMember(SQLModel, table=True):
    """A child alert of a systemic issue: at most one parent per alert and dimension."""

    __table_args__ = (UniqueConstraint("alert_id", "dimension", name="uq_systemicmember_alert_dimension"),)

    id: int | None = Field(default=None, primary_key=True)
    systemic_id: int = Field(foreign_key="systemicissue.id", index=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    dimension: str = Field(max_length=32)
    joined_at: datetime = now_column()


class AlertSignal(SQLModel, table=True):
    """One dimension value of one alert (location=042, topic="delivery late"), at the alert's time: the
    sliding window counts these (the baseline reads SignalDay)."""

    # lookup: the detector's window counts (team, dimension, value, time range); at: the retention's
    # hourly delete. No index on alert_id: alerts are never deleted, and nothing reads signals by alert.
    __table_args__ = (
        Index("ix_alertsignal_lookup", "team_id", "dimension", "value", "at"),
        Index("ix_alertsignal_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id")
    team_id: int = Field(foreign_key="team.id")
    dimension: str = Field(max_length=32)
    value: str = Field(max_length=255)
    at: datetime = now_column()


class SignalDay(SQLModel, table=True):
    """Alerts per team, dimension value and UTC day: the trailing baseline reads at most 28 rows a value."""

    # counts: the baseline's sums read the index alone (28 adjacent entries a value), not 28 table rows
    __table_args__ = (
        UniqueConstraint("team_id", "dimension", "value", "day", name="uq_signalday"),
        Index("ix_signalday_counts", "team_id", "dimension", "value", "day", "count"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    dimension: str = Field(max_length=32)
    value: str = Field(max_length=255)
    day: str = Field(max_length=10, description="UTC date, YYYY-MM-DD")
    count: int = 0


class JobCursor(SQLModel, table=True):
    """How far a sequential job has read (the systemic detector: the last alert id it looked at)."""

    name: str = Field(primary_key=True, max_length=64)
    last_id: int = 0
    updated_at: datetime = now_column()


def seed_job_cursors(connection: Connection) -> None:
    """The detector's cursor exists from the schema's creation (migration 0006 seeds it too), not from
    its first tick: a timer writing a row at an arbitrary moment would make "this request changed
    nothing" untestable. Also called after a test database is emptied."""
    table = JobCursor.__table__  # type: ignore[attr-defined]
    connection.execute(table.insert().values(name="systemic", last_id=0, updated_at=utcnow()))


@event.listens_for(JobCursor.__table__, "after_create")  # type: ignore[attr-defined]
def _seed_cursors(_table: Table, connection: Connection, **_: Any) -> None:
    seed_job_cursors(connection)
