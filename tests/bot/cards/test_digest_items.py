"""Burst digests say who and what, most urgent first: overdue → severity → age."""

from __future__ import annotations

from datetime import timedelta

from bot.cards.model import Card, build_card, comment_start, digest_at_level
from bot.cards.views import burst_digest
from tests.factories import NOW, sample_alert, sample_feedback, sample_team


def card(key: str, severity: str, *, age_min: int, overdue: bool = False, **alert: object) -> Card:
    due = NOW - timedelta(minutes=5) if overdue else NOW + timedelta(minutes=30)
    feedback = sample_feedback(received_at=NOW - timedelta(minutes=age_min), customer_name=f"Customer {key}")
    values = {"key": key, "severity": severity, "claim_due_at": due, **alert}
    return build_card(sample_alert(**values), feedback, sample_team(), source_name="web", now=NOW)


def test_a_burst_digest_lists_overdue_first_then_by_severity_then_oldest_first() -> None:
    cards = [
        card("HA-1", "low", age_min=50),
        card("HA-2", "critical", age_min=1),
        card("HA-3", "normal", age_min=9, overdue=True),
        card("HA-4", "critical", age_min=20),
        card("HA-5", "high", age_min=3, overdue=True),
        card("HA-6", "high", age_min=30, overdue=True),
    ]
    digest = burst_digest(cards, team_name="store-042")
    assert [i.alert_key for i in digest.items] == ["HA-6", "HA-5", "HA-3", "HA-4", "HA-2", "HA-1"]
    first = digest.items[0]
    assert (first.customer_name, first.due_text, first.overdue) == (
        "Customer HA-6", "Claim overdue 5 min", True)
    assert first.comment_start is not None and first.comment_start.startswith("Waited 40 minutes")
    assert first.summary == "Detractor · NPS 2 · asks to be contacted"


def test_the_owner_is_on_the_item() -> None:
    claimed = card("HA-7", "high", age_min=1, status="claimed", owner_id="U0ANN", owner_name="Ann")
    [item] = burst_digest([claimed]).items
    assert item.owner_name == "Ann" and item.due_text == "Resolve due in 4 h"


def test_comment_start_is_about_a_hundred_characters_cut_at_a_word() -> None:
    assert comment_start(None) is None and comment_start("  \n ") is None
    assert comment_start("Short\n\ncomment") == "Short comment"
    words = "word " * 40
    start = comment_start(words)
    assert start is not None and start.endswith("word…") and len(start) <= 100
    one_long_word = comment_start("x" * 300)
    assert one_long_word == "x" * 99 + "…"


def test_the_smallest_digest_level_drops_the_comment_starts() -> None:
    digest = burst_digest([card("HA-1", "high", age_min=1)])
    assert digest_at_level(digest, 1).items[0].comment_start == digest.items[0].comment_start
    assert digest_at_level(digest, 2).items[0].comment_start is None
