"""Closed-loop figures: did every unhappy customer hear back, and how fast?

- response rate: alerts someone acted on (claimed or resolved) / alerts raised (target 100 %)
- time to claim / resolve: medians and 90th percentiles, in seconds
- SLA breach rate: alerts that missed the claim or the resolve deadline / alerts raised
- recovery rate: resolved as "recovered" / resolved after a contact attempt
- time to first contact (issue 14): from the alert to the first reply or logged call (`first_contact_at`),
  median and 90th percentile (target: within an hour, the seeds' "respond within 1 hour")
- acknowledgement coverage: contact requests acknowledged (the e-mail, or a first contact) within 15
  minutes / contact requests
- follow-up answer rate: follow-ups answered / sent; confirmed recovery rate: said "yes" / answered;
  reopened by the customer: alerts a "no" (or a low score) reopened
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from storage.db import SessionFactory
from storage.models import Alert
from storage.queries.figures import (
    CustomerLoop,
    alerts_raised_since,
    customer_loop_since,
    systemic_raised_since,
)

CONTACT_OUTCOMES = ("recovered", "contacted_not_recovered")
RESPONSE_TARGET = 1.0  # every unhappy customer hears back (seed 001)
FIRST_CONTACT_TARGET = 3600.0  # seconds: within an hour (seed 001)
ACK_WITHIN = timedelta(minutes=15)


def p90(values: list[float]) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


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
    first_contact_seconds: list[float] = field(default_factory=list)
    contact_requests: int = 0
    acknowledged_in_time: int = 0
    follow_ups_sent: int = 0
    follow_ups_answered: int = 0
    confirmed: int = 0
    reopened_by_customer: int = 0
    systemic_issues: int = 0  # spikes opened in the window (bot/systemic): not counted in `raised`

    @property
    def first_contact_median(self) -> float | None:
        return statistics.median(self.first_contact_seconds) if self.first_contact_seconds else None

    @property
    def first_contact_p90(self) -> float | None:
        return p90(self.first_contact_seconds)

    @property
    def acknowledged_rate(self) -> float | None:
        return self.acknowledged_in_time / self.contact_requests if self.contact_requests else None

    @property
    def follow_up_answer_rate(self) -> float | None:
        return self.follow_ups_answered / self.follow_ups_sent if self.follow_ups_sent else None

    @property
    def confirmed_recovery_rate(self) -> float | None:
        return self.confirmed / self.follow_ups_answered if self.follow_ups_answered else None

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
            "first_contact_median_seconds": self.first_contact_median,
            "first_contact_p90_seconds": self.first_contact_p90, "acknowledged_rate": self.acknowledged_rate,
            "follow_up_answer_rate": self.follow_up_answer_rate,
            "confirmed_recovery_rate": self.confirmed_recovery_rate,
            "reopened_by_customer": self.reopened_by_customer, "systemic_issues": self.systemic_issues,
            "targets": {"response_rate": RESPONSE_TARGET, "first_contact_seconds": FIRST_CONTACT_TARGET},
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


def _add_customer_loop(figures: LoopFigures, alert: Alert, loop: CustomerLoop) -> None:
    """The issue 14 figures of one alert: first contact, acknowledgement, the customer's follow-up."""
    assert alert.id is not None
    if alert.first_contact_at is not None:
        after = (alert.first_contact_at - alert.created_at).total_seconds()
        figures.first_contact_seconds.append(max(0.0, after))
    if alert.id in loop.contact_requested:
        figures.contact_requests += 1
        heard = [t for t in (alert.acknowledged_at, alert.first_contact_at) if t is not None]
        figures.acknowledged_in_time += bool(heard) and min(heard) - alert.created_at <= ACK_WITHIN
    sent, answered, resolved = loop.follow_ups.get(alert.id, (False, False, None))
    figures.follow_ups_sent += sent
    figures.follow_ups_answered += answered
    figures.confirmed += answered and resolved is True
    figures.reopened_by_customer += alert.id in loop.reopened_by_customer


async def loop_figures(
    sessions: SessionFactory, *, now: datetime, window: timedelta, team: str | None = None
) -> list[LoopFigures]:
    """Per-team figures for alerts raised in the window, plus an "all teams" row first."""
    async with sessions() as session:
        rows = await alerts_raised_since(session, since=now - window, team=team)
        loop = await customer_loop_since(session, since=now - window)
        spikes = await systemic_raised_since(session, since=now - window)
    total = LoopFigures(team="all teams")
    per_team: dict[str, LoopFigures] = defaultdict(lambda: LoopFigures(team=""))
    for alert, team_name in rows:
        bucket = per_team[team_name]
        bucket.team = team_name
        for figures in (bucket, total):
            _add(figures, alert, now)
            _add_customer_loop(figures, alert, loop)
    for team_name, count in spikes.items():
        if team is None or team_name == team:
            per_team[team_name].team = team_name
            per_team[team_name].systemic_issues += count
            total.systemic_issues += count
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


def customer_loop_lines(figures: LoopFigures) -> list[tuple[str, str]]:
    """The issue 14 figures as (label, value) with their targets, for every place that shows them."""
    median, slowest = figures.first_contact_median, figures.first_contact_p90
    missed = "; missed" if median is not None and median > FIRST_CONTACT_TARGET else ""
    return [
        ("First contact", f"median {format_seconds(median)}, p90 {format_seconds(slowest)} "
                          f"(target within 1 h{missed})"),
        ("Acknowledged within 15 min", f"{format_rate(figures.acknowledged_rate)} of "
                                       f"{figures.contact_requests} contact requests"),
        ("Follow-ups answered", f"{format_rate(figures.follow_up_answer_rate)} of {figures.follow_ups_sent}"),
        ("Confirmed recovered", f"{format_rate(figures.confirmed_recovery_rate)} of "
                                f"{figures.follow_ups_answered} answers"),
        ("Reopened by the customer", str(figures.reopened_by_customer)),
    ]
