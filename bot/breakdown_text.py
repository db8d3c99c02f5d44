"""The breakdown figures and the coaching view as plain text: `hotloop stats --by` prints it, and
`/hotloop coach` replies with the same week table (bot/breakdown.py computes the figures).

Values and comments are customer text: control characters are left out before they reach a terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.breakdown import (
    EMPLOYEE,
    Breakdown,
    Figures,
    printable,
    promoter_comments,
    promoters_newest_first,
    week_label,
)
from bot.domain import Outcome
from bot.metrics import format_rate, format_seconds
from storage.queries.breakdown import ResponseRow

OUTCOME_LABELS = {
    Outcome.RECOVERED.value: "recovered",
    Outcome.CONTACTED_NOT_RECOVERED.value: "not recovered",
    Outcome.UNREACHABLE.value: "unreachable",
    Outcome.NO_ACTION_NEEDED.value: "no action needed",
    Outcome.NOT_ACTIONABLE.value: "not actionable",
}
WEEK_HEADER = (
    f"  {'week':<9} {'resp':>4} {'alerts':>6} {'recovery':>8}  {'nps min/med/max':<15} {'D/P/P':<8} outcomes"
)


def _spread(figures: Figures) -> str:
    scores = figures.scores
    if not scores.scores:
        return "—"
    return f"{min(scores.scores)}/{scores.median:g}/{max(scores.scores)}"


def _outcomes(figures: Figures) -> str:
    order = [*OUTCOME_LABELS, *sorted(set(figures.outcomes) - set(OUTCOME_LABELS))]
    parts = [f"{figures.outcomes[o]} {OUTCOME_LABELS.get(o, o)}" for o in order if figures.outcomes[o]]
    parts += [f"{figures.undecided} open"] if figures.undecided else []
    return ", ".join(parts) or "—"


def week_line(label: str, figures: Figures) -> str:
    scores = figures.scores
    spread = f"{scores.detractors}/{scores.passives}/{scores.promoters}"
    return (
        f"  {label:<9} {figures.responses:>4} {figures.alerts.raised:>6} "
        f"{format_rate(figures.alerts.recovery_rate):>8}  {_spread(figures):<15} {spread:<8} "
        f"{_outcomes(figures)}"
    )


def week_table_lines(weeks: dict[datetime, Figures], total: Figures) -> list[str]:
    """One line per ISO week, oldest first, then the total."""
    return [
        WEEK_HEADER,
        *(week_line(week_label(start), figures) for start, figures in weeks.items()),
        week_line("total", total),
    ]


def promoter_lines(rows: Iterable[ResponseRow]) -> list[str]:
    """How many promoters (NPS 9–10) named them, and the start of the latest comments."""
    rows = list(rows)
    return [
        f"Promoters who named them: {len(promoters_newest_first(rows))}",
        *(f"  “{comment}”" for comment in promoter_comments(rows)),
    ]


def table_lines(result: Breakdown) -> list[str]:
    """A plain-text table, one line per value."""
    header = (
        f"{result.dimension:<24} {'resp':>5} {'alerts':>6} {'open':>4} {'claim':>8} {'resolve':>8} "
        f"{'breach':>6} {'recov':>6} {'nps':>5} {'med':>4} {'D/P/P':>9}"
    )
    lines = [header]
    for row in result.rows:
        figures, scores = row.alerts, row.scores
        mean = "—" if scores.mean is None else f"{scores.mean:.1f}"
        median = "—" if scores.median is None else f"{scores.median:g}"
        spread = f"{scores.detractors}/{scores.passives}/{scores.promoters}"
        lines.append(
            f"{printable(row.value)[:24]:<24} {row.responses:>5} {figures.raised:>6} {figures.open:>4} "
            f"{format_seconds(figures.median_claim):>8} {format_seconds(figures.median_resolve):>8} "
            f"{format_rate(figures.breach_rate):>6} {format_rate(figures.recovery_rate):>6} "
            f"{mean:>5} {median:>4} {spread:>9}"
        )
    return lines + _footer(result)


def weekly_lines(result: Breakdown) -> list[str]:
    """One block per value: its weeks (the coaching view's table) and, per person, the promoters who
    named them."""
    lines: list[str] = []
    for row in result.rows:
        lines += ["", printable(row.value), *week_table_lines(row.weeks, row)]
        if result.dimension == EMPLOYEE:
            lines += ["  " + line for line in promoter_lines(row.rows)]
    return lines + _footer(result)


def _footer(result: Breakdown) -> list[str]:
    lines = [] if result.rows else ["(no responses in this window)"]
    if result.without_value:
        lines.append(f"{result.without_value} response(s) had no {result.dimension}")
    return lines
