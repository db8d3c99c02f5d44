"""The neutral card: every fact and button an alert card shows, built from the alert's current state.

Renderers (`adapters/slack/render.py`, `adapters/teams/render.py`) turn a `Card` into Block Kit or an
Adaptive Card. Customer text stays raw here; escaping is the renderer's job, for its own markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.action_ids import ActionId
from bot.domain import AlertStatus, Answer, Outcome, Severity
from storage.models import Alert, Feedback, Team

SEVERITY_EMOJI = {"critical": "🔴", "high": "🟠", "normal": "🟡", "low": "⚪"}
OUTCOME_LABELS = {
    Outcome.RECOVERED: "Recovered",
    Outcome.CONTACTED_NOT_RECOVERED: "Contacted, not recovered",
    Outcome.UNREACHABLE: "Unreachable",
    Outcome.NO_ACTION_NEEDED: "No action needed",
    Outcome.NOT_ACTIONABLE: "Not actionable",
}
ROOT_CAUSES = ("product", "service", "staff", "delivery", "billing", "wait time", "facilities", "other")
SNOOZE_CHOICES = (("30m", "30 min"), ("1h", "1 hour"), ("4h", "4 hours"), ("tomorrow", "Tomorrow 9:00"))


@dataclass(frozen=True)
class CardButton:
    action: ActionId
    label: str
    style: str | None = None  # "primary" | "danger" | None
    value: str = ""  # the alert key, or "<key>|<option>" for menu options


@dataclass(frozen=True)
class AnswerLine:
    question: str
    value: str
    is_low: bool


@dataclass(frozen=True)
class Card:
    alert_key: str
    severity: Severity
    status: AlertStatus
    title: str
    audience: str  # "team" shows customer contact details; "managers" and "digest" do not
    customer_name: str | None
    contact: tuple[str, ...]
    nps: int | None
    answers: tuple[AnswerLine, ...]
    comment: str | None
    reasons: tuple[str, ...]
    facts: tuple[tuple[str, str], ...]
    sla_text: str | None
    sla_overdue: bool
    owner_name: str | None
    escalation_level: int
    resolution: str | None
    buttons: tuple[CardButton, ...]
    menu: tuple[CardButton, ...]
    fallback_text: str
    version: int = 1


@dataclass(frozen=True)
class DigestItem:
    alert_key: str
    severity: Severity
    summary: str
    status: AlertStatus
    link: str | None = None


@dataclass(frozen=True)
class DigestCard:
    title: str
    items: tuple[DigestItem, ...]
    figures: tuple[tuple[str, str], ...] = ()
    with_claim_buttons: bool = True
    more: int = 0  # items left out to stay within platform limits
    fallback_text: str = ""
    meta: dict[str, str] = field(default_factory=dict)


def humanize_delta(seconds: float) -> str:
    seconds = abs(int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min" if minutes % 60 else f"{hours} h"
    return f"{hours // 24} d"


def sla_line(alert: Alert, *, now: datetime) -> tuple[str | None, bool]:
    """"Claim due in 42 min" / "Resolve overdue 10 min" — the clock that matters now."""
    status = AlertStatus(alert.status)
    if status is AlertStatus.RESOLVED:
        return None, False
    if status is AlertStatus.SNOOZED and alert.snoozed_until is not None:
        why = f" ({alert.snooze_reason})" if alert.snooze_reason else ""
        return f"Snoozed until {alert.snoozed_until:%Y-%m-%d %H:%M} UTC{why}", False
    due, label = (
        (alert.claim_due_at, "Claim") if status is AlertStatus.OPEN else (alert.resolve_due_at, "Resolve")
    )
    if due is None:
        return None, False
    delta = (due - now).total_seconds()
    if delta >= 0:
        return f"{label} due in {humanize_delta(delta)}", False
    return f"{label} overdue {humanize_delta(delta)}", True


def _answer_line(raw: dict[str, object]) -> AnswerLine:
    answer = Answer.model_validate(raw)
    position = answer.position
    is_low = position is not None and position <= 0.2
    value = "—" if answer.value is None else str(answer.value)
    if answer.value is not None and answer.is_scaled:
        value = f"{answer.numeric:g} / {answer.scale_max:g}"
    return AnswerLine(question=answer.question, value=value, is_low=is_low)


def _title(feedback: Feedback) -> str:
    if feedback.nps is not None:
        group = "Detractor" if feedback.nps <= 6 else "Passive" if feedback.nps <= 8 else "Promoter"
        title = f"{group} · NPS {feedback.nps}"
    else:
        title = "Feedback"
    if feedback.contact_requested:
        title += " · asks to be contacted"
    return title


def _buttons(alert: Alert) -> tuple[tuple[CardButton, ...], tuple[CardButton, ...]]:
    key = alert.key or ""
    status = AlertStatus(alert.status)
    if status is AlertStatus.RESOLVED:
        return (CardButton(ActionId.REOPEN, "Reopen", None, key),), ()
    note = CardButton(ActionId.NOTE, "Add note", None, key)
    if status is AlertStatus.CLAIMED:
        return (
            CardButton(ActionId.RESOLVE, "Resolve", "primary", key),
            CardButton(ActionId.ESCALATE, "Escalate", "danger", key),
            CardButton(ActionId.UNCLAIM, "Unclaim", None, key),
            note,
        ), ()
    menu = (
        note,
        *(
            CardButton(ActionId.SNOOZE, f"Snooze {label}", None, f"{key}|{code}")
            for code, label in SNOOZE_CHOICES
        ),
        CardButton(ActionId.REASSIGN, "Reassign", None, key),
        CardButton(ActionId.NOT_ACTIONABLE, "Not actionable", None, key),
    )
    return (
        CardButton(ActionId.CLAIM, "Claim", "primary", key),
        CardButton(ActionId.ESCALATE, "Escalate", "danger", key),
        CardButton(ActionId.RESOLVE, "Resolve", None, key),
    ), menu


def _facts(alert: Alert, feedback: Feedback, team: Team, source_name: str) -> tuple[tuple[str, str], ...]:
    facts: list[tuple[str, str]] = [("Source", source_name)]
    for name in ("location", "region", "employee", "product", "channel"):
        if value := feedback.attributes.get(name):
            facts.append((name.capitalize(), value))
    facts.append(("Received", f"{feedback.received_at:%Y-%m-%d %H:%M} UTC"))
    team_text = team.name + (" (default route)" if alert.routed_by_default else "")
    facts.append(("Team", team_text))
    if alert.escalation_level:
        facts.append(("Escalation", f"level {alert.escalation_level}"))
    return tuple(facts)


def _resolution(alert: Alert) -> str | None:
    if alert.status != AlertStatus.RESOLVED or alert.outcome is None:
        return None
    label = OUTCOME_LABELS.get(Outcome(alert.outcome), alert.outcome)
    parts = [label]
    if alert.root_cause:
        parts.append(f"root cause: {alert.root_cause}")
    if alert.resolved_by:
        parts.append(f"by {alert.resolved_by}")
    return " · ".join(parts)


def build_card(
    alert: Alert, feedback: Feedback, team: Team, *, source_name: str, now: datetime, audience: str = "team"
) -> Card:
    """The card for `alert` as it is now. `audience="team"` (the routed channel) shows contact details."""
    severity = Severity(alert.severity)
    status = AlertStatus(alert.status)
    contact = (
        tuple(c for c in (feedback.customer_email, feedback.customer_phone) if c)
        if audience == "team"
        else ()
    )
    sla_text, overdue = sla_line(alert, now=now)
    buttons, menu = _buttons(alert)
    title = _title(feedback)
    key = alert.key or "HA-?"
    fallback = f"{SEVERITY_EMOJI[severity]} {key} {severity.value} hot alert: {title} ({status.value})"
    return Card(
        alert_key=key,
        severity=severity,
        status=status,
        title=title,
        audience=audience,
        customer_name=feedback.customer_name,
        contact=contact,
        nps=feedback.nps,
        answers=tuple(_answer_line(a) for a in feedback.answers),
        comment=feedback.comment,
        reasons=tuple(alert.reasons),
        facts=_facts(alert, feedback, team, source_name),
        sla_text=sla_text,
        sla_overdue=overdue,
        owner_name=alert.owner_name,
        escalation_level=alert.escalation_level,
        resolution=_resolution(alert),
        buttons=buttons,
        menu=menu,
        fallback_text=fallback,
        version=alert.version,
    )
