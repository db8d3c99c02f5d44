"""Keep Teams messages under Teams' size limit, measured the way Teams measures it.

Teams counts a message in UTF-16 and refuses one over about 28 KB with HTTP 413 (PROTOCOLS: the
documented ceiling has moved between ~28 KB and ~100 KB; 28 KB is safe everywhere). hotloop measures the
JSON of what it sends as UTF-16 bytes, the stricter reading, and keeps each card inside `CARD_BUDGET`,
leaving room for the activity and conversation envelope around it.

A card too big keeps every fact and button and shows less of the customer's answers and comment (the
card says how much it left out; the delivery worker posts the whole response in the card's thread).
A digest too big shows shorter summaries; the delivery worker never gives one more alerts than
`DIGEST_CAPACITY`, which fits even when every summary is as long as it can be.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from adapters.teams.render import card_attachment_content, digest_attachment_content
from bot.cards.model import MAX_LEVEL, Card, DigestCard, card_at_level, digest_at_level, largest_fitting

ACTIVITY_MAX = 28 * 1024  # UTF-16 bytes: what one message may weigh
CARD_BUDGET = ACTIVITY_MAX - 2 * 1024  # the card itself; the rest is the activity and its envelope
COMMENT_RESERVE = 1000  # characters of comment kept while the answers are fitted
DIGEST_CAPACITY = 16  # alerts per Teams digest message (about 1.2 KB each; long summaries get cut)


def utf16_size(value: Any) -> int:
    """Bytes of `value` as compact JSON encoded in UTF-16 (Teams' measure of a message)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-16-le"))


def _fits(card: Card) -> bool:
    return utf16_size(card_attachment_content(card)) <= CARD_BUDGET


def fit_card(card: Card) -> Card:
    """The card with as many answers and as much comment as fit `CARD_BUDGET` (answers first, leaving
    `COMMENT_RESERVE` characters to the comment, then the comment takes what is left)."""
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


def digest_content(digest: DigestCard) -> dict[str, Any]:
    """The Adaptive Card for `digest`: shorter summaries, then none, until it fits."""
    for level in range(MAX_LEVEL + 1):
        content = digest_attachment_content(digest_at_level(digest, level))
        if utf16_size(content) <= CARD_BUDGET:
            break
    return content
