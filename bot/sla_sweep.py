"""The SLA sweep: nobody forgets a hot alert.

`sweep()` takes the alerts whose indexed `next_due_at` has passed (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, so two workers never take the same alert; SQLite's `BEGIN IMMEDIATE` serializes) and
writes each one's due steps as one compare-and-set through the one alert writer
(`bot.alerts.writer.write_changes`, actor SYSTEM: the same events, card update and chat rows as a
click), for the whole batch in one transaction:

- **heads-up** at `heads_up_fraction` (75 %) of the claim/resolve window, in business time;
- **breach** at the deadline: event `breached`, a thread line mentioning the owner (or the
  channel), a DM to the owner, and the next escalation level when the chain says so (or always,
  when the team has no chain);
- **escalation chain** steps, each `after_seconds` after the breach (a manual escalation from the
  card skips the level it reached);
- **nags** every `nag_seconds` up to `nag_cap`, pushed out of quiet hours, then silence;
- **woke**: a snooze that ran out returns to claimed/open; a "waiting on customer" snooze pauses the
  resolve clock (`resolve_due_at` moves by the business time spent snoozed).

Nothing lives in memory. What already happened for the current clock is read from the alert's own
`AlertEvent`s (keyed by clock and deadline, so a moved deadline starts afresh); the next step is
stored in `next_nag_at`, and `nag_count` counts notices since the breach (breach = 1, each nag
+1; 0 = not breached), which `bot.alerts.writer.next_due` uses to ignore a deadline already handled.
A batch commits as one transaction: a crash sends nothing twice and loses nothing. An alert changed
since it was taken (never, while its row is held) is left untouched for the next sweep.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.lifecycle import SYSTEM, escalation_places
from bot.alerts.writer import AlertValues, AlertWrite, Change, current_values, write_changes, written_values
from bot.business_hours import (
    BusinessHours,
    add_business_seconds,
    business_seconds_between,
)
from bot.cards.model import humanize_delta
from bot.config.snapshot import ConfigSnapshot
from bot.domain import AlertStatus
from bot.sla.policy import SweepOptions, heads_up_at, parse_quiet_hours, quiet_end, waiting_on_customer
from storage.db import SessionFactory, transaction
from storage.models import Alert
from storage.queries import alerts as alert_queries

__all__ = [
    "SweepOptions", "SweepResult", "drain", "heads_up_at", "parse_quiet_hours", "quiet_end", "sweep",
    "waiting_on_customer",
]

log = structlog.get_logger("hotloop.sla")

HEADS_UP, BREACHED, NAGGED, ESCALATED, WOKE = "heads_up", "breached", "nagged", "escalated", "woke"
_NOTICES = (HEADS_UP, BREACHED, NAGGED)
FACT_KINDS = (*_NOTICES, "snoozed", "reopened")
ACTIVE_STATUSES = (AlertStatus.OPEN.value, AlertStatus.CLAIMED.value, AlertStatus.SNOOZED.value)
CHAT_PLATFORMS = frozenset({"slack", "teams"})
MAX_STEPS_PER_ALERT = 12


@dataclass
class SweepResult:
    taken: int = 0
    heads_up: int = 0
    breached: int = 0
    nagged: int = 0
    escalated: int = 0
    woke: int = 0
    rescheduled: int = 0  # bookkeeping only: the next step moved, nothing was said
    failed: int = 0  # could not be planned (logged); left for the next sweep

    @property
    def steps(self) -> int:
        return self.heads_up + self.breached + self.nagged + self.escalated + self.woke

    def add(self, other: SweepResult) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True)
class Fact:
    kind: str
    at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class View:
    """The alert fields the sweep decides on (a plain value: steps are simulated with `replace`)."""

    key: str
    severity: str
    status: str
    team_id: int
    owner_id: str | None
    owner_name: str | None
    owner_platform: str | None
    escalation_level: int
    created_at: datetime
    claim_due_at: datetime | None
    resolve_due_at: datetime | None
    snoozed_until: datetime | None
    snooze_reason: str | None

    @classmethod
    def of(cls, alert: Alert) -> View:
        return cls(**{f.name: getattr(alert, f.name) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class Clock:
    name: str  # claim | resolve
    due: datetime
    heads_up_at: datetime
    warned: bool
    breached_at: datetime | None
    nags: int
    last_notice_at: datetime | None


@dataclass
class _Ctx:
    config: ConfigSnapshot
    options: SweepOptions
    now: datetime
    result: SweepResult = field(default_factory=SweepResult)

    def hours(self, view: View) -> BusinessHours | None:
        return self.config.team(view.team_id).hours

    def quiet_zone(self, view: View) -> str:
        hours = self.hours(view)
        return self.options.quiet_timezone or (hours.timezone if hours else "UTC")


def _clock(view: View, facts: Sequence[Fact], ctx: _Ctx) -> Clock | None:
    is_open = view.status == AlertStatus.OPEN
    name, due = ("claim", view.claim_due_at) if is_open else ("resolve", view.resolve_due_at)
    if due is None:
        return None
    start = max([view.created_at, *(f.at for f in facts if f.kind == "reopened")])
    warn_at = heads_up_at(start, due, ctx.hours(view), ctx.options.heads_up_fraction)
    mine = [f for f in facts if f.kind in _NOTICES and f.data.get("clock") == name
            and f.data.get("due") and datetime.fromisoformat(f.data["due"]) == due]
    breach = next((f.at for f in mine if f.kind == BREACHED), None)
    notices = [f.at for f in mine if f.kind in (BREACHED, NAGGED)]
    return Clock(name, due, warn_at, any(f.kind == HEADS_UP for f in mine), breach,
                 sum(1 for f in mine if f.kind == NAGGED), max(notices, default=None))


def _chain_next(view: View, clock: Clock, ctx: _Ctx) -> tuple[datetime | None, int | None]:
    """When the next escalation-chain level fires (after_seconds after the breach), and which level."""
    steps = sorted(ctx.config.escalation_steps(view.team_id), key=lambda s: s.level)
    step = next((s for s in steps if s.level > view.escalation_level), None)
    if step is None or clock.breached_at is None:
        return None, None
    return clock.breached_at + timedelta(seconds=step.after_seconds), step.level


def _nag_at(view: View, clock: Clock, ctx: _Ctx) -> datetime | None:
    if clock.last_notice_at is None or clock.nags >= ctx.options.nag_cap:
        return None
    at = clock.last_notice_at + timedelta(seconds=ctx.options.nag_seconds)
    return quiet_end(at, ctx.options.quiet_hours, ctx.quiet_zone(view))


def schedule(view: View, facts: Sequence[Fact], ctx: _Ctx) -> AlertValues:
    """`next_nag_at` (the next step, None = silence) and `nag_count` for this state."""
    if view.status in (AlertStatus.SNOOZED, AlertStatus.RESOLVED):
        return {}
    clock = _clock(view, facts, ctx)
    if clock is None:
        return {"next_nag_at": None, "nag_count": 0}
    if clock.breached_at is None:
        wake = clock.due if clock.warned else min(clock.heads_up_at, clock.due)
        return {"next_nag_at": wake, "nag_count": 0}
    times = [t for t in (_chain_next(view, clock, ctx)[0], _nag_at(view, clock, ctx)) if t is not None]
    return {"next_nag_at": min(times, default=None), "nag_count": 1 + clock.nags}


def _data(clock: Clock, **extra: Any) -> dict[str, Any]:
    return {"clock": clock.name, "due": clock.due.isoformat(), **extra}


def _woke(view: View, facts: Sequence[Fact], ctx: _Ctx) -> Change:
    resume = AlertStatus.CLAIMED if view.owner_id else AlertStatus.OPEN
    values: AlertValues = {"status": resume.value, "snoozed_until": None, "snooze_reason": None,
                           "snoozed_at": None}
    who = view.owner_name or view.owner_id
    text = f"Snooze over: back with {who}" if view.owner_id else "Snooze over: back in the queue"
    data: dict[str, Any] = {"resume_status": resume.value, "reason": view.snooze_reason, "paused_seconds": 0}
    since = max((f.at for f in facts if f.kind == "snoozed"), default=None)
    if waiting_on_customer(view.snooze_reason) and view.resolve_due_at and since and view.snoozed_until:
        paused = business_seconds_between(since, view.snoozed_until, ctx.hours(view))
        moved = add_business_seconds(view.resolve_due_at, paused, ctx.hours(view))
        values["resolve_due_at"] = moved
        data |= {"paused_seconds": paused, "resolve_due": moved.isoformat()}
        text += (f" · resolve clock paused {humanize_delta(paused)} waiting on the customer,"
                 f" now due {moved:%a %H:%M} UTC")
    return Change(values, WOKE, f"{view.key} woke up", text, thread_mention=view.owner_id, event_data=data)


def _breach(view: View, clock: Clock, alert: Alert, ctx: _Ctx) -> Change:
    steps = ctx.config.escalation_steps(view.team_id)
    chain_at, chain_level = _chain_next(view, dataclasses.replace(clock, breached_at=ctx.now), ctx)
    level = chain_level if chain_at is not None and chain_at <= ctx.now else None
    if not steps:
        level = view.escalation_level + 1
    values: AlertValues = {"escalation_level": level} if level else {}
    text = f"SLA breach: {clock.name} was due {clock.due:%a %H:%M} UTC"
    text += f" · escalated to level {level}" if level else ""
    directs = []
    if view.owner_id and view.owner_platform in CHAT_PLATFORMS:
        dm = (f"Your hot alert {view.key} ({view.severity}) missed its {clock.name} deadline "
              f"({clock.due:%Y-%m-%d %H:%M} UTC).")
        directs.append((view.owner_platform, view.owner_id, dm))
    return Change(values, BREACHED, f"{view.key} breached its {clock.name} SLA", text,
                  thread_mention=view.owner_id or "channel",
                  event_data=_data(clock, level=level, owner=view.owner_id),
                  posts=escalation_places(alert, level, ctx.config) if level else [], directs=directs)


def _next_step(view: View, facts: Sequence[Fact], alert: Alert, ctx: _Ctx) -> Change | None:
    now = ctx.now
    if view.status == AlertStatus.SNOOZED:
        due = view.snoozed_until is not None and view.snoozed_until <= now
        return _woke(view, facts, ctx) if due else None
    clock = _clock(view, facts, ctx) if view.status != AlertStatus.RESOLVED else None
    if clock is None:
        return None
    overdue = humanize_delta((now - clock.due).total_seconds())
    if clock.breached_at is None:
        if now >= clock.due:
            return _breach(view, clock, alert, ctx)
        if not clock.warned and now >= clock.heads_up_at:
            left = humanize_delta((clock.due - now).total_seconds())
            return Change({}, HEADS_UP, f"{view.key}: heads-up sent",
                          f"Heads-up: {clock.name} due in {left}", thread_mention=view.owner_id,
                          event_data=_data(clock))
        return None
    chain_at, level = _chain_next(view, clock, ctx)
    if chain_at is not None and level is not None and chain_at <= now:
        step = next(s for s in ctx.config.escalation_steps(view.team_id) if s.level == level)
        why = f" ({step.description})" if step.description else ""
        return Change({"escalation_level": level}, ESCALATED, f"{view.key} escalated to level {level}",
                      f"Escalated to level {level}{why}: {clock.name} overdue {overdue}",
                      event_data=_data(clock, level=level, reason="SLA escalation chain", auto=True),
                      posts=escalation_places(alert, level, ctx.config))
    nag_at = _nag_at(view, clock, ctx)
    if nag_at is not None and nag_at <= now:
        n = clock.nags + 1
        text = f"Reminder {n}/{ctx.options.nag_cap}: {clock.name} overdue {overdue}"
        return Change({}, NAGGED, f"{view.key} nagged", text, thread_mention=view.owner_id or "here",
                      event_data=_data(clock, nag=n))
    return None


def _plan(alert: Alert, facts: list[Fact], ctx: _Ctx) -> AlertWrite | None:
    """Every step due at `now`, in order (woke → breach → chain…), then the next wake-up."""
    view, changes = View.of(alert), list[Change]()
    try:
        for _ in range(MAX_STEPS_PER_ALERT):
            step = _next_step(view, facts, alert, ctx)
            if step is None:
                break
            seen: dict[str, Any] = {k: v for k, v in step.values.items() if hasattr(view, k)}
            view = dataclasses.replace(view, **seen)
            facts = [*facts, Fact(step.event, ctx.now, step.event_data)]
            changes.append(step)
        also = schedule(view, facts, ctx)
    except Exception:  # a team whose hours never open, a corrupt row…: log it, sweep the others
        log.exception("sla.plan_failed", alert=alert.key)
        ctx.result.failed += 1
        return None
    if not changes:
        now_set, wanted = current_values(alert), written_values(alert, [], also)
        if all(now_set.get(name) == value for name, value in wanted.items()):
            return None
    return AlertWrite(alert, changes, SYSTEM, also)


async def _commit(session: AsyncSession, writes: list[AlertWrite], ctx: _Ctx) -> None:
    """The batch through the one alert writer; what it says is counted per step."""
    won = await write_changes(session, writes=writes, now=ctx.now)
    for write in won:
        for change in write.changes:
            setattr(ctx.result, change.event, getattr(ctx.result, change.event) + 1)
    ctx.result.rescheduled += sum(1 for write in won if not write.changes)
    if len(won) < len(writes):
        log.info("sla.changed_meanwhile", alerts=len(writes) - len(won))  # the next sweep decides again


async def _take(session: AsyncSession, *, now: datetime, batch: int) -> list[Alert]:
    """Due alerts, oldest first (held until the commit on PostgreSQL)."""
    found = await alert_queries.take_due_alerts(session, statuses=ACTIVE_STATUSES, now=now, batch=batch)
    for alert in found:
        session.expunge(alert)  # plain values from here on: only the writer changes alert state
    return found


async def _facts(session: AsyncSession, ids: list[int]) -> dict[int, list[Fact]]:
    facts: dict[int, list[Fact]] = defaultdict(list)
    for alert_id, kind, at, data in await alert_queries.alert_event_facts(session, alert_ids=ids,
                                                                           kinds=FACT_KINDS):
        facts[alert_id].append(Fact(kind, at, data))
    return facts


async def sweep(sessions: SessionFactory, *, config: ConfigSnapshot, now: datetime, batch: int = 500,
                options: SweepOptions | None = None) -> SweepResult:
    """One batch: take up to `batch` due alerts and run every step due at `now`, in one transaction."""
    ctx = _Ctx(config, options or SweepOptions(), now)
    async with transaction(sessions) as session:
        alerts = await _take(session, now=now, batch=batch)
        ctx.result.taken = len(alerts)
        facts = await _facts(session, [a.id for a in alerts if a.id is not None])
        writes = [w for a in alerts if (w := _plan(a, facts[a.id or 0], ctx)) is not None]
        if writes:
            await _commit(session, writes, ctx)
    return ctx.result


async def drain(sessions: SessionFactory, *, config: ConfigSnapshot, now: datetime, batch: int = 500,
                options: SweepOptions | None = None, max_batches: int = 1000) -> SweepResult:
    """Sweep batch after batch until nothing is due at `now` (or a batch makes no progress)."""
    total = SweepResult()
    for _ in range(max_batches):
        result = await sweep(sessions, config=config, now=now, batch=batch, options=options)
        total.add(result)
        if result.taken < batch or result.steps + result.rescheduled == 0:
            break
    return total
