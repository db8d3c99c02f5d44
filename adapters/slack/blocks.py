"""Small Block Kit helpers shared by the modals and the Home tab. Pure functions, no I/O.

Customer text is escaped with `render.escape_mrkdwn`; limits come from `render` (PROTOCOLS §7).
"""

from __future__ import annotations

from typing import Any

from adapters.slack.elements import action_elements
from adapters.slack.render import HEADER_MAX, ID_MAX, SECTION_MAX, escape_mrkdwn, sla_text, truncate
from adapters.slack.text import mrkdwn_object
from bot.cards.model import STATE_EMOJI, Card

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
    """One escaped mrkdwn paragraph: state marker, key and state, customer, severity and title, the clock."""
    state = escape_mrkdwn(card.state_text or card.status.value)
    lines = [f"{STATE_EMOJI.get(card.state, '')} *{escape_mrkdwn(card.alert_key)}* · {state}".strip()]
    who = f"*{escape_mrkdwn(card.customer_name)}* · " if card.customer_name else ""
    lines.append(f"{who}{card.severity.value} · {escape_mrkdwn(card.title)}")
    if clock := sla_text(card):
        lines.append(clock)
    return "\n".join(lines)


def compact_card(card: Card, prefix: str) -> list[Block]:
    """A card in two blocks (summary + its buttons and menu) for views; block_ids start with `prefix`."""
    blocks: list[Block] = [section(card_summary(card), f"{prefix}.{card.alert_key}.text")]
    if elements := action_elements(card.buttons, card.menu):
        block_id = truncate(f"{prefix}.{card.alert_key}.actions", ID_MAX)
        blocks.append({"type": "actions", "block_id": block_id, "elements": elements})
    return blocks
