"""Writing chat work into the outbox, inside the caller's transaction.

Rows are executed later by `jobs/delivery.py`. A card update row carries only the alert id: the
worker renders whatever the alert looks like when it sends, so the latest state always wins, and
a pending update for the same alert makes a new one unnecessary (coalescing).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.snapshot import TeamInfo
from storage.models import Outbox
from storage.queries.outbox_writes import alerts_with_pending_card_update

LOG_PLATFORM = "log"  # where cards go when a team has no chat destination at all: never a black hole


class OutboxSignal:
    """Wakes the in-process delivery worker right after a commit (no polling delay)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> None:  # noqa: ASYNC109 (public signature)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()


def card_destinations(team: TeamInfo, default: TeamInfo) -> list[tuple[str, str]]:
    return team.destinations or default.destinations or [(LOG_PLATFORM, "console")]


class OutboxFields(TypedDict, total=False):
    kind: Required[str]
    platform: Required[str]
    destination: str  # channel / user / conversation; "" when the row needs none
    alert_id: Required[int | None]
    now: Required[datetime]
    payload: dict[str, Any] | None


def outbox_values(**fields: Unpack[OutboxFields]) -> dict[str, Any]:
    """One outbox row's columns, all of them, so bulk inserts and `Outbox(**…)` write the same row."""
    now = fields["now"]
    return {
        "kind": fields["kind"], "platform": fields["platform"], "destination": fields.get("destination", ""),
        "alert_id": fields["alert_id"], "payload": fields.get("payload") or {}, "status": "pending",
        "attempts": 0, "next_attempt_at": now, "last_error": None, "created_at": now, "done_at": None,
    }


def card_post_values(
    *, alert_id: int, places: list[tuple[str, str]], audience: str, now: datetime
) -> list[dict[str, Any]]:
    return [
        outbox_values(kind="card.post", platform=platform, destination=channel, alert_id=alert_id, now=now,
                      payload={"audience": audience})
        for platform, channel in places
    ]


def enqueue(session: AsyncSession, **fields: Unpack[OutboxFields]) -> Outbox:
    row = Outbox(**outbox_values(**fields))
    session.add(row)
    return row


async def card_update_rows(session: AsyncSession, *, alert_ids: Sequence[int], now: datetime
                           ) -> list[dict[str, Any]]:
    """A `card.update` row for each alert that has no pending one: one pending update is enough, it
    renders the state at send time (coalescing)."""
    pending = await alerts_with_pending_card_update(session, alert_ids=alert_ids)
    return [outbox_values(kind="card.update", platform="*", alert_id=alert_id, now=now)
            for alert_id in dict.fromkeys(alert_ids) if alert_id not in pending]


def thread_line_values(
    *, alert_id: int, text: str, now: datetime, mention: str | None = None
) -> dict[str, Any]:
    return outbox_values(kind="thread.reply", platform="*", alert_id=alert_id, now=now,
                         payload={"text": text, "mention": mention})


def direct_values(
    *, platform: str, user: str, text: str, alert_id: int | None, now: datetime
) -> dict[str, Any]:
    return outbox_values(kind="dm", platform=platform, destination=user, alert_id=alert_id, now=now,
                         payload={"text": text})
