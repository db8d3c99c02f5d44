"""The closed-loop figures by ISO week, for the dashboard's charts and the digest's picture.

For the last N ISO weeks (Monday 00:00 UTC), per team, location and employee (the latter only when
HOTLOOP_EMPLOYEE_FIGURES is on):
- responses received (feedback, alerting or not; all teams only: feedback has no team until it alerts)
- alerts raised (kind "response"; systemic issues are counted apart, `systemic`)
- response rate: alerts someone acted on (a first contact, a claim or a resolve) / alerts
- time to first contact, to claim (or resolve, whichever came first) and to resolve: median and p90
- breach rate: alerts that missed the claim or the resolve deadline (by now, for open ones) / alerts
- confirmed recovery rate: answered follow-ups where the customer said "yes, fixed" / answered follow-ups
An alert counts in the week it was raised (a cohort): its later claim or resolve still counts there.

Read from `figureday` (bot/web/figure_days.py): each team's day is computed once from its alerts and kept,
then computed again only when its alerts changed (their count and sum of versions differ from the kept
ones) or the earliest deadline still running among them has passed. Medians and p90 stay exact: a day
keeps its durations (whole seconds), and weeks and teams are merged from them. The warm-up job
(jobs/figures.py) computes the days ahead of the pages, at start and every few minutes; a page computes
only what changed since. A process keeps parsed days and merged weeks (`FigureMemo`) under the days'
change markers, so a page after new data merges again only the weeks whose days changed.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.web import figure_days as kept_days
from bot.web.figure_days import EMPLOYEE, LOCATION, TEAM, Day, DayState, Named, Tally
from storage.db import SessionFactory
from storage.queries import weekly as weekly_queries
from storage.queries.weekly import Window

DEFAULT_WEEKS = 12
MAX_WEEKS = 52
TOP_GROUPS = 8  # locations / employees shown (the busiest): a chart of 300 shops says nothing


@dataclass(frozen=True)
class Spread:
    """Median and 90th percentile of some durations, in seconds (None without any)."""

    count: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class WeekFigures:
    label: str  # "2026-W49", or "12 weeks" for a whole window
    start: date
    alerts: int = 0
    responded: int = 0
    breached: int = 0
    first_contact: Spread = Spread()
    claim: Spread = Spread()
    resolve: Spread = Spread()
    follow_ups_answered: int = 0
    confirmed: int = 0
    systemic: int = 0
    responses_received: int | None = None

    @property
    def response_rate(self) -> float | None:
        return self.responded / self.alerts if self.alerts else None

    @property
    def breach_rate(self) -> float | None:
        return self.breached / self.alerts if self.alerts else None

    @property
    def confirmed_recovery_rate(self) -> float | None:
        return self.confirmed / self.follow_ups_answered if self.follow_ups_answered else None


@dataclass(frozen=True)
class FigureSeries:
    """One group's figures week by week (all teams, each team), or over the whole window only (locations,
    employees: a week of one shop is too few alerts to say much)."""

    dimension: str  # "all" | "team" | "location" | "employee"
    name: str
    weeks: tuple[WeekFigures, ...]
    total: WeekFigures | None = None


@dataclass(frozen=True)
class Figures:
    week_labels: tuple[str, ...]
    overall: FigureSeries
    teams: tuple[FigureSeries, ...]
    locations: tuple[FigureSeries, ...]
    employees: tuple[FigureSeries, ...]  # empty when employee figures are off


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default, `statistics.quantiles` "inclusive")."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(durations: Iterable[float] | Iterable[int]) -> Spread:
    """Of durations in seconds; a negative one (a contact logged as made before the alert) counts as 0."""
    values: list[float] = sorted(durations)
    median, p90 = percentile(values, 0.5), percentile(values, 0.9)
    return Spread(count=len(values), median=None if median is None else max(0.0, median),
                  p90=None if p90 is None else max(0.0, p90))


def window_start(now: datetime, weeks: int) -> datetime:
    """Monday 00:00 UTC of the ISO week `weeks - 1` weeks before now's."""
    today = now.astimezone(UTC).date()
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


def week_label(start: date) -> str:
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"



def week_figures(tally: Tally, label: str, start: date, received: int | None) -> WeekFigures:
    counts = tally.counts
    return WeekFigures(
        label=label, start=start, alerts=counts[kept_days.ALERTS], responded=counts[kept_days.RESPONDED],
        breached=counts[kept_days.BREACHED], first_contact=spread(tally.contact), claim=spread(tally.claim),
        resolve=spread(tally.resolve), follow_ups_answered=counts[kept_days.ANSWERED],
        confirmed=counts[kept_days.CONFIRMED], systemic=counts[kept_days.SYSTEMIC],
        responses_received=received,
    )


MEMO_DAYS = 20_000  # parsed days a process keeps (52 weeks × 50 teams), emptied when full
MEMO_WEEKS = 2_000


@dataclass
class NamedWeek:
    """The locations (employees) of a week: each one's alerts, to rank them, and the days they were read
    from — a name's figures are merged from those only when it is among the busiest of the window."""

    alerts: dict[str, int] = field(default_factory=dict)
    days: list[Named] = field(default_factory=list)
    merged: dict[str, Tally] = field(default_factory=dict)

    def tally(self, name: str) -> Tally:
        """`name`'s figures over the week, merged once (a week part is kept while its days are unchanged)."""
        found = self.merged.get(name)
        if found is None:
            found = self.merged[name] = Tally()
            for named in self.days:
                named.add_to(name, found)
        return found


@dataclass
class WeekPart:
    """One ISO week of some teams, merged from their days: each team's figures and all of them together
    (None), and each location's and employee's tally (the window's busiest are ranked from these)."""

    figures: dict[int | None, WeekFigures]
    named: dict[str, NamedWeek]


@dataclass
class FigureMemo:
    """What one process keeps between pages: parsed days and merged weeks, each under the change markers
    it was made from (bot/web/figure_days.py `DayState.marker`), so a day whose alerts changed is never
    shown from here — no time to live: new data shows on the next page."""

    days: dict[tuple[str, int], tuple[str, Day]] = field(default_factory=dict)
    weeks: dict[Any, tuple[tuple[str, ...], WeekPart]] = field(default_factory=dict)

    def keep_day(self, state: DayState, day: Day) -> None:
        if len(self.days) >= MEMO_DAYS:
            self.days.clear()
        self.days[(state.day, state.team)] = (state.marker, day)

    def keep_week(self, key: Any, markers: tuple[str, ...], part: WeekPart) -> None:
        if len(self.weeks) >= MEMO_WEEKS:
            self.weeks.clear()
        self.weeks[key] = (markers, part)


async def _parsed_days(
    sessions: SessionFactory, states: list[DayState], memo: FigureMemo
) -> list[tuple[DayState, Day]]:
    """Each state's parsed day: from the memo when its marker matches, else from `figureday` (one read).
    Taken from the memo before the read: another page may empty it meanwhile."""
    parsed: dict[tuple[str, int], Day] = {}
    wanted: dict[tuple[str, int], DayState] = {}
    for state in states:
        key = (state.day, state.team)
        found = memo.days.get(key)
        if state.data is not None:
            parsed[key] = Day.load(state.data)
            memo.keep_day(state, parsed[key])
        elif found is not None and found[0] == state.marker:
            parsed[key] = found[1]
        else:
            wanted[key] = state
    if wanted:
        async with sessions() as session:
            stored = await weekly_queries.stored_data(session, wanted=wanted.keys())
        for key, data in stored.items():
            parsed[key] = Day.load(data)
            memo.keep_day(wanted[key], parsed[key])
    return [(state, parsed[(state.day, state.team)]) for state in states if (state.day, state.team) in parsed]


def _week_part(days: Sequence[tuple[int, Day]], label: str, start: date) -> WeekPart:
    teams: dict[int, Tally] = {}
    overall = Tally()
    named = {LOCATION: NamedWeek(), EMPLOYEE: NamedWeek()}
    for team, day in days:
        teams.setdefault(team, Tally()).add(day.team)
        overall.add(day.team)
        for dimension, week in named.items():
            found = day.named[dimension]
            week.days.append(found)
            alerts = week.alerts
            for name, count in zip(found.names, found.counts[kept_days.ALERTS::kept_days.SUMS], strict=True):
                alerts[name] = alerts.get(name, 0) + count
    figures: dict[int | None, WeekFigures] = {team: week_figures(tally, label, start, None)
                                              for team, tally in teams.items()}
    figures[None] = week_figures(overall, label, start, None)
    return WeekPart(figures=figures, named=named)


def _weeks(
    parsed: list[tuple[DayState, Day]], memo: FigureMemo, *, scope: Any, labels: Sequence[str],
    starts: Sequence[date],
) -> list[WeekPart]:
    """Each week's part: from the memo when none of its days changed, else merged from its days."""
    by_week: list[list[tuple[DayState, Day]]] = [[] for _ in labels]
    for state, day in parsed:
        by_week[state.index // 7].append((state, day))
    parts = []
    for i, days in enumerate(by_week):
        key = (starts[i], scope)
        markers = tuple(sorted(f"{state.day}/{state.team}/{state.marker}" for state, _ in days))
        found = memo.weeks.get(key)
        if found is None or found[0] != markers:
            found = (markers, _week_part([(state.team, day) for state, day in days], labels[i], starts[i]))
            memo.keep_week(key, *found)
        parts.append(found[1])
    return parts


def _busiest(parts: Sequence[WeekPart], dimension: str, label: str, start: date) -> tuple[FigureSeries, ...]:
    """The TOP_GROUPS busiest names of a dimension over the whole window, ranked on their alerts."""
    alerts: dict[str, int] = {}
    for part in parts:
        for name, count in part.named[dimension].alerts.items():
            alerts[name] = alerts.get(name, 0) + count
    chosen = sorted(alerts, key=lambda name: (-alerts[name], name))[:TOP_GROUPS]
    totals = {name: Tally() for name in chosen}
    for part in parts:
        for name, total in totals.items():
            week = part.named[dimension]
            if name in week.alerts:
                total.add(week.tally(name))
    return tuple(FigureSeries(dimension=dimension, name=name, weeks=(),
                              total=week_figures(totals[name], label, start, None)) for name in chosen)


async def refresh_window(
    sessions: SessionFactory, *, now: datetime, weeks: int, team_ids: Collection[int] | None,
    employees: bool,
) -> list[DayState]:
    """The kept days of the last `weeks` ISO weeks brought up to date (see `refresh_days`)."""
    weeks = max(1, min(weeks, MAX_WEEKS))
    return await kept_days.refresh_days(sessions, since=window_start(now, weeks), days=weeks * 7, now=now,
                                        team_ids=team_ids, employees=employees)


async def preload_memo(sessions: SessionFactory, memo: FigureMemo, *, now: datetime, employees: bool) -> int:
    """The kept days of the longest window parsed into `memo` at a process's start (read-only), so its
    first figures page reads and parses only what changed since, not every kept day. Returns how many."""
    since = window_start(now, MAX_WEEKS)
    states = await kept_days.kept_states(sessions, since=since, days=MAX_WEEKS * 7, now=now,
                                         employees=employees)
    parsed = await _parsed_days(sessions, states, memo)
    starts, labels = _calendar(since, MAX_WEEKS)  # every team's weeks: an admin's page (any length)
    _weeks(parsed, memo, scope=(None, employees), labels=labels, starts=starts)
    return len(parsed)


def _calendar(since: datetime, weeks: int) -> tuple[list[date], tuple[str, ...]]:
    """The window's weeks: their first days and labels."""
    starts = [(since + timedelta(weeks=i)).date() for i in range(weeks)]
    return starts, tuple(week_label(day) for day in starts)


async def weekly_figures(
    sessions: SessionFactory,
    *,
    now: datetime,
    team_names: Mapping[int, str],
    team_ids: Collection[int] | None = None,
    weeks: int = DEFAULT_WEEKS,
    employee_figures: bool = True,
    memo: FigureMemo | None = None,
) -> Figures:
    """The figures of the last `weeks` ISO weeks for the teams `team_ids` (None: every team). Responses
    received are counted only when every team is shown (feedback has no team until it alerts). `memo`:
    what this process kept from earlier pages (none: everything parsed and merged afresh)."""
    weeks = max(1, min(weeks, MAX_WEEKS))
    memo = memo if memo is not None else FigureMemo()
    since = window_start(now, weeks)
    states = await refresh_window(sessions, now=now, weeks=weeks, team_ids=team_ids,
                                  employees=employee_figures)
    received = None
    if team_ids is None:
        async with sessions() as session:
            received = await weekly_queries.responses_received(
                session, window=Window(since=since, count=weeks, step=timedelta(weeks=1)))
    starts, labels = _calendar(since, weeks)
    scope = (None if team_ids is None else frozenset(team_ids), employee_figures)
    parts = _weeks(await _parsed_days(sessions, states, memo), memo, scope=scope, labels=labels,
                   starts=starts)

    def series(dimension: str, name: str, team: int | None) -> FigureSeries:
        weekly = []
        for i, part in enumerate(parts):
            found = part.figures.get(team) or week_figures(Tally(), labels[i], starts[i], None)
            if team is None and received is not None:
                found = replace(found, responses_received=received.get(i, 0))
            weekly.append(found)
        return FigureSeries(dimension=dimension, name=name, weeks=tuple(weekly))

    shown = team_ids if team_ids is not None else team_names
    window = f"{weeks} weeks"
    return Figures(
        week_labels=labels,
        overall=series("all", "all teams", None),
        teams=tuple(series(TEAM, team_names.get(t, f"team {t}"), t)
                    for t in sorted(shown, key=lambda t: team_names.get(t, ""))),
        locations=_busiest(parts, LOCATION, window, starts[0]),
        employees=_busiest(parts, EMPLOYEE, window, starts[0]) if employee_figures else (),
    )
