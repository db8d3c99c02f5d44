"""The terminal card (`hotloop demo`, `hotloop alerts show`) reads in the card face's order."""

from __future__ import annotations

from datetime import timedelta

from bot.cards.text import card_text
from tests.factories import NOW, sample_card


def test_the_terminal_card_shows_the_state_then_customer_due_comment_low_answers_why_facts() -> None:
    text = card_text(sample_card(claim_due_at=NOW - timedelta(minutes=3)))
    lines = text.splitlines()
    assert lines[0] == "🔴 HA-1001 · Open · unclaimed"
    assert lines[1] == "   Dana Scully · dana@example.com · +1 555 0100 · ‼ Claim overdue 3 min"
    parts = ("Waited 40 minutes", "⚠ How likely", "⚠ Staff", "why: ", "Source: ")
    order = [text.index(part) for part in parts]
    assert order == sorted(order)
    assert lines[2] == "   CRITICAL · Detractor · NPS 2 · asks to be contacted"
    assert "(1 more answer: see below)" in text and "Cleanliness: 5 / 5" in text.split("all answers:")[1]
    assert lines[-1].startswith("   buttons: Claim | Escalate | Resolve | Details | Add note")


def test_a_resolved_terminal_card_says_how() -> None:
    text = card_text(sample_card(status="resolved", outcome="recovered", resolved_by="Fox"))
    assert text.splitlines()[0] == "🟢 HA-1001 · Resolved · Recovered · by Fox"
    assert "resolution: Recovered · by Fox" in text and "buttons: Reopen | Details" in text
