"""Breakdown figures (`hotloop stats --by location|region|product|source|topic|employee`): the
closed-loop figures per value of one dimension.

Per value: responses, alerts raised, still open, median time to claim and resolve, SLA breach rate,
recovery rate (bot/metrics.py defines them) and the score spread (mean and median NPS, detractors 0–6,
passives 7–8, promoters 9–10). Values are grouped with case and surrounding spaces ignored ("Jessica C"
and "jessica c " are one person); the spelling shown is the most frequent one. Topics come from the
comments (bot/systemic/topics.py), so one response counts under each of its topics. Systemic issues are
never responses (storage/queries/breakdown.py leaves them out).

The window is whole ISO weeks: it starts on the Monday (00:00 UTC) of the week `since` falls in, and
every value carries its figures per week, oldest first, empty weeks too — the same figures and weeks as
the coaching view (`/hotloop coach`, bot/commands/coach.py), which also quotes the promoters who named a
person (`promoter_comments`).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.metrics import LoopFigures
from bot.metrics import _add as add_alert  # the one definition of claim/resolve/breach/recovery
from bot.systemic.topics import topics
from storage.db import SessionFactory
from storage.queries.breakdown import ResponseRow, responses_since

ATTRIBUTE_DIMENSIONS = ("location", "region", "product", "employee")
DIMENSIONS = (*ATTRIBUTE_DIMENSIONS, "source", "topic")
EMPLOYEE = "employee"
MAX_VALUE = 255
MAX_COMMENTS = 3
COMMENT_CHARS = 80


class FiguresOff(Exception):
    """Per-person figures are turned off (HOTLOOP_EMPLOYEE_FIGURES=off)."""

    MESSAGE = "per-person figures are turned off here (HOTLOOP_EMPLOYEE_FIGURES=off)"

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


def fold(value: str) -> str:
    """The grouping key of a value: surrounding spaces and case ignored."""
    return " ".join(value.split()).casefold()[:MAX_VALUE]


@dataclass
class ScoreSpread:
    scores: list[int] = field(default_factory=list)

    def add(self, nps: int | None) -> None:
        if nps is not None:
            self.scores.append(nps)

    @property
    def detractors(self) -> int:
        return sum(score <= 6 for score in self.scores)

    @property
    def passives(self) -> int:
        return sum(7 <= score <= 8 for score in self.scores)

    @property
    def promoters(self) -> int:
        return sum(score >= 9 for score in self.scores)

    @property
    def mean(self) -> float | None:
        return round(statistics.fmean(self.scores), 2) if self.scores else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.scores) if self.scores else None

    def as_dict(self) -> dict[str, object]:
        return {
            "nps_mean": self.mean, "nps_median": self.median, "nps_min": min(self.scores, default=None),
            "nps_max": max(self.scores, default=None), "detractors": self.detractors,
            "passives": self.passives, "promoters": self.promoters,
        }


@dataclass
class Figures:
    """The figures of some responses (one value's, or one ISO week's of it): alerts and their outcomes
    through bot/metrics.py's one definition, the score spread of every response."""

    responses: int = 0
    scores: ScoreSpread = field(default_factory=ScoreSpread)
    alerts: LoopFigures = field(default_factory=lambda: LoopFigures(team=""))
    outcomes: Counter[str] = field(default_factory=Counter)

    def add(self, row: ResponseRow, now: datetime) -> None:
        self.responses += 1
        self.scores.add(row.nps)
        if row.alert is not None:
            add_alert(self.alerts, row.alert, now)
            if row.alert.outcome is not None:
                self.outcomes[row.alert.outcome] += 1

    @property
    def undecided(self) -> int:
        """Alerts without an outcome yet (open, snoozed or claimed)."""
        return self.alerts.raised - sum(self.outcomes.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "responses": self.responses, "alerts": self.alerts.raised, "open": self.alerts.open,
            "median_claim_seconds": self.alerts.median_claim,
            "median_resolve_seconds": self.alerts.median_resolve, "breach_rate": self.alerts.breach_rate,
            "recovery_rate": self.alerts.recovery_rate, "outcomes": dict(sorted(self.outcomes.items())),
            **self.scores.as_dict(),
        }


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of `moment`'s ISO week."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def week_label(start: datetime) -> str:
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"


def by_week(rows: Iterable[ResponseRow], *, first: datetime, now: datetime) -> dict[datetime, Figures]:
    """Every ISO week from `first` (a Monday) to `now`'s, oldest first, with its figures (empty ones too)."""
    count = (week_start(now) - first).days // 7 + 1
    weeks = {first + timedelta(weeks=n): Figures() for n in range(max(count, 1))}
    for row in rows:
        bucket = weeks.get(week_start(row.received_at))
        if bucket is not None:
            bucket.add(row, now)
    return weeks


def promoters_newest_first(rows: Iterable[ResponseRow]) -> list[ResponseRow]:
    """The promoters (NPS 9–10) among `rows`, newest first."""
    promoters = [r for r in rows if r.nps is not None and r.nps >= 9]
    return sorted(promoters, key=lambda r: (r.received_at, r.feedback_id), reverse=True)


def printable(text: str) -> str:
    """`text` on one line, control characters left out (customer text, shown on a terminal or in a chat)."""
    return " ".join("".join(c for c in text if c.isprintable() or c.isspace()).split())


def short_comment(comment: str) -> str:
    """One printable line of at most COMMENT_CHARS characters."""
    text = printable(comment)
    return text if len(text) <= COMMENT_CHARS else text[: COMMENT_CHARS - 1].rstrip() + "…"


def promoter_comments(rows: Iterable[ResponseRow]) -> list[str]:
    """The start of the latest MAX_COMMENTS promoters' comments (the coaching view quotes them)."""
    comments = (r.comment for r in promoters_newest_first(rows) if r.comment and r.comment.strip())
    return [short_comment(comment) for comment in comments][:MAX_COMMENTS]


@dataclass
class ValueFigures(Figures):
    value: str = ""
    spellings: Counter[str] = field(default_factory=Counter)
    rows: list[ResponseRow] = field(default_factory=list)
    weeks: dict[datetime, Figures] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"value": self.value, **super().as_dict(), "weeks": [
            {"week": week_label(start), "starts": start.date().isoformat(), **figures.as_dict()}
            for start, figures in self.weeks.items()
        ]}


@dataclass
class Breakdown:
    dimension: str
    since: datetime  # a Monday 00:00 UTC: every week is whole (the current one: to date)
    team: str | None
    rows: list[ValueFigures]
    without_value: int  # responses that carry no value of the dimension

    def as_dict(self) -> dict[str, object]:
        def value_dict(row: ValueFigures) -> dict[str, object]:
            if self.dimension != EMPLOYEE:
                return row.as_dict()
            # the promoters who named them: their count is "promoters"; the coaching view quotes them too
            return {**row.as_dict(), "promoter_comments": promoter_comments(row.rows)}

        return {
            "by": self.dimension, "since": self.since.isoformat(), "team": self.team,
            "without_value": self.without_value, "rows": [value_dict(row) for row in self.rows],
        }


def values_of(row: ResponseRow, dimension: str, *, alarming_words: Sequence[str]) -> list[str]:
    """The values of `dimension` one response has (topics: several; an attribute: at most one)."""
    if dimension == "topic":
        return topics(row.comment, alarming_words=alarming_words)
    raw = row.source if dimension == "source" else row.attributes.get(dimension)
    if not isinstance(raw, str) or not raw.strip():
        return []
    return [" ".join(raw.split())[:MAX_VALUE]]


def group(
    rows: Iterable[ResponseRow], *, dimension: str, alarming_words: Sequence[str], since: datetime,
    now: datetime,
) -> tuple[list[ValueFigures], int]:
    """Figures per value (and per ISO week from `since`, a Monday), most alerts first (then most
    responses, then the value), and how many responses had no value."""
    buckets: dict[str, ValueFigures] = {}
    without = 0
    for row in rows:
        values = values_of(row, dimension, alarming_words=alarming_words)
        without += not values
        for value in values:
            bucket = buckets.setdefault(fold(value), ValueFigures(value=value))
            bucket.spellings[value] += 1
            bucket.rows.append(row)
            bucket.add(row, now)
    for bucket in buckets.values():
        bucket.value = bucket.spellings.most_common(1)[0][0]
        bucket.weeks = by_week(bucket.rows, first=since, now=now)
    ordered = sorted(buckets.values(), key=lambda b: (-b.alerts.raised, -b.responses, fold(b.value)))
    return ordered, without


async def breakdown(
    sessions: SessionFactory,
    *,
    dimension: str,
    since: datetime,
    now: datetime,
    team: str | None = None,
    alarming_words: Sequence[str] = (),
    employee_figures: bool = True,
    top: int | None = None,
) -> Breakdown:
    """The figures of responses received since the Monday of `since`'s ISO week, per value of `dimension`
    (the `top` first), each with its weeks."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"cannot break figures down by {dimension!r} (one of {', '.join(DIMENSIONS)})")
    if dimension == EMPLOYEE and not employee_figures:
        raise FiguresOff()
    first = week_start(since)
    async with sessions() as session:
        rows = await responses_since(session, since=first, team=team)
    ordered, without = group(rows, dimension=dimension, alarming_words=alarming_words, since=first, now=now)
    return Breakdown(dimension, first, team, ordered[:top] if top else ordered, without)
