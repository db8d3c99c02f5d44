"""Block Kit building blocks shared by the card, digest, modal and Home renderers. Pure functions.

The limits are Block Kit's (PROTOCOLS §7); every mrkdwn object is verbatim (`text.mrkdwn_object`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from adapters.slack.text import SECTION_MAX, mrkdwn_object, truncate
from bot.action_ids import ActionId
from bot.cards.model import CardButton

Block = dict[str, Any]

MAX_BLOCKS = 50
HEADER_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
ID_MAX = 255
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
OVERFLOW_OPTIONS_MAX = 5
SELECT_OPTIONS_MAX = 100
FALLBACK_MAX = 3000


def plain_text(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def mrkdwn(text: str, limit: int = SECTION_MAX) -> dict[str, Any]:
    return mrkdwn_object(text, limit)


def section_block(block_id: str, text: str) -> Block:
    return {"type": "section", "block_id": block_id, "text": mrkdwn(text)}


def fit_elements(texts: Sequence[str], limit: int = CONTEXT_ELEMENTS_MAX) -> list[str]:
    """At most `limit` texts: the last one joins whatever does not fit."""
    if len(texts) <= limit:
        return list(texts)
    return [*texts[: limit - 1], " · ".join(texts[limit - 1 :])]


def button_element(button: CardButton) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": str(button.action),
        "text": plain_text(button.label, BUTTON_TEXT_MAX),
        "value": button.value[:BUTTON_VALUE_MAX],
    }
    if button.style in ("primary", "danger"):
        element["style"] = button.style
    return element


def menu_value(button: CardButton) -> str:
    """The option value of a menu entry: "<action_id>|<button.value>"."""
    return f"{button.action}|{button.value}"[:OPTION_VALUE_MAX]


def _option(button: CardButton) -> dict[str, Any]:
    return {"text": plain_text(button.label, OPTION_TEXT_MAX), "value": menu_value(button)}


def menu_element(menu: Sequence[CardButton]) -> dict[str, Any]:
    """Overflow when the menu fits 5 options, else a static_select (same action_id and values)."""
    options = [_option(button) for button in menu[:SELECT_OPTIONS_MAX]]
    if len(options) <= OVERFLOW_OPTIONS_MAX:
        return {"type": "overflow", "action_id": str(ActionId.MORE), "options": options}
    return {
        "type": "static_select",
        "action_id": str(ActionId.MORE),
        "placeholder": plain_text("More…", 150),
        "options": options,
    }


def action_elements(buttons: Sequence[CardButton], menu: Sequence[CardButton]) -> list[dict[str, Any]]:
    """The buttons (each action once: action_ids are unique within a block), then the menu."""
    seen: set[str] = set()
    elements: list[dict[str, Any]] = []
    for button in buttons:
        if str(button.action) not in seen:
            seen.add(str(button.action))
            elements.append(button_element(button))
    elements = elements[: ACTIONS_ELEMENTS_MAX - (1 if menu else 0)]
    if menu:
        elements.append(menu_element(menu))
    return elements


def safe_image_url(url: str | None) -> str | None:
    """An image block's URL, or None for what Slack would refuse (not http(s), too long, unsafe chars)."""
    if not url or not url.startswith(("https://", "http://")) or len(url) > 3000:
        return None
    if any(c in url for c in "<> \n\""):
        return None
    return url


def action_ids(blocks: Iterable[Block]) -> set[str]:
    """Every action id a message can send: element action_ids and menu option prefixes."""
    found: set[str] = set()
    for block in blocks:
        elements = list(block.get("elements", []))
        if "accessory" in block:
            elements.append(block["accessory"])
        for element in elements:
            if "action_id" in element:  # "alert.claim#3" in a dense digest is alert.claim
                found.add(element["action_id"].split("#", 1)[0])
            found.update(option["value"].split("|", 1)[0] for option in element.get("options", []))
    return found
