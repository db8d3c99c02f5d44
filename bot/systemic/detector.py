"""The systemic detector: reads new alerts of kind "response" in id order after its cursor, records
each one's dimension values (location=042, topic "delivery late", …) as signals, and per value either
adds the alert to the current parent of that value or, when the sliding window's count is a spike
against the trailing 28-day baseline, opens a parent (bot/systemic/parent.py) with every alert of the
window that has that value.

A parent takes an arrival only while the window ending at it is still a spike: once the burst has
passed, ordinary alerts of a common value (a busy location, "delivery", the source) stay out of it. A
parent a full window old (no child since) takes no more, and the value's next parent counts only
alerts from a window after its last child on: one parent per value and window. A parent resolved by
hand restarts the count after its last child. A parent opens only if the window's alerts that are in no
parent of its dimension yet are a spike by themselves: a burst already under "delivery late" does not
also open "delivery" with that topic's ordinary alerts.

One burst, one card: 3 detractors from location 042 saying "delivery late" through the web form are a
spike of the topic, the location and the source at once. An alert's values are tried most specific
first (topic, employee, product, location, region, source: bot/systemic/signals.py SPECIFICITY), and a
spike opens no parent when at least half of its window's alerts (COVERED_SHARE) are already children of
a parent of the team, whatever its dimension: that card already shows the incident ("mention *delivery
late* at location 042" names the shared location), a second one would tell the managers the same news
twice. Half, not all: a location where a topic burst is joined by as many other complaints is no longer
mostly that incident and gets its own card; below half, the spike is mostly alerts no card shows. A
parent resolved by hand covers its children too, as it restarts its own value's count.

Without history (the team has no signal day before the window: a fresh install) a spike is min_count
alerts in a window, except for source and region (signals.NEEDS_BASELINE): every alert has a source,
and a region gathers many locations, so 3 alerts in 2 h through the web form or from one region is an
ordinary morning, not an incident; they open parents only once a baseline says what ordinary is. With
HOTLOOP_EMPLOYEE_FIGURES=off no employee value is recorded or tried (a per-person figure).

One batch is one transaction under the cursor's lock (`FOR UPDATE` on PostgreSQL, SQLite's single
writer), so two worker processes never process the same alerts. Per batch and team, one statement
counts every value of the batch in the batch's span, sums its baseline days and finds the team's first
day; only values whose span count is a spike (rare) read their signals (with the parents their alerts
are already in, same statement) and their latest parents. The benchmark
(bench/systemic.py) measures it with 100,000 alerts in the baseline against issue 15's 1 ms per alert.

An alert is read once it is `SETTLE` old: an ingest transaction that took an id but commits later than
a higher id would otherwise be passed over by the cursor.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.snapshot import ConfigSnapshot
from bot.outbox import card_update_rows
from bot.systemic.detect import BASELINE_DAYS, SystemicSettings, expected_per_window, is_spike
from bot.systemic.parent import create_parent, summary_for
from bot.systemic.signals import COVERED_SHARE, NEEDS_BASELINE, by_specificity, dimension_values
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import Outbox, SystemicMember
from storage.queries import systemic as q
from storage.queries import systemic_window as qw
from storage.queries.systemic import NewAlert, ParentRow, sys_key

CURSOR = "systemic"
BATCH = 500  # alerts per transaction
SETTLE = timedelta(seconds=2)
DAY_SECONDS = 86400
Key = tuple[str, str]  # (dimension, value)


@dataclass
class DetectResult:
    alerts: int = 0
    signals: int = 0
    created: list[str] = field(default_factory=list)  # SYS keys opened
    joined: int = 0  # children added to parents that existed before
    batches: int = 0

    @property
    def wrote_chat(self) -> bool:
        return bool(self.created or self.joined)

    def add(self, other: DetectResult) -> None:
        self.alerts += other.alerts
        self.signals += other.signals
        self.created += other.created
        self.joined += other.joined
        self.batches += other.batches


def team_settings(config: ConfigSnapshot, team_id: int) -> SystemicSettings:
    """The team's effective settings (`TeamInfo.systemic`, bot/config/snapshot.py); the defaults when
    the snapshot does not carry them."""
    found = getattr(config.team(team_id), "systemic", None)
    return found if isinstance(found, SystemicSettings) else SystemicSettings()


async def run_detector(
    sessions: SessionFactory, *, config: ConfigSnapshot, alarming_words: Sequence[str], now: datetime,
    batch: int = BATCH, max_batches: int = 40, employee_figures: bool = True,
) -> DetectResult:
    """Batches until the new alerts are all read (at most `max_batches`; the rest wait a tick)."""
    total = DetectResult()
    for _ in range(max_batches):
        async with transaction(sessions) as session:
            result = await detect_batch(session, config=config, alarming_words=alarming_words, now=now,
                                        batch=batch, employee_figures=employee_figures)
        total.add(result)
        if result.alerts < batch:
            break
    return total


def _settled(alerts: list[NewAlert], now: datetime) -> list[NewAlert]:
    """The alerts up to the first one too recent to be sure every lower id has committed."""
    for index, alert in enumerate(alerts):
        if alert.created_at > now - SETTLE:
            return alerts[:index]
    return alerts


async def detect_batch(
    session: AsyncSession, *, config: ConfigSnapshot, alarming_words: Sequence[str], now: datetime,
    batch: int = BATCH, employee_figures: bool = True,
) -> DetectResult:
    """One batch in the caller's transaction: signals, memberships, parents, card work, the cursor.
    `employee_figures` False: no employee signals (HOTLOOP_EMPLOYEE_FIGURES=off)."""
    found = await q.alerts_after_cursor(session, cursor=CURSOR, limit=batch)
    if not found:  # nothing new, or no cursor yet: make sure of it (an idle tick's extra statements)
        last_id = await qw.lock_cursor(session, name=CURSOR, now=now)
        found = await q.alerts_after(session, after_id=last_id, limit=batch)
    alerts = _settled(found, now)
    if not alerts:
        return DetectResult()
    values = {a.alert_id: by_specificity(dimension_values(
        attributes=a.attributes, source=a.source, comment=a.comment, alarming_words=alarming_words,
        employees=employee_figures)) for a in alerts}
    await _record_signals(session, alerts, values)
    result = DetectResult(alerts=len(alerts), signals=sum(len(v) for v in values.values()), batches=1)
    by_team: dict[int, list[NewAlert]] = defaultdict(list)
    for alert in alerts:
        by_team[alert.team_id].append(alert)
    for team_id, team_alerts in sorted(by_team.items()):
        settings = team_settings(config, team_id)
        if settings.enabled:  # disabled: the signals are recorded (the baseline keeps), no parents
            await TeamPass(session, config, team_id, settings, now).run(team_alerts, values, result)
    await qw.advance_cursor(session, name=CURSOR, last_id=alerts[-1].alert_id, now=now)
    return result


def first_spike_count(expected: float | None, settings: SystemicSettings, *, upper: int) -> int:
    """The smallest count `is_spike` accepts for this expectation, given that `upper` is one: a binary
    search (the false-spike bound falls as the count grows), ~log2(upper) tail sums."""
    low, high = max(1, settings.min_count), upper
    while low < high:
        middle = (low + high) // 2
        if is_spike(count=middle, expected=expected, settings=settings):
            high = middle
        else:
            low = middle + 1
    return low


def _day(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d")


async def _record_signals(session: AsyncSession, alerts: Sequence[NewAlert],
                          values: Mapping[int, Sequence[Key]]) -> None:
    rows: list[dict[str, object]] = []
    days: Counter[tuple[int, str, str, str]] = Counter()
    for alert in alerts:
        day = _day(alert.created_at)
        for dimension, value in values[alert.alert_id]:
            rows.append({"alert_id": alert.alert_id, "team_id": alert.team_id, "dimension": dimension,
                         "value": value, "at": alert.created_at})
            days[(alert.team_id, dimension, value, day)] += 1
    await qw.insert_signals(session, rows=rows)
    await qw.add_signal_days(session, counts=days)


class TeamPass:
    """One team's alerts of one batch, against what the database holds for their values."""

    def __init__(self, session: AsyncSession, config: ConfigSnapshot, team_id: int,
                 settings: SystemicSettings, now: datetime) -> None:
        self.session, self.config, self.team_id = session, config, team_id
        self.settings, self.now = settings, now
        self.window = timedelta(seconds=settings.window_seconds)
        self.thresholds: dict[Key, int] = {}  # the values that may spike in this batch → count needed
        self.expected: dict[Key, float | None] = {}
        self.times: dict[Key, list[tuple[datetime, int]]] = {}
        self.parents: dict[Key, ParentRow] = {}
        self.taken: set[tuple[int, str]] = set()  # (alert id, dimension) already in a parent
        self.shown: set[int] = set()  # alert ids already in a parent, any dimension
        self.members: list[dict[str, Any]] = []
        self.changed: dict[int, tuple[Key, ParentRow]] = {}
        self.new_parents: set[int] = set()
        self.carded: list[int] = []  # children whose card now says "part of SYS-n"

    async def run(self, alerts: Sequence[NewAlert], values: Mapping[int, Sequence[Key]],
                  result: DetectResult) -> None:
        first = min(alert.created_at for alert in alerts)
        last = max(alert.created_at for alert in alerts)
        await self._load({key for alert in alerts for key in values[alert.alert_id]}, first, last)
        if not self.thresholds:
            return
        for alert in alerts:
            for key in values[alert.alert_id]:  # most specific first: it opens the one parent
                if key in self.thresholds:
                    await self._consider(alert, key, result)
        await self._flush()

    async def _load(self, keys: set[Key], first: datetime, last: datetime) -> None:
        """The values' span counts and baselines; then, for the few whose span count is a spike, their
        signals in the span with their alerts' memberships, and their latest parents."""
        since = first - self.window
        before = since.date()
        stats = await qw.value_stats(
            self.session, team_id=self.team_id, keys=keys, since=since, until=last,
            first_day=(before - timedelta(days=BASELINE_DAYS)).isoformat(), before_day=before.isoformat())
        covered = (before - date.fromisoformat(stats.history_start)).days * DAY_SECONDS \
            if stats.history_start else 0
        for key, count in stats.span.items():
            expected = expected_per_window(
                baseline_count=stats.baseline.get(key, 0), covered_seconds=float(covered),
                window_seconds=self.settings.window_seconds) if covered > 0 else None
            if expected is None and key[0] in NEEDS_BASELINE:
                continue  # too broad for min_count alone (module docstring)
            if count >= self.settings.min_count and is_spike(count=count, expected=expected,
                                                              settings=self.settings):
                self.thresholds[key] = first_spike_count(expected, self.settings, upper=count)
                self.expected[key] = expected
        if self.thresholds:
            window = await qw.window_signals(self.session, team_id=self.team_id, keys=self.thresholds,
                                             since=since, until=last)
            self.times, self.taken = window.times, window.taken
            self.shown = {alert_id for alert_id, _ in self.taken}
            self.parents = await qw.latest_parents(self.session, team_id=self.team_id, keys=self.thresholds,
                                                   since=since - self.window)

    def _window(self, key: Key, since: datetime, until: datetime) -> list[tuple[datetime, int]]:
        """The key's (at, alert id) at (since, until]."""
        times = self.times.get(key, [])
        low = bisect.bisect_right(times, (since, 2**62))
        return times[low:bisect.bisect_right(times, (until, 2**62))]

    async def _consider(self, alert: NewAlert, key: Key, result: DetectResult) -> None:
        at, threshold = alert.created_at, self.thresholds[key]
        start = at - self.window
        since = start
        parent = self.parents.get(key)
        if parent is not None and parent.status == "resolved":
            since = max(start, parent.last_child_at)  # resolved by hand: the count restarts after it
        elif parent is not None and parent.last_child_at > start:  # current: joined while still a spike
            if len(self._window(key, start, at)) >= threshold and self._join(parent, key, alert.alert_id, at):
                result.joined += parent.systemic_id not in self.new_parents
                self.carded.append(alert.alert_id)
            return
        elif parent is not None:  # a window old: the next parent counts from a window after its last child
            since = max(start, parent.last_child_at + self.window)
        alert_ids = [alert_id for _, alert_id in self._window(key, since, at)]
        if len(alert_ids) < threshold:
            return
        created = await self._open(key, alert_ids, threshold)
        if created is not None:
            result.created.append(sys_key(created.number))

    async def _open(self, key: Key, alert_ids: list[int], threshold: int) -> ParentRow | None:
        """A parent with the window's alerts that have no parent of this dimension yet — only when those
        alone are a spike: the same burst seen through a second topic of its alerts ("delivery" besides
        "delivery late") opens nothing, neither alone nor with the ordinary alerts of that topic — and
        only when less than COVERED_SHARE of the window is in parents already: the same burst seen
        through its location or source opens nothing either."""
        dimension, value = key
        free = [i for i in alert_ids if (i, dimension) not in self.taken]
        shown = sum(i in self.shown for i in alert_ids)
        if len(free) < threshold or shown >= COVERED_SHARE * len(alert_ids):
            return None
        children = await q.alert_facts(self.session, alert_ids=free)
        parent = await create_parent(
            self.session, config=self.config, team_id=self.team_id, dimension=dimension, value=value,
            children=children, window_seconds=self.settings.window_seconds,
            baseline_per_window=self.expected[key], now=self.now)
        self.parents[key] = parent
        self.new_parents.add(parent.systemic_id)
        for child in children:
            self._join(parent, key, child.alert_id, child.created_at)
            self.carded.append(child.alert_id)
        return parent

    def _join(self, parent: ParentRow, key: Key, alert_id: int, at: datetime) -> bool:
        if (alert_id, key[0]) in self.taken:
            return False
        self.taken.add((alert_id, key[0]))
        self.shown.add(alert_id)
        self.members.append({"systemic_id": parent.systemic_id, "alert_id": alert_id, "dimension": key[0],
                             "joined_at": self.now})
        parent.child_count += 1
        parent.last_child_at = max(parent.last_child_at, at)
        self.changed[parent.systemic_id] = (key, parent)
        return True

    async def _flush(self) -> None:
        """Memberships, parent counts and summaries, and the card work: one statement each."""
        if not self.changed:
            return
        await queries.insert_many(self.session, model=SystemicMember, rows=self.members)
        parents = [parent for _, parent in self.changed.values()]
        await q.update_parents(self.session, parents=parents)
        facts = await q.children_facts(self.session, systemic_ids=list(self.changed))
        comments = {
            parent.feedback_id: summary_for(dimension=dimension, value=value, children=facts.get(sid, []),
                                            window_seconds=parent.window_seconds,
                                            baseline_per_window=parent.baseline_per_window or None)
            for sid, ((dimension, value), parent) in self.changed.items()}
        await q.set_summaries(self.session, comments=comments)
        updated = [p.alert_id for p in parents if p.systemic_id not in self.new_parents]  # new: card.post
        rows = await card_update_rows(self.session, alert_ids=[*updated, *self.carded], now=self.now)
        await queries.insert_many(self.session, model=Outbox, rows=rows)
