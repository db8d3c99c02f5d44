"""An alert's state as a card shows it: the state, its words and marker, and the buttons it offers.

The buttons per state follow notes/card_spec.md: nobody is shown a button whose guard
(bot/actions/table.py) refuses everyone in that state, and the owner none that refuses them
(tests/bot/cards/test_card_states.py runs every visible button's guard).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.action_ids import ActionId
from bot.domain import AlertStatus, Outcome
from storage.models import Alert

OUTCOME_LABELS = {
    Outcome.RECOVERED: "Recovered",
    Outcome.CONTACTED_NOT_RECOVERED: "Contacted, not recovered",
    Outcome.UNREACHABLE: "Unreachable",
    Outcome.NO_ACTION_NEEDED: "No action needed",
    Outcome.NOT_ACTIONABLE: "Not actionable",
}
SNOOZE_CHOICES = (("30m", "30 min"), ("1h", "1 hour"), ("4h", "4 hours"), ("tomorrow", "Tomorrow 9:00"))


class CardState(StrEnum):
    """What a reader must see first: is anyone on it? ESCALATED = escalated and neither snoozed nor
    resolved (claimed or not)."""

    OPEN = "open"
    CLAIMED = "claimed"
    SNOOZED = "snoozed"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


STATE_EMOJI = {  # severity-free: a channel of cards scans for what is unhandled
    CardState.OPEN: "🔴",
    CardState.CLAIMED: "🔵",
    CardState.SNOOZED: "💤",
    CardState.ESCALATED: "🟠",
    CardState.RESOLVED: "🟢",
}


@dataclass(frozen=True)
class CardButton:
    action: ActionId
    label: str
    style: str | None = None  # "primary" | "danger" | None
    value: str = ""  # the alert key, or "<key>|<option>" for menu options


def card_state(alert: Alert) -> CardState:
    status = AlertStatus(alert.status)
    if status in (AlertStatus.SNOOZED, AlertStatus.RESOLVED):
        return CardState(status.value)
    if alert.escalation_level > 0:
        return CardState.ESCALATED
    return CardState.CLAIMED if status is AlertStatus.CLAIMED else CardState.OPEN


def state_text(alert: Alert, state: CardState, *, now: datetime | None = None) -> str:
    """The state in words, plain and neutral: "Open · unclaimed", "Escalated to level 2 · claimed by
    Ann Lee", "Snoozed until 14:00 UTC (waiting for callback)", "Resolved · Recovered · by Ann Lee"."""
    owner = alert.owner_name or alert.owner_id
    if state is CardState.RESOLVED:
        return " · ".join(["Resolved", *(_outcome_parts(alert))])
    if state is CardState.SNOOZED:
        until = f" until {_clock_at(alert.snoozed_until, now)}" if alert.snoozed_until else ""
        why = f" ({alert.snooze_reason})" if alert.snooze_reason else ""
        return f"Snoozed{until}{why}"
    claimed = alert.status == AlertStatus.CLAIMED
    if state is CardState.ESCALATED:
        who = f"claimed by {owner}" if owner else "claimed" if claimed else "unclaimed"
        return f"Escalated to level {alert.escalation_level} · {who}"
    if state is CardState.CLAIMED:
        return f"Claimed by {owner}" if owner else "Claimed"
    return "Open · unclaimed"


def _clock_at(when: datetime, now: datetime | None) -> str:
    """"14:00 UTC" today, "Tue 03 Jun 09:00 UTC" another day."""
    same_day = now is not None and when.date() == now.date()
    return f"{when:%H:%M} UTC" if same_day else f"{when:%a %d %b %H:%M} UTC"


def _outcome_parts(alert: Alert) -> list[str]:
    parts = [OUTCOME_LABELS.get(Outcome(alert.outcome), alert.outcome)] if alert.outcome else []
    return [*parts, f"by {alert.resolved_by}"] if alert.resolved_by else parts


def _snoozes(key: str) -> tuple[CardButton, ...]:
    return tuple(
        CardButton(ActionId.SNOOZE, f"Snooze {label}", None, f"{key}|{code}")
        for code, label in SNOOZE_CHOICES
    )


def _contacts(key: str, can_email: bool) -> tuple[CardButton, ...]:
    """Reply (only to a customer who left an e-mail address) and Log a call: early in the menu."""
    reply = (CardButton(ActionId.REPLY, "Reply", None, key),) if can_email else ()
    return (*reply, CardButton(ActionId.LOG_CALL, "Log a call", None, key))


def card_buttons(
    alert: Alert, state: CardState, *, can_email: bool = False
) -> tuple[tuple[CardButton, ...], tuple[CardButton, ...]]:
    """The visible buttons in priority order and the menu, per state (card_spec.md): nobody is shown a
    button whose guard (bot/actions/table.py) refuses everyone, and the owner none that refuses them.
    `can_email`: the customer left an e-mail address (Reply is offered)."""
    key = alert.key or ""
    details = CardButton(ActionId.DETAILS, "Details", None, key)
    note = CardButton(ActionId.NOTE, "Add note", None, key)
    reassign = CardButton(ActionId.REASSIGN, "Reassign", None, key)
    escalate = CardButton(ActionId.ESCALATE, "Escalate", "danger", key)
    if state is CardState.RESOLVED:
        return (CardButton(ActionId.REOPEN, "Reopen", None, key), details), ()
    if state is CardState.SNOOZED:
        wake = CardButton(ActionId.WAKE, "Wake now", "primary", key)
        return (wake, note, details), (CardButton(ActionId.RESOLVE, "Resolve", None, key), reassign)
    if alert.owner_id or alert.status == AlertStatus.CLAIMED:  # claimed, or escalated with an owner
        resolve = CardButton(ActionId.RESOLVE, "Resolve", "primary", key)
        unclaim = CardButton(ActionId.UNCLAIM, "Unclaim", None, key)
        contacts = _contacts(key, can_email)
        return (resolve, escalate, note, details), (*contacts, unclaim, *_snoozes(key), reassign)
    claim = CardButton(ActionId.CLAIM, "Claim", "primary", key)
    resolve = CardButton(ActionId.RESOLVE, "Resolve", None, key)
    not_actionable = CardButton(ActionId.NOT_ACTIONABLE, "Not actionable", None, key)
    menu = (note, *_contacts(key, can_email), *_snoozes(key), reassign, not_actionable)
    return (claim, escalate, resolve, details), menu
