"""What a card says about an alert besides the customer's words: its title, facts and resolution.

Moved out of `bot.cards.model` (which re-exports `humanize_delta`); customer-given values pass through
`inert` here, as the rest of the card's text does in `build_card`.
"""

from __future__ import annotations

import re

from bot.cards.states import OUTCOME_LABELS
from bot.domain import AlertStatus, Outcome
from storage.models import Alert, Feedback, Team

FACT_VALUE_MAX = 200
SERVED_BY = "Served by"  # the frontline employee (Feedback.attributes["employee"]), near the top facts
# bidirectional embeddings/overrides/isolates and marks, the Arabic letter mark, zero-width characters
_INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b-\u200d\u2060\ufeff]")


def inert(text: str) -> str:
    """Customer text without the invisible characters that can reorder or hide what a reader sees."""
    return _INVISIBLE.sub("", text)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def card_title(feedback: Feedback) -> str:
    if feedback.nps is not None:
        group = "Detractor" if feedback.nps <= 6 else "Passive" if feedback.nps <= 8 else "Promoter"
        title = f"{group} · NPS {feedback.nps}"
    else:
        title = "Feedback"
    if feedback.contact_requested:
        title += " · asks to be contacted"
    return title


def masked(address: str | None) -> str | None:
    """`dana@example.com` → `d•••@example.com`, as bot/mail/address.py `masked` (cards may not import
    bot.mail: it imports the cards); None when it is no address at all."""
    local, _, domain = (address or "").strip().partition("@")
    return f"{local[:1]}•••@{domain}" if local and "." in domain else None


def served_by(feedback: Feedback) -> str | None:
    """The frontline employee who served the customer, as the source's mapping named them."""
    name = inert(str(feedback.attributes.get("employee") or "")).strip()
    return cut(name, FACT_VALUE_MAX) if name else None


def _contact_facts(alert: Alert, feedback: Feedback, audience: str) -> list[tuple[str, str]]:
    """"Acknowledged: to d•••@example.com · 10:12 UTC" (the masked address for the team only) and
    "First contact: 12 min after arrival", once known."""
    facts: list[tuple[str, str]] = []
    shown = masked(feedback.customer_email)
    if alert.acknowledged_at is not None:
        to = f"to {shown} · " if shown and audience == "team" else ""
        facts.append(("Acknowledged", f"{to}{alert.acknowledged_at:%H:%M} UTC"))
    if alert.first_contact_at is not None:
        after = (alert.first_contact_at - feedback.received_at).total_seconds()
        facts.append(("First contact", f"{humanize_delta(max(0.0, after))} after arrival"))
    return facts


def card_facts(alert: Alert, feedback: Feedback, team: Team, source_name: str,
               audience: str = "team") -> tuple[tuple[str, str], ...]:
    """"Served by" first (every audience: it names staff, not the customer), then the source, contact
    facts, attributes, received, team, escalation. Level 1 keeps the first four."""
    employee = served_by(feedback)
    facts: list[tuple[str, str]] = [(SERVED_BY, employee)] if employee else []
    facts += [("Source", source_name), *_contact_facts(alert, feedback, audience)]
    for name in ("location", "region", "product", "channel"):
        if value := inert(str(feedback.attributes.get(name) or "")):
            facts.append((name.capitalize(), cut(value, FACT_VALUE_MAX)))
    facts.append(("Received", f"{feedback.received_at:%Y-%m-%d %H:%M} UTC"))
    team_text = team.name + (" (default route)" if alert.routed_by_default else "")
    facts.append(("Team", team_text))
    if alert.escalation_level:
        facts.append(("Escalation", f"level {alert.escalation_level}"))
    return tuple(facts)


def resolution_text(alert: Alert) -> str | None:
    if alert.status != AlertStatus.RESOLVED or alert.outcome is None:
        return None
    label = OUTCOME_LABELS.get(Outcome(alert.outcome), alert.outcome)
    parts = [label]
    if alert.root_cause:
        parts.append(f"root cause: {alert.root_cause}")
    if alert.resolved_by:
        parts.append(f"by {alert.resolved_by}")
    return " · ".join(parts)
