"""In-memory model objects for renderer and card tests (no database needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.cards.model import Card, build_card
from storage.models import Alert, Feedback, Team

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def sample_feedback(**overrides: Any) -> Feedback:
    values: dict[str, Any] = {
        "id": 1,
        "source_id": 1,
        "external_id": "resp-1",
        "received_at": NOW - timedelta(minutes=5),
        "customer_name": "Dana Scully",
        "customer_email": "dana@example.com",
        "customer_phone": "+1 555 0100",
        "nps": 2,
        "contact_requested": True,
        "comment": "Waited 40 minutes & the manager was rude <!channel> <@U123> <https://evil.example|click>",
        "answers": [
            {"question": "How likely are you to recommend us?", "value": 2, "scale_min": 0, "scale_max": 10},
            {"question": "Staff friendliness", "value": 1, "scale_min": 1, "scale_max": 5},
            {"question": "Cleanliness", "value": 5, "scale_min": 1, "scale_max": 5},
        ],
        "attributes": {"location": "042", "employee": "Jessica C", "region": "north"},
    }
    values.update(overrides)
    return Feedback(**values)


def sample_alert(**overrides: Any) -> Alert:
    values: dict[str, Any] = {
        "id": 1,
        "key": "HA-1001",
        "feedback_id": 1,
        "severity": "critical",
        "status": "open",
        "team_id": 1,
        "reasons": ["NPS 2 (detractor 0–3)", "asked to be contacted", "alarming words: rude"],
        "created_at": NOW - timedelta(minutes=5),
        "claim_due_at": NOW + timedelta(minutes=10),
        "resolve_due_at": NOW + timedelta(hours=4),
    }
    values.update(overrides)
    return Alert(**values)


def sample_team(**overrides: Any) -> Team:
    values: dict[str, Any] = {"id": 1, "name": "store-042", "slack_channel": "C0123456"}
    values.update(overrides)
    return Team(**values)


def sample_card(*, audience: str = "team", **alert_overrides: Any) -> Card:
    """A card in any state: pass status="claimed", owner_name=…, or status="resolved", outcome=…"""
    return build_card(
        sample_alert(**alert_overrides),
        sample_feedback(),
        sample_team(),
        source_name="typeform",
        now=NOW,
        audience=audience,
    )
