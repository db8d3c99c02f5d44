"""Every card state: its words, its marker and its buttons — and no button the owner (or everyone) is
refused: each visible button's guard (bot/actions/table.py ROUTES) runs as the people who see it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.action_ids import ActionId
from bot.actions.table import ROUTES, ActionRequest, handle
from bot.alerts.lifecycle import Actor, Refused
from bot.cards.model import STATE_EMOJI, Card, CardState, build_card
from bot.config.snapshot import ConfigSnapshot
from bot.domain import utcnow
from storage import queries
from storage.db import SessionFactory
from storage.models import Alert
from tests.factories import NOW, sample_alert, sample_feedback, sample_team
from tests.helpers import prepared_config, raise_alert

ANA = Actor("U0ANA", "Ana Lee", "slack")  # the owner where there is one
BEN = Actor("U0BEN", "Ben", "slack")  # another member of the team
MANAGER = Actor("U0MANAGER", "Meg", "slack")
ANAS = {"owner_id": ANA.id, "owner_name": ANA.name, "owner_platform": "slack"}
SNOOZE = {"status": "snoozed", "snoozed_until": NOW + timedelta(hours=4), "snoozed_at": NOW,
          "snooze_reason": "waiting for callback"}
STATES: dict[str, dict[str, Any]] = {
    "open": {},
    "claimed": {"status": "claimed", **ANAS},
    "snoozed, owned": {**SNOOZE, **ANAS},
    "snoozed, nobody's": SNOOZE,
    "escalated, open": {"escalation_level": 1},
    "escalated, owned": {"status": "claimed", "escalation_level": 2, **ANAS},
    "resolved by the owner": {"status": "resolved", "outcome": "recovered", "resolved_by": ANA.name,
                              "resolved_by_id": ANA.id, "resolved_by_platform": "slack", **ANAS},
    "resolved by a manager": {"status": "resolved", "outcome": "unreachable", "resolved_by": MANAGER.name,
                              "resolved_by_id": MANAGER.id, "resolved_by_platform": "slack", **ANAS},
}


def card_of(alert: Alert) -> Card:
    return build_card(alert, sample_feedback(), sample_team(), source_name="web", now=NOW)


def refused(action: ActionId, alert: Alert, actor: Actor, config: ConfigSnapshot) -> str | None:
    try:
        ROUTES[action].guard(alert, actor, config)
    except Refused as refusal:
        return refusal.message
    return None


@pytest.mark.parametrize("state", STATES)
async def test_no_button_refuses_everyone_and_none_the_owner_sees_refuses_the_owner(
    sessions: SessionFactory, state: str
) -> None:
    config = await prepared_config(sessions)
    alert = sample_alert(team_id=config.default_team_id, **STATES[state])
    card = card_of(alert)
    owned = alert.owner_id is not None
    assert card.buttons and len(card.buttons) <= 4, "at most four visible buttons"
    for button in (*card.buttons, *card.menu):
        verdicts = {actor.name: refused(button.action, alert, actor, config) for actor in (ANA, BEN, MANAGER)}
        assert None in verdicts.values(), (state, button.label, verdicts)  # someone may press it
        if owned and button in card.buttons:
            assert verdicts[ANA.name] is None, (state, button.label, verdicts[ANA.name])
    if not owned:  # an unowned card's visible buttons work for any member
        assert all(refused(b.action, alert, BEN, config) is None for b in card.buttons), state


@pytest.mark.parametrize(
    ("state", "expected", "text"),
    [
        ("open", ["Claim", "Escalate", "Resolve", "Details"], "Open · unclaimed"),
        ("claimed", ["Resolve", "Escalate", "Add note", "Details"], "Claimed by Ana Lee"),
        ("snoozed, owned", ["Wake now", "Add note", "Details"],
         "Snoozed until 14:00 UTC (waiting for callback)"),
        ("escalated, open", ["Claim", "Escalate", "Resolve", "Details"], "Escalated to level 1 · unclaimed"),
        ("escalated, owned", ["Resolve", "Escalate", "Add note", "Details"],
         "Escalated to level 2 · claimed by Ana Lee"),
        ("resolved by the owner", ["Reopen", "Details"], "Resolved · Recovered · by Ana Lee"),
    ],
)
def test_each_state_has_its_words_marker_and_buttons(state: str, expected: list[str], text: str) -> None:
    card = card_of(sample_alert(**STATES[state]))
    assert [b.label for b in card.buttons] == expected
    assert card.state_text == text
    assert card.fallback_text.startswith(f"{STATE_EMOJI[card.state]} HA-1001 · {text} · critical")
    assert card.buttons[0].style == ("primary" if expected[0] != "Reopen" else None)


def test_state_markers_and_owner_identity() -> None:
    assert card_of(sample_alert(**STATES["escalated, owned"])).state is CardState.ESCALATED
    assert card_of(sample_alert(**STATES["snoozed, owned"], escalation_level=1)).state is CardState.SNOOZED
    assert len(set(STATE_EMOJI.values())) == len(CardState)  # each state its own marker
    claimed = card_of(sample_alert(**STATES["claimed"]))
    assert (claimed.owner_id, claimed.owner_platform, claimed.received_at) == (
        ANA.id, "slack", NOW - timedelta(minutes=5))
    snoozed = card_of(sample_alert(**STATES["snoozed, owned"]))
    assert ActionId.CLAIM not in {b.action for b in (*snoozed.buttons, *snoozed.menu)}
    later = card_of(sample_alert(**{**SNOOZE, "snoozed_until": NOW + timedelta(days=1)}))
    assert later.state_text == "Snoozed until Sat 21 Nov 10:00 UTC (waiting for callback)"


async def test_wake_now_returns_a_snoozed_alert_to_its_owner_and_refuses_otherwise(
    sessions: SessionFactory,
) -> None:
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config)

    async def act(action: ActionId, actor: Actor, **args: str) -> tuple[bool, str]:
        reply = await handle(ActionRequest(action, key, actor, args), sessions=sessions, config=config,
                             now=utcnow())
        return reply.ok, reply.message

    assert await act(ActionId.WAKE, ANA) == (False, f"{key} is not snoozed")
    assert (await act(ActionId.CLAIM, ANA))[0]
    assert (await act(ActionId.SNOOZE, ANA, until="4h"))[0]
    assert await act(ActionId.WAKE, BEN) == (True, f"{key} is awake: claimed")  # anyone may wake it
    async with sessions() as session:
        alert = await queries.get_alert(session, key=key)
        assert alert is not None and alert.id is not None
        events = await queries.alert_events(session, alert_id=alert.id)
    assert (alert.status, alert.owner_id, alert.snoozed_until, alert.snooze_reason) == (
        "claimed", ANA.id, None, None)
    assert alert.next_due_at is not None and alert.next_due_at <= utcnow()  # the sweep looks at it now
    woke = events[-1]
    assert woke.kind == "woke" and woke.data["resume_status"] == "claimed" and woke.data["manual"] is True
    assert await act(ActionId.WAKE, ANA) == (False, f"{key} is not snoozed")


async def test_details_is_read_only(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config)
    reply = await handle(ActionRequest(ActionId.DETAILS, key, BEN), sessions=sessions, config=config,
                         now=utcnow())
    assert not reply.ok and "changes nothing" in reply.message
