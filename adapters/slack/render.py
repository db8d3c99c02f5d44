"""Neutral cards → Slack Block Kit. Pure functions, no I/O.

Every piece of customer or feedback text goes through `escape_mrkdwn`, so a comment can never
produce a mention (`<!channel>`, `<@U…>`), a channel link or a `<url|label>` link, and every mrkdwn
text object says `"verbatim": true`, so Slack does not auto-link bare URLs, e-mail addresses or
channel names in it either. Block Kit limits (PROTOCOLS §7) are kept here: the comment and the answers
are fitted to a section (`fit_card`; the card says what it left out, the rest goes to the card's
thread), anything else is truncated with "…"; Slack itself rejects oversized blocks.

The card's secondary actions (`Card.menu`) become an overflow menu (action_id `alert.more`) when
they fit its 5-option limit, else a static_select with the same action_id and option values. Both
deliver `actions[0].selected_option.value == "<action_id>|<button.value>"`, so one handler serves
either form.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from adapters.slack.text import SECTION_MAX as SECTION_MAX  # re-exported (their home is `text`)
from adapters.slack.text import escape_mrkdwn as escape_mrkdwn
from adapters.slack.text import fit_lines, mrkdwn_object, quote
from adapters.slack.text import thread_line as thread_line
from adapters.slack.text import truncate as truncate
from bot.action_ids import ActionId
from bot.cards.model import (
    SEVERITY_EMOJI,
    Card,
    CardButton,
    DigestCard,
    DigestItem,
    answers_note,
    cut_note,
    largest_fitting,
    shown_answers,
    shown_comment,
)
from bot.domain import AlertStatus

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

def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def _mrkdwn(text: str, limit: int = SECTION_MAX) -> dict[str, Any]:
    return mrkdwn_object(text, limit)


def _block_id(card: Card, name: str) -> str:
    return truncate(f"hl.{card.alert_key}.v{card.version}.{name}", ID_MAX)


def _section(block_id: str, text: str) -> Block:
    return {"type": "section", "block_id": block_id, "text": _mrkdwn(text)}


# ---- the alert card --------------------------------------------------------------------------


def _header(card: Card) -> Block:
    text = f"{SEVERITY_EMOJI.get(card.severity, '')} {card.alert_key} · {card.title}".strip()
    return {"type": "header", "block_id": _block_id(card, "header"), "text": _plain(text, HEADER_MAX)}


def _summary(card: Card) -> Block:
    score = f"NPS {card.nps}" if card.nps is not None else "—"
    lines = [f"*Score:* {score}    *Severity:* {card.severity.value}    *Status:* {card.status.value}"]
    if card.customer_name:
        lines.append(f"*Customer:* {escape_mrkdwn(card.customer_name)}")
    lines.extend(f"*Contact:* {escape_mrkdwn(item)}" for item in card.contact)
    return _section(_block_id(card, "summary"), "\n".join(lines))


def _answers_text(card: Card) -> str:
    shown, hidden = shown_answers(card)
    lines = []
    for answer in shown:
        mark = ":warning: " if answer.is_low else ""
        lines.append(f"{mark}{escape_mrkdwn(answer.question)}: *{escape_mrkdwn(answer.value)}*")
    if hidden:
        lines.append(escape_mrkdwn(answers_note(hidden)))
    return "\n".join(lines)


def _answers(card: Card) -> Block | None:
    if not card.answers:
        return None
    return _section(_block_id(card, "answers"), fit_lines(_answers_text(card).split("\n"), SECTION_MAX))


def _comment_text(card: Card) -> str:
    shown, hidden = shown_comment(card)
    text = "*Comment*\n" + quote(shown) if shown else "*Comment*"
    return text + ("\n" + escape_mrkdwn(cut_note(hidden)) if hidden else "")


def _comment(card: Card) -> Block | None:
    if not card.comment or not card.comment.strip():
        return None
    return _section(_block_id(card, "comment"), truncate(_comment_text(card), SECTION_MAX))


def fit_card(card: Card) -> Card:
    """The card with as much of the comment and of the answers as their sections hold; what is left out
    is said on the card (`bot.cards.model.card_is_cut` tells the delivery worker to post it in the thread)."""
    comment_max = largest_fitting(
        min(card.comment_max, len(card.comment or "")),
        lambda n: len(_comment_text(replace(card, comment_max=n))) <= SECTION_MAX,
    )
    answers_max = largest_fitting(
        min(card.answers_max, len(card.answers)),
        lambda n: len(_answers_text(replace(card, answers_max=n))) <= SECTION_MAX,
    )
    return replace(card, comment_max=comment_max, answers_max=answers_max)


def _reasons(card: Card) -> Block | None:
    if not card.reasons:
        return None
    text = "*Why:* " + " · ".join(escape_mrkdwn(reason) for reason in card.reasons)
    return _section(_block_id(card, "reasons"), text)


def _fit_elements(texts: Sequence[str], limit: int = CONTEXT_ELEMENTS_MAX) -> list[str]:
    if len(texts) <= limit:
        return list(texts)
    return [*texts[: limit - 1], " · ".join(texts[limit - 1 :])]


def sla_text(card: Card) -> str | None:
    if not card.sla_text:
        return None
    text = escape_mrkdwn(card.sla_text)
    return f":rotating_light: *{text}*" if card.sla_overdue else f":stopwatch: {text}"


def _context(card: Card) -> Block | None:
    texts = [f"*{escape_mrkdwn(name)}:* {escape_mrkdwn(value)}" for name, value in card.facts]
    if sla := sla_text(card):
        texts.append(sla)
    if not texts:
        return None
    elements = [_mrkdwn(text) for text in _fit_elements(texts)]
    return {"type": "context", "block_id": _block_id(card, "facts"), "elements": elements}


def _owner(card: Card) -> Block | None:
    if not card.owner_name or card.status is AlertStatus.RESOLVED:
        return None
    text = f":bust_in_silhouette: Claimed by *{escape_mrkdwn(card.owner_name)}*"
    return {"type": "context", "block_id": _block_id(card, "owner"), "elements": [_mrkdwn(text)]}


def _resolution(card: Card) -> Block | None:
    if not card.resolution:
        return None
    text = f":white_check_mark: *Resolved* — {escape_mrkdwn(card.resolution)}"
    return _section(_block_id(card, "resolution"), text)


def button_element(button: CardButton) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": str(button.action),
        "text": _plain(button.label, BUTTON_TEXT_MAX),
        "value": button.value[:BUTTON_VALUE_MAX],
    }
    if button.style in ("primary", "danger"):
        element["style"] = button.style
    return element


def menu_value(button: CardButton) -> str:
    """The option value of a menu entry: "<action_id>|<button.value>"."""
    return f"{button.action}|{button.value}"[:OPTION_VALUE_MAX]


def _option(button: CardButton) -> dict[str, Any]:
    return {"text": _plain(button.label, OPTION_TEXT_MAX), "value": menu_value(button)}


def menu_element(menu: Sequence[CardButton]) -> dict[str, Any]:
    """Overflow when the menu fits 5 options, else a static_select (same action_id and values)."""
    options = [_option(button) for button in menu[:SELECT_OPTIONS_MAX]]
    if len(options) <= OVERFLOW_OPTIONS_MAX:
        return {"type": "overflow", "action_id": str(ActionId.MORE), "options": options}
    return {
        "type": "static_select",
        "action_id": str(ActionId.MORE),
        "placeholder": _plain("More…", 150),
        "options": options,
    }


def _actions(card: Card) -> Block | None:
    seen: set[str] = set()
    elements: list[dict[str, Any]] = []
    for button in card.buttons:
        if str(button.action) not in seen:  # action_ids must be unique within a block
            seen.add(str(button.action))
            elements.append(button_element(button))
    elements = elements[: ACTIONS_ELEMENTS_MAX - (1 if card.menu else 0)]
    if card.menu:
        elements.append(menu_element(card.menu))
    if not elements:
        return None
    return {"type": "actions", "block_id": _block_id(card, "actions"), "elements": elements}


def card_blocks(card: Card) -> list[Block]:
    card = fit_card(card)
    parts = (
        _header(card),
        _summary(card),
        _answers(card),
        _comment(card),
        _reasons(card),
        _context(card),
        _owner(card),
        _resolution(card),
        _actions(card),
    )
    return [block for block in parts if block is not None][:MAX_BLOCKS]


def fallback(text: str) -> str:
    return truncate(escape_mrkdwn(text), FALLBACK_MAX)


def card_message(card: Card) -> dict[str, Any]:
    """`chat.postMessage` / `chat.update` arguments: escaped fallback `text` plus `blocks`."""
    return {"text": fallback(card.fallback_text or card.title), "blocks": card_blocks(card)}


# ---- digests and thread lines ------------------------------------------------------------------


def _safe_link(url: str | None) -> str | None:
    if not url or not url.startswith(("https://", "http://")) or any(c in url for c in "|<> \n"):
        return None
    return url.replace("&", "&amp;")


def _digest_id(digest: DigestCard, name: str) -> str:
    """Block ids that change whenever the digest's content does (updates need new block_ids)."""
    state = repr((digest.title, digest.items, digest.figures, digest.more, digest.with_claim_buttons))
    return f"hl.digest.{hashlib.sha256(state.encode()).hexdigest()[:10]}.{name}"


def _digest_item(item: DigestItem, block_id: str, with_claim: bool) -> Block:
    key = escape_mrkdwn(item.alert_key)
    link = _safe_link(item.link)
    label = f"<{link}|{key}>" if link else f"*{key}*"
    emoji = SEVERITY_EMOJI.get(item.severity, "")
    text = f"{emoji} {label} · {item.severity.value} · {item.status.value}\n{escape_mrkdwn(item.summary)}"
    block = _section(block_id, text.strip())
    if with_claim and item.status is AlertStatus.OPEN:
        claim = CardButton(ActionId.CLAIM, "Claim", "primary", item.alert_key)
        block["accessory"] = button_element(claim)
    return block


def _digest_head(digest: DigestCard) -> list[Block]:
    title = _plain(digest.title, HEADER_MAX)
    head: list[Block] = [{"type": "header", "block_id": _digest_id(digest, "header"), "text": title}]
    if digest.figures:
        texts = [f"*{escape_mrkdwn(name)}:* {escape_mrkdwn(value)}" for name, value in digest.figures]
        elements = [_mrkdwn(text) for text in _fit_elements(texts)]
        head.append({"type": "context", "block_id": _digest_id(digest, "figures"), "elements": elements})
    return head


COMPACT_GROUP = 10  # alerts per section in a dense digest; their Claim buttons share one actions row
DIGEST_CAPACITY = (MAX_BLOCKS - 3) // 2 * COMPACT_GROUP  # header, figures, "+N more"; 2 blocks per group


def digest_fit(digest: DigestCard) -> tuple[tuple[DigestItem, ...], int]:
    """The items that fit in one message and how many are left out (incl. `digest.more`)."""
    room = MAX_BLOCKS - len(_digest_head(digest))
    items = digest.items
    if len(items) > room:  # a burst: the dense layout, ten alerts per section + one row of buttons
        items = items[: (room - 1) // 2 * COMPACT_GROUP]
    return items, digest.more + len(digest.items) - len(items)


def _compact_group(digest: DigestCard, start: int, group: tuple[DigestItem, ...]) -> list[Block]:
    lines = []
    for item in group:
        emoji = SEVERITY_EMOJI.get(item.severity, "")
        summary = truncate(escape_mrkdwn(item.summary), 200)
        lines.append(f"{emoji} *{escape_mrkdwn(item.alert_key)}* · {item.severity.value} · {summary}")
    blocks: list[Block] = [_section(_digest_id(digest, f"group.{start}"), "\n".join(lines))]
    buttons = [
        # action ids must be unique within a block: "#n" is stripped again by adapters/slack/translate
        {
            **button_element(CardButton(ActionId.CLAIM, f"Claim {item.alert_key}", None, item.alert_key)),
            "action_id": f"{ActionId.CLAIM.value}#{n}",
        }
        for n, item in enumerate(group)
        if digest.with_claim_buttons and item.status is AlertStatus.OPEN
    ]
    if buttons:
        blocks.append(
            {"type": "actions", "block_id": _digest_id(digest, f"claims.{start}"), "elements": buttons}
        )
    return blocks


def digest_blocks(digest: DigestCard) -> list[Block]:
    """Header, figures, then one section per alert (Claim button on open ones) — or, for a burst too big
    for that, ten alerts per section with a row of Claim buttons — and a "+N more" line; ≤ 50 blocks."""
    items, more = digest_fit(digest)
    blocks = _digest_head(digest)
    if len(items) + len(blocks) + (1 if more else 0) > MAX_BLOCKS:
        for start in range(0, len(items), COMPACT_GROUP):
            blocks.extend(_compact_group(digest, start, items[start : start + COMPACT_GROUP]))
    else:
        claim = digest.with_claim_buttons
        blocks.extend(
            _digest_item(item, _digest_id(digest, f"item.{i}"), claim) for i, item in enumerate(items)
        )
    if more:
        more_text = _mrkdwn(f"+{more} more")
        blocks.append({"type": "context", "block_id": _digest_id(digest, "more"), "elements": [more_text]})
    return blocks


def digest_message(digest: DigestCard) -> dict[str, Any]:
    return {"text": fallback(digest.fallback_text or digest.title), "blocks": digest_blocks(digest)}


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
