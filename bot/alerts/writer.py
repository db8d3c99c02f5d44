"""The one writer of alert state.

Every change to an alert — a click (`bot.alerts.lifecycle.apply`), an SLA step (`bot.sla_sweep`), a later part
of a response (`bot.ingest.accept`) — goes through `write_changes`, inside the caller's transaction:

1. the compare-and-set: each alert's version is read under a lock (`FOR UPDATE` on PostgreSQL; SQLite's
   `BEGIN IMMEDIATE` holds the one write lock), and `UPDATE alert … WHERE id = :id AND version = :v`
   writes the new values, the next deadline (`next_due_at`) and the next version. An alert whose
   version moved since the caller read it is not written: the caller re-reads and decides again;
2. the card update, coalesced: one pending `card.update` row per alert renders the latest state;
3. what each change leaves behind: its `AlertEvent` (numbered with the version it made), its thread
   line, its managers' cards and its DMs — one INSERT per table for the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypedDict, cast

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.domain import AlertStatus
from bot.outbox import Place, card_post_values, card_update_rows, direct_values, thread_line_values
from storage import queries
from storage.models import Alert, AlertEvent, Outbox
from storage.queries import alerts as alert_queries


class AlertValues(TypedDict, total=False):
    """Columns of `alert` a change may set (all but `id`): a misspelt column fails mypy."""

    key: str | None
    feedback_id: int
    severity: str
    status: str
    team_id: int
    routed_by_default: bool
    reasons: list[str]
    owner_id: str | None
    owner_name: str | None
    owner_platform: str | None
    escalation_level: int
    created_at: datetime
    updated_at: datetime
    claimed_at: datetime | None
    resolved_at: datetime | None
    claim_due_at: datetime | None
    resolve_due_at: datetime | None
    next_nag_at: datetime | None
    next_due_at: datetime | None
    nag_count: int
    snoozed_until: datetime | None
    snooze_reason: str | None
    snoozed_at: datetime | None
    outcome: str | None
    root_cause: str | None
    resolution_note: str | None
    resolved_by: str | None
    resolved_by_id: str | None
    resolved_by_platform: str | None
    version: int
    ack_status: str | None
    ack_due_at: datetime | None
    acknowledged_at: datetime | None
    first_contact_at: datetime | None
    follow_up_status: str | None
    follow_up_due_at: datetime | None
    kind: str


class Author(Protocol):
    """Who made a change, as its event records them (`bot.alerts.lifecycle.Actor`)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def platform(self) -> str: ...


@dataclass
class Change:
    """What one transition does: new column values, the event, and the chat work it causes."""

    values: AlertValues
    event: str
    message: str
    thread_text: str | None = None
    thread_mention: str | None = None
    event_data: dict[str, Any] = field(default_factory=dict)
    posts: list[tuple[str, str]] = field(default_factory=list)  # (platform, channel) for a managers' card
    directs: list[tuple[str, str, str]] = field(default_factory=list)  # (platform, user, text)
    # (platform, user, text): a DM carrying the alert's full card (a claim made from a digest)
    card_directs: list[tuple[str, str, str]] = field(default_factory=list)
    # the clicked card the acting adapter refreshes itself; the card update skips it (bot/outbox.py)
    answered: Place | None = None
    # more outbox rows written with the change (a reply's `email.send`): sent only if it commits
    outbox: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class AlertWrite:
    """One alert's changes, committed together as one compare-and-set from the version read.

    Change i gets version read + i in its event; `also` sets bookkeeping columns beside them (the
    sweep's next wake-up). With no change at all only `also` is written: no event, no card update.
    """

    alert: Alert
    changes: Sequence[Change]
    actor: Author
    also: AlertValues = field(default_factory=lambda: AlertValues())

    @property
    def alert_id(self) -> int:
        assert self.alert.id is not None
        return self.alert.id


def next_due(values: AlertValues) -> datetime | None:
    """The one indexed deadline the SLA sweep reads: the earliest thing due for this alert."""
    status = AlertStatus(values["status"])
    if status is AlertStatus.RESOLVED:
        return None
    if status is AlertStatus.SNOOZED:
        return values.get("snoozed_until")
    due = values.get("claim_due_at") if status is AlertStatus.OPEN else values.get("resolve_due_at")
    # this clock has breached: only the sweep's next step is left (None = silence)
    if values.get("nag_count"):
        return values.get("next_nag_at")
    candidates = [t for t in (due, values.get("next_nag_at")) if t is not None]
    return min(candidates) if candidates else None


def current_values(alert: Alert) -> AlertValues:
    return cast("AlertValues", {name: getattr(alert, name) for name in Alert.model_fields if name != "id"})


def written_values(alert: Alert, changes: Sequence[Change], also: AlertValues) -> AlertValues:
    """The columns a write sets, `next_due_at` included (version and updated_at aside)."""
    values = AlertValues()
    for change in changes:
        values.update(change.values)
    values.update(also)
    values["next_due_at"] = next_due(cast("AlertValues", {**current_values(alert), **values}))
    return values


async def write_changes(session: AsyncSession, *, writes: Sequence[AlertWrite], now: datetime
                        ) -> list[AlertWrite]:
    """Write each alert still at the version its caller read; → the writes that won (in order). The
    others are untouched: their callers re-read and decide again, or leave them for the next sweep."""
    if len({w.alert_id for w in writes}) != len(writes):
        raise ValueError("one write per alert: give its changes together")
    held = await alert_queries.lock_alert_versions(session, alert_ids=[w.alert_id for w in writes])
    won = [w for w in writes if held.get(w.alert_id) == w.alert.version]
    rows = [(w.alert_id, w.alert.version, _row(w, now)) for w in won]
    matched = await alert_queries.compare_and_set_alerts(session, writes=rows)
    if matched is not None and matched != len(rows):  # the versions are locked: never, short of a bug
        raise RuntimeError("an alert changed under its lock; the transaction is rolled back")
    events: list[dict[str, Any]] = []
    changed = [w for w in won if w.changes]
    chat = await card_update_rows(session, alert_ids=[w.alert_id for w in changed], now=now,
                                  answered={w.alert_id: _answered(w) for w in changed})
    for write in won:
        for number, change in enumerate(write.changes, start=write.alert.version + 1):
            event, outbox = change_rows(alert_id=write.alert_id, change=change, actor=write.actor,
                                        version=number, now=now)
            events.append(event)
            chat += outbox
    for write, (_, _, values) in zip(won, rows, strict=True):
        for name, value in values.items():  # what is committed now: nothing for the session to flush
            set_committed_value(write.alert, name, value)
    await queries.insert_many(session, model=AlertEvent, rows=events)
    await queries.insert_many(session, model=Outbox, rows=chat)
    return won


def _answered(write: AlertWrite) -> Place | None:
    """The place every change of this write was answered at, if they share one."""
    places = {change.answered for change in write.changes}
    return places.pop() if len(places) == 1 else None


def _row(write: AlertWrite, now: datetime) -> AlertValues:
    values = written_values(write.alert, write.changes, write.also)
    values["version"] = write.alert.version + max(1, len(write.changes))
    if write.changes:
        values["updated_at"] = now
    return values


def change_rows(
    *, alert_id: int, change: Change, actor: Author, version: int, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What one committed change leaves behind besides the card update: its event row, and outbox
    rows for its thread line, managers' cards and DMs."""
    event = {"alert_id": alert_id, "kind": change.event, "actor_id": actor.id, "actor_name": actor.name,
             "platform": actor.platform, "at": now, "data": {**change.event_data, "version": version}}
    chat: list[dict[str, Any]] = []
    if change.thread_text:
        chat.append(thread_line_values(alert_id=alert_id, text=change.thread_text,
                                       mention=change.thread_mention, now=now))
    if change.posts:
        chat += card_post_values(alert_id=alert_id, places=change.posts, audience="managers", now=now)
    chat += [direct_values(platform=platform, user=user, text=text, alert_id=alert_id, now=now)
             for platform, user, text in change.directs]
    chat += [direct_values(platform=platform, user=user, text=text, alert_id=alert_id, now=now, card="team")
             for platform, user, text in change.card_directs]
    chat += change.outbox
    return event, chat
