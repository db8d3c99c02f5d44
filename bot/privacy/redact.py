"""What redacting one customer's details turns stored values into (pure functions; bot/privacy/erase.py
and retention.py apply them to rows).

A redacted response keeps every figure — the score, the numeric and boolean answers, the contact request,
the times — and loses the person: name, e-mail, phone, customer id, comment and free-text answers. Its
comment always becomes the marker, even when it had none, so a redacted row is recognisable (retention
never takes it twice) and the card says "[erased]" where the words were.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bot.mail.address import masked
from storage.models import Feedback

ERASED = "[erased]"  # a customer's erasure request
REDACTED = "[redacted]"  # the retention period ran out
MARKERS = (ERASED, REDACTED)
MIN_PHRASE = 3  # shorter names or words would blank half of every text
NOT_FREE_TEXT = frozenset({"nps", "rating", "choice", "scale", "csat", "ces", "boolean", "number"})
CUSTOMER_WORDS = frozenset({"comment"})  # event data keys that hold the customer's own words


def phrases_of(response: Feedback) -> set[str]:
    """Every piece of text that points at the customer of `response`."""
    found: set[str] = set()
    if response.customer_email:
        address = response.customer_email.strip()
        found |= {address, masked(address)}
    if response.customer_name:
        name = response.customer_name.strip()
        found |= {name, *name.split()}
    for value in (response.customer_phone, response.customer_id, response.comment):
        if value and value not in MARKERS:
            found.add(value.strip())
    found |= {str(a.get("value")).strip() for a in response.answers if _is_free_text(a)}
    return {p for p in found if len(p) >= MIN_PHRASE and p not in MARKERS}


def phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern for all phrases, the longest first, matched as whole words."""
    ordered = sorted(set(phrases), key=len, reverse=True)
    if not ordered:
        return None
    alternatives = "|".join(re.escape(p) for p in ordered)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def scrubbed(text: str, pattern: re.Pattern[str] | None, marker: str) -> str:
    return text if pattern is None else pattern.sub(marker, text)


def _is_free_text(answer: dict[str, Any]) -> bool:
    value = answer.get("value")
    return isinstance(value, str) and str(answer.get("kind") or "").lower() not in NOT_FREE_TEXT


def redacted_answers(answers: list[dict[str, Any]], pattern: re.Pattern[str] | None, marker: str
                     ) -> list[dict[str, Any]]:
    """Numbers and booleans stay (they are figures); free text goes; a choice loses any phrase in it."""
    kept = []
    for answer in answers:
        value = answer.get("value")
        if _is_free_text(answer):
            answer = {**answer, "value": marker}
        elif isinstance(value, str):
            answer = {**answer, "value": scrubbed(value, pattern, marker)}
        kept.append(answer)
    return kept


def redacted_response(response: Feedback, pattern: re.Pattern[str] | None, marker: str) -> dict[str, Any]:
    """The new column values of a redacted response."""
    return {
        "customer_id": None,
        "customer_name": marker if response.customer_name else None,
        "customer_email": None,
        "customer_phone": None,
        "comment": marker,
        "answers": redacted_answers(list(response.answers), pattern, marker),
        "attributes": {k: scrubbed(v, pattern, marker) for k, v in response.attributes.items()},
    }


def redacted_data(value: Any, pattern: re.Pattern[str] | None, marker: str, *, key: str = "") -> Any:
    """An event's data (or a payload) with the customer's words replaced and every phrase scrubbed."""
    if isinstance(value, dict):
        return {k: redacted_data(v, pattern, marker, key=k) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted_data(v, pattern, marker, key=key) for v in value]
    if isinstance(value, str):
        return marker if key in CUSTOMER_WORDS and value else scrubbed(value, pattern, marker)
    return value
