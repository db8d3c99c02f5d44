"""Column helpers shared by the table modules: UTC-aware times, "now" defaults, portable JSON."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column
from sqlmodel import Field

from storage.types import JSONType, UTCDateTime, utcnow


def time_column(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def now_column() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def json_column(default: Any) -> Any:
    return Field(default_factory=default, sa_column=Column(JSONType(), nullable=False))
