"""Neutral cards → Slack Block Kit. Pure functions, no I/O.

Every piece of customer or feedback text goes through `escape_mrkdwn`, so a comment can never
produce a mention (`<!channel>`, `<@U…>`), a channel link or a `<url|label>` link, and every mrkdwn
text object says `"verbatim": true`, so Slack does not auto-link bare URLs, e-mail addresses or
channel names in it either. Block Kit limits (PROTOCOLS §7) are kept here: the comment and the answers
are fitted to a section (`fit_card`; the card says what it left out, Details shows it and the rest
goes to the card's thread), anything else is truncated with "…"; Slack itself rejects oversized blocks.

Layout (notes/card_spec.md): a header with the state marker, key and state ("🔴 HA-12 · Open ·
unclaimed"; blocks have no colour bar, and legacy attachments, which do, are collapsed by Slack behind
"Show more" after a few blocks, so the state is an emoji in the header instead) → customer · due time
(bold, :rotating_light: when overdue) · owner (`<@U…>` for a Slack user) → the comment → the low answers
only (the rest behind the Details button, adapters/slack/modals.py `details_view`) → why → facts
(context, last) → actions.

The card's secondary actions (`Card.menu`) become an overflow menu (action_id `alert.more`) when
they fit its 5-option limit, else a static_select with the same action_id and option values. Both
deliver `actions[0].selected_option.value == "<action_id>|<button.value>"`, so one handler serves
either form.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import replace
from typing import Any

from adapters.slack.elements import ACTIONS_ELEMENTS_MAX as ACTIONS_ELEMENTS_MAX
from adapters.slack.elements import BUTTON_TEXT_MAX as BUTTON_TEXT_MAX
from adapters.slack.elements import BUTTON_VALUE_MAX as BUTTON_VALUE_MAX
from adapters.slack.elements import CONTEXT_ELEMENTS_MAX as CONTEXT_ELEMENTS_MAX
from adapters.slack.elements import FALLBACK_MAX as FALLBACK_MAX
from adapters.slack.elements import HEADER_MAX as HEADER_MAX
from adapters.slack.elements import ID_MAX as ID_MAX
from adapters.slack.elements import MAX_BLOCKS as MAX_BLOCKS
from adapters.slack.elements import OPTION_TEXT_MAX as OPTION_TEXT_MAX
from adapters.slack.elements import OPTION_VALUE_MAX as OPTION_VALUE_MAX
from adapters.slack.elements import OVERFLOW_OPTIONS_MAX as OVERFLOW_OPTIONS_MAX
from adapters.slack.elements import SELECT_OPTIONS_MAX as SELECT_OPTIONS_MAX
from adapters.slack.elements import Block as Block
from adapters.slack.elements import (
    action_elements,
    fit_elements,
    mrkdwn,
    plain_text,
    safe_image_url,
    section_block,
)
from adapters.slack.elements import action_ids as action_ids
from adapters.slack.elements import button_element as button_element
from adapters.slack.elements import menu_element as menu_element
from adapters.slack.elements import menu_value as menu_value
from adapters.slack.render_systemic import children_texts, part_of_line, summary_text
from adapters.slack.render_systemic import safe_link as _safe_link
from adapters.slack.text import SECTION_MAX as SECTION_MAX  # re-exported (their home is `text`)
from adapters.slack.text import escape_mrkdwn as escape_mrkdwn
from adapters.slack.text import fit_lines, quote
from adapters.slack.text import thread_line as thread_line
from adapters.slack.text import truncate as truncate
from bot.action_ids import ActionId
from bot.cards.model import (
    SEVERITY_EMOJI,
    STATE_EMOJI,
    Card,
    CardButton,
    CardState,
    DigestCard,
    DigestItem,
    largest_fitting,
    shown_answers,
    shown_comment,
)
from bot.domain import AlertStatus

SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
DIGEST_NAME_MAX = 60  # customer and owner names on a digest line: five lines share a section


def _block_id(card: Card, name: str) -> str:
    return truncate(f"hl.{card.alert_key}.v{card.version}.{name}", ID_MAX)


def _section(block_id: str, text: str) -> Block:
    return section_block(block_id, text)


# ---- the alert card --------------------------------------------------------------------------


def header_text(card: Card) -> str:
    """"🔴 HA-12 · Open · unclaimed": the state marker (no severity), the key and the state in words."""
    state = card.state_text or card.status.value
    return f"{STATE_EMOJI.get(card.state, '')} {card.alert_key} · {state}".strip()


def _header(card: Card) -> Block:
    text = plain_text(header_text(card), HEADER_MAX)
    return {"type": "header", "block_id": _block_id(card, "header"), "text": text}


def owner_mrkdwn(owner_id: str | None, owner_platform: str | None, owner_name: str | None) -> str | None:
    """A Slack owner as a live `<@U…>` mention (the id is checked: nothing else is pasted into `<…>`);
    anyone else (a Teams owner, a CLI user) by their escaped name."""
    if owner_platform == "slack" and owner_id and SLACK_USER_ID.match(owner_id):
        return f"<@{owner_id}>"
    name = owner_name or owner_id
    return f"*{escape_mrkdwn(name)}*" if name else None


def sla_text(card: Card) -> str | None:
    """The due time, bold; ":rotating_light:" when overdue."""
    if not card.sla_text:
        return None
    text = escape_mrkdwn(card.sla_text)
    return f":rotating_light: *{text}*" if card.sla_overdue else f":stopwatch: *{text}*"


def _lead(card: Card) -> Block:
    """Right under the header: who the customer is, when it is due, who has it."""
    first = [f"*{escape_mrkdwn(card.customer_name)}*"] if card.customer_name else []
    if (due := sla_text(card)) and card.state is not CardState.SNOOZED:  # the header says until when
        first.append(due)
    lines = ["  ·  ".join(first)] if first else []
    if part_of := part_of_line(card):
        lines.append(part_of)
    owner = owner_mrkdwn(card.owner_id, card.owner_platform, card.owner_name)
    if card.resolution:
        lines.append(f":white_check_mark: *Resolved* — {escape_mrkdwn(card.resolution)}")
    elif owner:
        lines.append(f":bust_in_silhouette: Claimed by {owner}")
    lines.append(f"*Severity:* {card.severity.value}  ·  {escape_mrkdwn(card.title)}")
    if card.contact:
        lines.append("*Contact:* " + "  ·  ".join(escape_mrkdwn(item) for item in card.contact))
    return _section(_block_id(card, "lead"), "\n".join(lines))


def details_note(hidden_chars: int) -> str:
    return f"…(cut — {hidden_chars:,} more characters: Details shows the full text)"


def _comment_text(card: Card) -> str:
    shown, hidden = shown_comment(card)
    text = "*Comment*\n" + quote(shown) if shown else "*Comment*"
    return text + ("\n" + escape_mrkdwn(details_note(hidden)) if hidden else "")


def _comment(card: Card) -> Block | None:
    if not card.comment or not card.comment.strip():
        return None
    return _section(_block_id(card, "comment"), truncate(_comment_text(card), SECTION_MAX))


def _answers_text(card: Card) -> str:
    """The low answers (the card face); the others are counted and left to Details."""
    low = [answer for answer in shown_answers(card)[0] if answer.is_low]
    lines = [f":warning: {escape_mrkdwn(a.question)}: *{escape_mrkdwn(a.value)}*" for a in low]
    if more := len(card.answers) - len(low):
        what = "more answer" if low else "answer"
        lines.append(f"_{more} {what}{'s' if more != 1 else ''} in Details_")
    return "\n".join(lines)


def _answers(card: Card) -> Block | None:
    if not card.answers:
        return None
    return _section(_block_id(card, "answers"), fit_lines(_answers_text(card).split("\n"), SECTION_MAX))


def fit_card(card: Card) -> Card:
    """The card with as much of the comment and of the low answers as their sections hold; what is left
    out is said on the card (`bot.cards.model.card_is_cut` tells the delivery worker to post it in the
    thread, and Details shows it all)."""
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


def _facts(card: Card) -> Block | None:
    texts = [f"*{escape_mrkdwn(name)}:* {escape_mrkdwn(value)}" for name, value in card.facts]
    if not texts:
        return None
    elements = [mrkdwn(text) for text in fit_elements(texts)]
    return {"type": "context", "block_id": _block_id(card, "facts"), "elements": elements}


def _actions(card: Card) -> Block | None:
    elements = action_elements(card.buttons, card.menu)
    if not elements:
        return None
    return {"type": "actions", "block_id": _block_id(card, "actions"), "elements": elements}


def _systemic(card: Card) -> list[Block]:
    """A systemic issue's summary sentence and its children (≤ `children_max` lines, then a note)."""
    blocks: list[Block] = []
    if summary := summary_text(card):
        blocks.append(_section(_block_id(card, "summary"), summary))
    texts, note = children_texts(card)
    blocks += [_section(_block_id(card, f"children.{n}"), text) for n, text in enumerate(texts)]
    if note:
        blocks.append({"type": "context", "block_id": _block_id(card, "children.more"),
                       "elements": [mrkdwn(escape_mrkdwn(note))]})
    return blocks


def card_blocks(card: Card) -> list[Block]:
    """Header (state) → customer · due · owner (· part of SYS-n) → a systemic issue's summary and
    children → comment → low answers → why → facts → actions."""
    card = fit_card(card)
    parts = (
        _header(card),
        _lead(card),
        *_systemic(card),
        _comment(card),
        _answers(card),
        _reasons(card),
        _facts(card),
        _actions(card),
    )
    return [block for block in parts if block is not None][:MAX_BLOCKS]


def fallback(text: str) -> str:
    return truncate(escape_mrkdwn(text), FALLBACK_MAX)


def card_message(card: Card) -> dict[str, Any]:
    """`chat.postMessage` / `chat.update` arguments: escaped fallback `text` plus `blocks`."""
    return {"text": fallback(card.fallback_text or card.title), "blocks": card_blocks(card)}


# ---- digests and thread lines ------------------------------------------------------------------


def _digest_id(digest: DigestCard, name: str) -> str:
    """Block ids that change whenever the digest's content does (updates need new block_ids)."""
    state = _digest_state(digest.title, digest.items, digest.figures, digest.more, digest.with_claim_buttons)
    return f"hl.digest.{state}.{name}"


@functools.lru_cache(maxsize=32)
def _digest_state(*state: object) -> str:
    """Once per digest, not once per block: repr() of a hundred items costs ~1 ms each time."""
    return hashlib.sha256(repr(state).encode()).hexdigest()[:10]


def _digest_label(item: DigestItem) -> str:
    key = escape_mrkdwn(item.alert_key)
    link = _safe_link(item.link)
    label = f"<{link}|{key}>" if link else f"*{key}*"
    return f"{SEVERITY_EMOJI.get(item.severity, '')} {label}".strip()


def digest_line(item: DigestItem) -> str:
    """One alert on one line: key, severity, customer, due (overdue marked), owner or state."""
    parts = [_digest_label(item), item.severity.value]
    if item.part_of:  # small: the line's alert is part of a systemic issue
        parts.append("_" + ", ".join(escape_mrkdwn(key) for key in item.part_of) + "_")
    if item.customer_name:
        parts.append(escape_mrkdwn(truncate(item.customer_name, DIGEST_NAME_MAX)))
    if item.due_text:
        due = escape_mrkdwn(item.due_text)
        parts.append(f":rotating_light: *{due}*" if item.overdue else f"*{due}*")
    if item.owner_name:
        parts.append(f":bust_in_silhouette: {escape_mrkdwn(truncate(item.owner_name, DIGEST_NAME_MAX))}")
    elif item.status is not AlertStatus.OPEN:
        parts.append(item.status.value)
    return " · ".join(parts)


def _digest_item(item: DigestItem, block_id: str, with_claim: bool) -> Block:
    lines = [digest_line(item)]
    if item.summary:
        lines.append(escape_mrkdwn(item.summary))
    if item.comment_start:
        lines.append(quote(item.comment_start))
    block = _section(block_id, "\n".join(lines))
    if with_claim and item.status is AlertStatus.OPEN:
        claim = CardButton(ActionId.CLAIM, "Claim", "primary", item.alert_key)
        block["accessory"] = button_element(claim)
    return block


def _digest_head(digest: DigestCard) -> list[Block]:
    title = plain_text(digest.title, HEADER_MAX)
    head: list[Block] = [{"type": "header", "block_id": _digest_id(digest, "header"), "text": title}]
    if digest.figures:
        texts = [f"*{escape_mrkdwn(name)}:* {escape_mrkdwn(value)}" for name, value in digest.figures]
        elements = [mrkdwn(text) for text in fit_elements(texts)]
        head.append({"type": "context", "block_id": _digest_id(digest, "figures"), "elements": elements})
    chart = safe_image_url(digest.meta.get("chart_url"))
    if chart is not None:  # the week's chart (bot/web/chart_links.py): only with a public URL to fetch
        alt = truncate(digest.meta.get("chart_alt") or "Chart of the week's figures", 2000)
        head.append({"type": "image", "block_id": _digest_id(digest, "chart"), "image_url": chart,
                     "alt_text": alt})
    return head


# A burst must hold 100+ alerts in ONE message: Slack takes about one post a second per channel and the
# bench sends 100 alerts a second into one channel. Five lines per section with their five Claim buttons
# right under them keep each button beside its line: 23 groups of 2 blocks fit beside header, figures
# and "+N more" (115 alerts).
COMPACT_GROUP = 5
DIGEST_CAPACITY = (MAX_BLOCKS - 3) // 2 * COMPACT_GROUP


def digest_fit(digest: DigestCard) -> tuple[tuple[DigestItem, ...], int]:
    """The items that fit in one message and how many are left out (incl. `digest.more`)."""
    room = MAX_BLOCKS - len(_digest_head(digest))
    items = digest.items
    if len(items) > room:  # a burst: the dense layout, five alerts per section + their Claim buttons
        items = items[: (room - 1) // 2 * COMPACT_GROUP]
    return items, digest.more + len(digest.items) - len(items)


def _dense_line(item: DigestItem) -> str:
    line = digest_line(item)
    if item.comment_start:
        line += f" · “{escape_mrkdwn(item.comment_start)}”"
    elif item.summary and not (item.customer_name or item.due_text):
        line += f" · {truncate(escape_mrkdwn(item.summary), 200)}"
    return line


def claim_label(item: DigestItem) -> str:
    """"Claim HA-12 · Dana": which line a dense digest's button belongs to, in ≤ 75 characters."""
    first = (item.customer_name or "").split()
    return truncate(f"Claim {item.alert_key}" + (f" · {first[0]}" if first else ""), BUTTON_TEXT_MAX)


def _compact_group(digest: DigestCard, start: int, group: tuple[DigestItem, ...]) -> list[Block]:
    text = fit_lines([_dense_line(item) for item in group], SECTION_MAX)
    blocks: list[Block] = [_section(_digest_id(digest, f"group.{start}"), text)]
    buttons = [
        # action ids must be unique within a block: "#n" is stripped again by adapters/slack/translate
        {
            **button_element(CardButton(ActionId.CLAIM, claim_label(item), None, item.alert_key)),
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
    for that, five alerts per section, each group's Claim buttons right under it — and a "+N more" line;
    ≤ 50 blocks."""
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
        more_text = mrkdwn(f"+{more} more")
        blocks.append({"type": "context", "block_id": _digest_id(digest, "more"), "elements": [more_text]})
    return blocks


def digest_message(digest: DigestCard) -> dict[str, Any]:
    return {"text": fallback(digest.fallback_text or digest.title), "blocks": digest_blocks(digest)}
