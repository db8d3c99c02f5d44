"""Keep Teams messages under Teams' size limit, measured the way Teams measures it.

Teams counts a message in UTF-16 and refuses one over about 28 KB with HTTP 413 (PROTOCOLS: the
documented ceiling has moved between ~28 KB and ~100 KB; 28 KB is safe everywhere). hotloop measures the
JSON of what it sends as UTF-16 bytes, the stricter reading, and keeps each card inside `CARD_BUDGET`,
leaving room for the activity and conversation envelope around it.

A card's "Details" holds every answer and the whole comment when they fit (a card at the model's
default limits is first tried whole). A card too big keeps every fact and button and shows less of the
customer's answers and comment (the card says how much it left out; the delivery worker posts the whole
response in the card's thread). A card already lowered to a rendering level keeps its limits.
A digest too big shows shorter summaries; the delivery worker never gives one more alerts than
`DIGEST_CAPACITY`, which fits even when every summary is as long as it can be.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from adapters.teams.render import card_attachment_content, digest_attachment_content
from bot.cards.model import (
    ANSWERS_SHOWN_MAX,
    COMMENT_SHOWN_MAX,
    MAX_LEVEL,
    Card,
    DigestCard,
    card_at_level,
    card_is_cut,
    comment_start,
    digest_at_level,
    fit_children,
    largest_fitting,
)

ACTIVITY_MAX = 28 * 1024  # UTF-16 bytes: what one message may weigh
CARD_BUDGET = ACTIVITY_MAX - 2 * 1024  # the card itself; the rest is the activity and its envelope
COMMENT_RESERVE = 1000  # characters of comment kept while the answers are fitted
DIGEST_CAPACITY = 16  # alerts per Teams digest message (about 1.6 KB each; long texts get cut)
DIGEST_SHORT_COMMENT = 50  # characters of a comment's start kept when a full digest is too big


def utf16_size(value: Any) -> int:
    """Bytes of `value` as compact JSON encoded in UTF-16 (Teams' measure of a message)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-16-le"))


def _fits(card: Card) -> bool:
    return utf16_size(card_attachment_content(card)) <= CARD_BUDGET


def fit_card(card: Card) -> Card:
    """The card with as many answers and as much comment as fit `CARD_BUDGET` (answers first, leaving
    `COMMENT_RESERVE` characters to the comment, then the comment takes what is left)."""
    level_0 = (card.answers_max, card.comment_max) == (ANSWERS_SHOWN_MAX, COMMENT_SHOWN_MAX)
    if level_0 and card_is_cut(card):  # Details holds all of it, if it fits
        card = replace(card, answers_max=len(card.answers), comment_max=len(card.comment or ""))
    if _fits(card):
        return card
    if card.children:  # a systemic issue's: its children lists shrink, its buttons stay
        card = fit_children(card, _fits)
        if _fits(card):
            return card
    reserve = min(card.comment_max, COMMENT_RESERVE)
    answers_max = largest_fitting(
        min(card.answers_max, len(card.answers)),
        lambda n: _fits(replace(card, answers_max=n, comment_max=reserve)),
    )
    comment_max = largest_fitting(
        min(card.comment_max, len(card.comment or "")),
        lambda n: _fits(replace(card, answers_max=answers_max, comment_max=n)),
    )
    fitted = replace(card, answers_max=answers_max, comment_max=comment_max)
    return fitted if _fits(fitted) else card_at_level(fitted, MAX_LEVEL)


def card_content(card: Card) -> dict[str, Any]:
    """The Adaptive Card for `card`, fitted to Teams' size limit."""
    return card_attachment_content(fit_card(card))


def _short_comments(digest: DigestCard) -> DigestCard:
    """Level 1 with each comment's start cut to `DIGEST_SHORT_COMMENT` characters (level 2 drops them)."""
    shorter = digest_at_level(digest, 1)
    items = tuple(
        replace(item, comment_start=comment_start(item.comment_start, DIGEST_SHORT_COMMENT))
        for item in shorter.items
    )
    return replace(shorter, items=items)


def digest_content(digest: DigestCard) -> dict[str, Any]:
    """The Adaptive Card for `digest`: shorter summaries, then shorter comment starts, then neither,
    until it fits."""
    tries = [digest_at_level(digest, 0), digest_at_level(digest, 1), _short_comments(digest)]
    tries += [digest_at_level(digest, level) for level in range(2, MAX_LEVEL + 1)]
    for smaller in tries:
        content = digest_attachment_content(smaller)
        if utf16_size(content) <= CARD_BUDGET:
            break
    return content
