"""A card as plain text, for the terminal (`hotloop demo`, `hotloop alerts show`): the card face's order
(state → customer · due → comment → low answers → why → facts), then every answer and the buttons."""

from __future__ import annotations

from bot.cards.model import STATE_EMOJI, Card, low_answers


def _lead(card: Card) -> list[str]:
    lines = []
    who = " · ".join(x for x in (card.customer_name, *card.contact) if x)
    due = f"‼ {card.sla_text}" if card.sla_overdue else card.sla_text
    if who or due:
        lines.append("   " + " · ".join(x for x in (who, due) if x))
    lines.append(f"   {card.severity.value.upper()} · {card.title}")
    if card.resolution:
        lines.append(f"   resolution: {card.resolution}")
    return lines


def card_text(card: Card) -> str:
    state = card.state_text or card.status.value
    lines = [f"{STATE_EMOJI.get(card.state, '')} {card.alert_key} · {state}".strip(), *_lead(card)]
    if card.comment:
        more = len(card.comment) - 300
        lines.append(f'   “{card.comment[:300]}”' + (f" …(+{more:,} characters)" if more > 0 else ""))
    low = low_answers(card)
    lines.extend(f"   ⚠ {answer.question}: {answer.value}" for answer in low)
    if rest := len(card.answers) - len(low):
        lines.append(f"   ({rest} more answer{'s' if rest != 1 else ''}: see below)")
    if card.reasons:
        lines.append("   why: " + "; ".join(card.reasons))
    lines.append("   " + " · ".join(f"{k}: {v}" for k, v in card.facts))
    others = [a for a in card.answers if not a.is_low]
    if others:
        lines.append("   all answers: " + "; ".join(f"{a.question}: {a.value}" for a in card.answers))
    lines.append("   buttons: " + " | ".join(b.label for b in (*card.buttons, *card.menu)))
    return "\n".join(lines)
