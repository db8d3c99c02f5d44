"""Small Block Kit helpers shared by the modals and the Home tab. Pure functions, no I/O.

Customer text is escaped with `render.escape_mrkdwn`; limits come from `render` (PROTOCOLS §7).
"""

from __future__ import annotations

from typing import Any

from adapters.slack.render import (
    HEADER_MAX,
    ID_MAX,
    SECTION_MAX,
    button_element,
    escape_mrkdwn,
    menu_element,
    sla_text,
    truncate,
)
from adapters.slack.text import mrkdwn_object
from bot.cards.model import SEVERITY_EMOJI, Card

Block = dict[str, Any]

VIEW_TITLE_MAX = 24
VIEW_BLOCKS_MAX = 100
PRIVATE_METADATA_MAX = 3000


def plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def mrkdwn(text: str, limit: int = SECTION_MAX) -> dict[str, Any]:
    return mrkdwn_object(text, limit)  # verbatim: Slack adds no links or mentions of its own


def section(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if block_id:
        block["block_id"] = truncate(block_id, ID_MAX)
    return block


def header(text: str, block_id: str) -> Block:
    return {"type": "header", "block_id": block_id, "text": plain(text, HEADER_MAX)}


def context(text: str, block_id: str) -> Block:
    return {"type": "context", "block_id": block_id, "elements": [mrkdwn(text)]}


def divider(block_id: str) -> Block:
    return {"type": "divider", "block_id": block_id}


def card_summary(card: Card) -> str:
    """One escaped mrkdwn paragraph: key, severity, title, owner and the SLA clock."""
    emoji = SEVERITY_EMOJI.get(card.severity, "")
    first = f"{emoji} *{escape_mrkdwn(card.alert_key)}* · {card.severity.value} · {escape_mrkdwn(card.title)}"
    lines = [first.strip()]
    status = card.status.value
    if card.owner_name:
        status += f" · claimed by {escape_mrkdwn(card.owner_name)}"
    if card.escalation_level:
        status += f" · escalation level {card.escalation_level}"
    lines.append(status)
    if clock := sla_text(card):
        lines.append(clock)
    return "\n".join(lines)


def compact_card(card: Card, prefix: str) -> list[Block]:
    """A card in two blocks (summary + its buttons and menu) for views; block_ids start with `prefix`."""
    blocks: list[Block] = [section(card_summary(card), f"{prefix}.{card.alert_key}.text")]
    elements: list[dict[str, Any]] = []
    seen: set[str] = set()
    for button in card.buttons:
        if str(button.action) not in seen:
            seen.add(str(button.action))
            elements.append(button_element(button))
    if card.menu:
        elements.append(menu_element(card.menu))
    if elements:
        block_id = truncate(f"{prefix}.{card.alert_key}.actions", ID_MAX)
        blocks.append({"type": "actions", "block_id": block_id, "elements": elements[:25]})
    return blocks
