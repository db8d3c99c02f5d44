"""Which charts the figures page shows, built from `Figures`: the overall charts by week, one small chart
per team (small multiples), and the busiest locations and employees over the whole window."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.metrics import format_rate, format_seconds
from bot.web.charts import Chart, Values, bar_chart, count, line_chart, percent
from bot.web.figures import Figures, FigureSeries, Spread, WeekFigures


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    previous: str  # last week's, for comparison


@dataclass(frozen=True)
class ChartSection:
    heading: str
    charts: tuple[Chart, ...]
    small: bool = False


def _hours(value: float) -> str:
    return format_seconds(value)


def _spread(weeks: Sequence[WeekFigures], pick: str) -> list[tuple[str, Values]]:
    spreads: list[Spread] = [getattr(w, pick) for w in weeks]
    return [("median", [s.median for s in spreads]), ("p90", [s.p90 for s in spreads])]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:40] or "x"


def tiles(series: FigureSeries) -> tuple[Tile, ...]:
    """This week against last week: the figures a manager looks at first."""
    if not series.weeks:
        return ()
    now, before = series.weeks[-1], (series.weeks[-2] if len(series.weeks) > 1 else None)

    def both(read: str) -> tuple[str, str]:
        def show(week: WeekFigures | None) -> str:
            if week is None:
                return "—"
            if read.endswith("_rate"):
                return format_rate(getattr(week, read))
            if read == "alerts":
                return str(week.alerts)
            return format_seconds(getattr(week, read).median)

        return show(now), show(before)

    return tuple(Tile(label, *both(read)) for label, read in (
        ("Alerts", "alerts"), ("Response rate", "response_rate"), ("Median first contact", "first_contact"),
        ("Median time to claim", "claim"), ("Breach rate", "breach_rate"),
        ("Confirmed recovery", "confirmed_recovery_rate"),
    ))


def overall_charts(series: FigureSeries, labels: Sequence[str]) -> ChartSection:
    weeks = series.weeks
    counts: list[tuple[str, Values]] = [("alerts raised", [float(w.alerts) for w in weeks])]
    if weeks and weeks[0].responses_received is not None:
        counts.insert(0, ("responses received", [float(w.responses_received or 0) for w in weeks]))
    rates: list[tuple[str, Values]] = [
        ("response rate", [w.response_rate for w in weeks]),
        ("breach rate", [w.breach_rate for w in weeks]),
        ("confirmed recovery", [w.confirmed_recovery_rate for w in weeks]),
    ]
    systemic: list[tuple[str, Values]] = [("systemic issues", [float(w.systemic) for w in weeks])]
    return ChartSection(heading=f"{series.name}: by week", charts=(
        bar_chart(chart_id="volume", title="Responses and alerts by week", labels=labels, series=counts),
        bar_chart(chart_id="rates", title="Response, breach and confirmed recovery rates by week",
                  labels=labels, series=rates, fmt=percent, rates=True),
        line_chart(chart_id="first-contact", title="Time to first contact by week", labels=labels,
                   series=_spread(weeks, "first_contact"), fmt=_hours),
        line_chart(chart_id="claim", title="Time to claim by week", labels=labels,
                   series=_spread(weeks, "claim"), fmt=_hours),
        line_chart(chart_id="resolve", title="Time to resolve by week", labels=labels,
                   series=_spread(weeks, "resolve"), fmt=_hours),
        bar_chart(chart_id="systemic", title="Systemic issues opened by week", labels=labels,
                  series=systemic),
    ))


def team_charts(teams: Sequence[FigureSeries], labels: Sequence[str]) -> ChartSection:
    """Small multiples: each team's response rate and its time to first contact, on the same scales."""
    charts: list[Chart] = []
    for team in teams:
        slug = _slug(team.name)
        charts.append(line_chart(chart_id=f"team-{slug}-contact", title=f"{team.name}: time to first contact",
                                 labels=labels, series=_spread(team.weeks, "first_contact"), fmt=_hours,
                                 small=True))
        charts.append(bar_chart(chart_id=f"team-{slug}-rate", title=f"{team.name}: response rate",
                                labels=labels,
                                series=[("response rate", [w.response_rate for w in team.weeks])],
                                fmt=percent, rates=True, small=True))
    return ChartSection(heading="By team", charts=tuple(charts), small=True)


def group_charts(heading: str, dimension: str, groups: Sequence[FigureSeries]) -> ChartSection | None:
    """The busiest locations (or employees) over the whole window: rates side by side, then times."""
    if not groups:
        return None
    totals = [g.total for g in groups if g.total is not None]
    names = [g.name for g in groups if g.total is not None]
    rates: list[tuple[str, Values]] = [("response rate", [t.response_rate for t in totals]),
                                       ("breach rate", [t.breach_rate for t in totals]),
                                       ("confirmed recovery", [t.confirmed_recovery_rate for t in totals])]
    times: list[tuple[str, Values]] = [("median", [t.first_contact.median for t in totals]),
                                       ("p90", [t.first_contact.p90 for t in totals])]
    volume: list[tuple[str, Values]] = [("alerts", [float(t.alerts) for t in totals])]
    return ChartSection(heading=heading, charts=(
        bar_chart(chart_id=f"{dimension}-rates", title=f"{heading}: rates", labels=names, series=rates,
                  fmt=percent, rates=True),
        bar_chart(chart_id=f"{dimension}-contact", title=f"{heading}: time to first contact", labels=names,
                  series=times, fmt=_hours),
        bar_chart(chart_id=f"{dimension}-alerts", title=f"{heading}: alerts", labels=names, series=volume,
                  fmt=count),
    ))


def page_sections(figures: Figures, *, focus: FigureSeries) -> list[ChartSection]:
    labels = figures.week_labels
    sections = [overall_charts(focus, labels)]
    if len(figures.teams) > 1:
        sections.append(team_charts(figures.teams, labels))
    window = f"last {len(labels)} weeks"
    for section in (group_charts(f"Busiest locations ({window})", "location", figures.locations),
                    group_charts(f"Busiest employees ({window})", "employee", figures.employees)):
        if section is not None:
            sections.append(section)
    return sections
