"""The dashboard's tables (adapters/web, bot/web): sign-in links, sessions, per-day figure rollups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.columns import json_column, now_column, time_column


class WebSignin(SQLModel, table=True):
    """A single-use dashboard sign-in link (/app/login/<token>), given in chat to one chat user."""

    __table_args__ = (UniqueConstraint("nonce", name="uq_websignin_nonce"),)

    id: int | None = Field(default=None, primary_key=True)
    nonce: str = Field(max_length=64)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=255)
    user_name: str = Field(max_length=255)
    teams: list[int] = json_column(list)  # the teams whose channel the link was asked from ("my team")
    created_at: datetime = now_column()
    expires_at: datetime = now_column()
    used_at: datetime | None = time_column()


class WebSession(SQLModel, table=True):
    """A dashboard session: the cookie carries a random token, only its hash is stored."""

    __table_args__ = (UniqueConstraint("token_hash", name="uq_websession_token_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64)
    csrf_token: str = Field(max_length=64)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=255)
    user_name: str = Field(max_length=255)
    teams: list[int] = json_column(list)
    created_at: datetime = now_column()
    expires_at: datetime = now_column()
    last_seen_at: datetime = now_column()
    revoked_at: datetime | None = time_column()


class FigureDay(SQLModel, table=True):
    """One team's closed-loop figures for one UTC day (bot/web/figures.py), kept so the dashboard reads a
    few rows instead of every alert: recomputed when the day's alerts changed (`fingerprint`: their count
    and the sum of their versions) or when an open clock's deadline passed (`expires_at`)."""

    __table_args__ = (UniqueConstraint("day", "team_id", name="uq_figureday_day_team"),)

    id: int | None = Field(default=None, primary_key=True)
    day: str = Field(max_length=10, description="UTC date, YYYY-MM-DD")
    team_id: int  # no foreign key: a deleted team's old days are simply never read
    fingerprint: str = Field(max_length=64)
    expires_at: datetime | None = time_column()
    computed_at: datetime = now_column()
    # plain JSON (text), not JSONB: read whole, several MB a page, and never queried inside
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
