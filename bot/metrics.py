"""Closed-loop figures: did every unhappy customer hear back, and how fast?

- response rate: alerts someone acted on (claimed or resolved) / alerts raised (target 100 %)
- time to claim / resolve: medians and 90th percentiles, in seconds
- SLA breach rate: alerts that missed the claim or the resolve deadline / alerts raised
- recovery rate: resolved as "recovered" / resolved after a contact attempt
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from storage.db import SessionFactory
from storage.models import Alert
from storage.queries.figures import alerts_raised_since

CONTACT_OUTCOMES = ("recovered", "contacted_not_recovered")


@dataclass
class LoopFigures:
    team: str
    raised: int = 0
    responded: int = 0
    open: int = 0
    claimed: int = 0
    resolved: int = 0
    breached: int = 0
    recovered: int = 0
    contacted: int = 0
    claim_seconds: list[float] = field(default_factory=list)
    resolve_seconds: list[float] = field(default_factory=list)

    @property
    def response_rate(self) -> float | None:
        return self.responded / self.raised if self.raised else None

    @property
    def breach_rate(self) -> float | None:
        return self.breached / self.raised if self.raised else None

    @property
    def recovery_rate(self) -> float | None:
        return self.recovered / self.contacted if self.contacted else None

    @property
    def median_claim(self) -> float | None:
        return statistics.median(self.claim_seconds) if self.claim_seconds else None

    @property
    def median_resolve(self) -> float | None:
        return statistics.median(self.resolve_seconds) if self.resolve_seconds else None

    def as_dict(self) -> dict[str, object]:
        return {
            "team": self.team, "raised": self.raised, "open": self.open, "claimed": self.claimed,
            "resolved": self.resolved, "breached": self.breached, "response_rate": self.response_rate,
            "median_claim_seconds": self.median_claim, "median_resolve_seconds": self.median_resolve,
            "breach_rate": self.breach_rate, "recovery_rate": self.recovery_rate,
        }


def _breached(alert: Alert, now: datetime) -> bool:
    claim_by = alert.claimed_at or alert.resolved_at or now
    resolve_by = alert.resolved_at or now
    late_claim = alert.claim_due_at is not None and claim_by > alert.claim_due_at
    late_resolve = alert.resolve_due_at is not None and resolve_by > alert.resolve_due_at
    return late_claim or late_resolve


_STATUS_COUNTER = {"open": "open", "snoozed": "open", "claimed": "claimed", "resolved": "resolved"}


def _add(figures: LoopFigures, alert: Alert, now: datetime) -> None:
    figures.raised += 1
    status_counter = _STATUS_COUNTER[alert.status]
    setattr(figures, status_counter, getattr(figures, status_counter) + 1)
    first_response = alert.claimed_at or alert.resolved_at
    if first_response is not None:
        figures.responded += 1
        figures.claim_seconds.append((first_response - alert.created_at).total_seconds())
    if alert.resolved_at is not None:
        figures.resolve_seconds.append((alert.resolved_at - alert.created_at).total_seconds())
    if alert.outcome in CONTACT_OUTCOMES:
        figures.contacted += 1
        figures.recovered += alert.outcome == "recovered"
    figures.breached += _breached(alert, now)


async def loop_figures(
    sessions: SessionFactory, *, now: datetime, window: timedelta, team: str | None = None
) -> list[LoopFigures]:
    """Per-team figures for alerts raised in the window, plus an "all teams" row first."""
    async with sessions() as session:
        rows = await alerts_raised_since(session, since=now - window, team=team)
    total = LoopFigures(team="all teams")
    per_team: dict[str, LoopFigures] = defaultdict(lambda: LoopFigures(team=""))
    for alert, team_name in rows:
        bucket = per_team[team_name]
        bucket.team = team_name
        _add(bucket, alert, now)
        _add(total, alert, now)
    return [total, *sorted(per_team.values(), key=lambda f: f.team)]


def format_seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 3600:
        return f"{value / 60:.0f} min"
    if value < 172800:
        return f"{value / 3600:.1f} h"
    return f"{value / 86400:.1f} d"


def format_rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"
