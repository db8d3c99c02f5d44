"""A card as plain text, for the terminal (`hotloop demo`, `hotloop alerts show`)."""

from __future__ import annotations

from bot.cards.model import SEVERITY_EMOJI, Card


def card_text(card: Card) -> str:
    lines = [
        f"{SEVERITY_EMOJI[card.severity]} {card.alert_key} · {card.severity.value.upper()} · {card.title}"
    ]
    status = card.status.value + (f" by {card.owner_name}" if card.owner_name else "")
    lines.append(f"   status: {status}" + (f" · {card.sla_text}" if card.sla_text else ""))
    if card.customer_name or card.contact:
        lines.append("   customer: " + " · ".join(x for x in (card.customer_name, *card.contact) if x))
    for answer in card.answers:
        flag = "  ⚠" if answer.is_low else ""
        lines.append(f"   {answer.question}: {answer.value}{flag}")
    if card.comment:
        lines.append(f'   “{card.comment[:300]}”')
    if card.reasons:
        lines.append("   why: " + "; ".join(card.reasons))
    lines.append("   " + " · ".join(f"{k}: {v}" for k, v in card.facts))
    if card.resolution:
        lines.append(f"   resolution: {card.resolution}")
    lines.append("   buttons: " + " | ".join(b.label for b in (*card.buttons, *card.menu)))
    return "\n".join(lines)
