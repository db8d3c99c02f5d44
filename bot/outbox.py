"""Writing chat work into the outbox, inside the caller's transaction.

Rows are executed later by `jobs/delivery.py`. A card update row carries only the alert id: the
worker renders whatever the alert looks like when it sends, so the latest state always wins, and
a pending update for the same alert makes a new one unnecessary (coalescing).

A click answered by its adapter (Slack's `response_url`, Teams' invoke response) already shows the new
state where it was clicked: the row names that place in `payload["answered"]` ([platform, channel,
message id] lists) and the worker skips it. Coalescing keeps only the places every change merged into
the row was answered at (so does the worker when it sends several rows of one alert as one call).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.snapshot import TeamInfo
from storage.models import Outbox
from storage.queries.outbox_writes import pending_card_updates, set_outbox_payload

LOG_PLATFORM = "log"  # where cards go when a team has no chat destination at all: never a black hole
ANSWERED = "answered"  # card.update payload: the places the clicking adapter refreshed itself
ALONE = "alone"  # card.post payload: a card never folded into a burst digest (a systemic issue's card)
Place = tuple[str, str, str]  # (platform, channel, message id) of one posted card or digest


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


async def card_update_rows(
    session: AsyncSession, *, alert_ids: Sequence[int], now: datetime,
    answered: Mapping[int, Place | None] | None = None,
) -> list[dict[str, Any]]:
    """A `card.update` row for each alert that has no pending one: one pending update is enough, it
    renders the state at send time (coalescing). `answered`: per alert, the place its clicking adapter
    refreshes itself (skipped by the worker)."""
    answered = answered or {}
    pending = await pending_card_updates(session, alert_ids=alert_ids)
    rows = []
    for alert_id in dict.fromkeys(alert_ids):
        place = answered.get(alert_id)
        if await _coalesce(session, pending.get(alert_id, []), place):
            continue
        payload = {ANSWERED: [list(place)]} if place is not None else None
        rows.append(outbox_values(kind="card.update", platform="*", alert_id=alert_id, now=now,
                                  payload=payload))
    return rows


async def _coalesce(session: AsyncSession, pending: list[tuple[int, dict[str, Any]]], place: Place | None
                    ) -> bool:
    """Merge this change into a pending row for every place: True when one exists. The row then skips
    only the places this change was answered at too (its skip list narrowed when it must)."""
    for row_id, payload in pending:
        skipped = [p for p in payload.get(ANSWERED) or [] if place is not None and tuple(p) == place]
        if skipped != list(payload.get(ANSWERED) or []):
            await set_outbox_payload(session, row_id=row_id, payload={**payload, ANSWERED: skipped})
        return True
    return False


def card_update_values(*, alert_id: int, now: datetime) -> dict[str, Any]:
    """A `card.update` for every place of the alert, skipping none (a click its adapter failed to answer)."""
    return outbox_values(kind="card.update", platform="*", alert_id=alert_id, now=now)


def thread_line_values(
    *, alert_id: int, text: str, now: datetime, mention: str | None = None
) -> dict[str, Any]:
    return outbox_values(kind="thread.reply", platform="*", alert_id=alert_id, now=now,
                         payload={"text": text, "mention": mention})


def direct_values(
    *, platform: str, user: str, text: str, alert_id: int | None, now: datetime, card: str | None = None
) -> dict[str, Any]:
    """A direct message; `card`: an audience ("team") — the alert's card, rendered at send time, goes
    with the text."""
    payload: dict[str, Any] = {"text": text}
    if card is not None and alert_id is not None:
        payload["card"] = card
    return outbox_values(kind="dm", platform=platform, destination=user, alert_id=alert_id, now=now,
                         payload=payload)
