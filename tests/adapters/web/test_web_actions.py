"""Acting from the alert page through the real app: the form → `require_csrf` → the action table's
`handle` (the path chat takes) → 303 back with what happened; the Slack card follows through the outbox.
Refusals are messages, bad input 422, unknown actions and other teams' alerts 404, never a 500."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from storage.types import utcnow
from tests.adapters.slack.slackapp import CHANNEL, SlackApp
from tests.adapters.web.queue_helpers import add_alert, add_team
from tests.adapters.web.signin_helpers import SignedIn, sign_in
from tests.appserver import AppWithChats
from tests.fakes.slack_api import FakeSlackApi


@dataclass
class World:
    slack: SlackApp
    ana: SignedIn
    ben: SignedIn


@pytest.fixture
async def world(app_with_chats: AppWithChats, fake_slack: FakeSlackApi) -> AsyncIterator[World]:
    async with app_with_chats(slack=True, public_url="http://127.0.0.1", systemic_min_count=1_000_000
                              ) as server:
        ana = await sign_in(server, user_id="U0ANA", name="ana")
        ben = await sign_in(server, user_id="U0BEN", name="ben")
        yield World(SlackApp(server=server, fake=fake_slack), ana, ben)
        await ana.aclose()
        await ben.aclose()


def flash_of(page: str) -> str:
    found = re.search(r'<div class="notice notice-(?:ok|warn)" role="status">([^<]*)</div>', page)
    return found.group(1) if found else ""


async def test_claim_from_the_page_claims_and_moves_the_slack_card(world: World) -> None:
    key = await world.slack.new_alert()
    ts = world.slack.ts_of(key)
    reply = await world.ana.post_form(f"/app/alerts/{key}/claim")
    assert reply.status_code == 303 and reply.headers["location"] == f"/app/alerts/{key}"
    alert = await world.slack.alert(key)
    assert (alert.status, alert.owner_id, alert.owner_platform, alert.owner_name) == (
        "claimed", "U0ANA", "slack", "ana")
    page = await world.ana.client.get(reply.headers["location"])
    assert flash_of(page.text) == f"You claimed {key}"
    assert f'action="/app/alerts/{key}/resolve"' in page.text  # the owner's actions now

    def card_updated() -> bool:
        return any(c.args.get("channel") == CHANNEL and c.args.get("ts") == ts and "ana" in str(c.args)
                   for c in world.slack.fake.calls("chat.update"))

    assert await world.slack.wait(card_updated), "the Slack card never showed the claim"
    assert "claimed" in await world.slack.events(key)


async def test_a_refusal_is_a_message_not_an_error(world: World) -> None:
    key = await world.slack.new_alert()
    assert (await world.ana.post_form(f"/app/alerts/{key}/claim")).status_code == 303
    reply = await world.ben.post_form(f"/app/alerts/{key}/claim", follow_redirects=True)
    assert reply.status_code == 200
    assert flash_of(reply.text) == f"{key} was already claimed by ana"
    assert (await world.slack.alert(key)).owner_id == "U0ANA"


async def test_note_snooze_and_resolve_from_the_page(world: World) -> None:
    key = await world.slack.new_alert()
    note = await world.ana.post_form(f"/app/alerts/{key}/note", {"note": "Called <b>twice</b>"},
                                     follow_redirects=True)
    assert "Called &lt;b&gt;twice&lt;/b&gt;" in note.text  # on the timeline, escaped
    assert (await world.ana.post_form(f"/app/alerts/{key}/claim")).status_code == 303
    snooze = await world.ana.post_form(f"/app/alerts/{key}/snooze", {"until": "1h", "reason": "callback"})
    assert snooze.status_code == 303
    alert = await world.slack.alert(key)
    assert alert.status == "snoozed" and alert.snooze_reason == "callback"
    assert alert.snoozed_until is not None and 3000 < (alert.snoozed_until - utcnow()).total_seconds() < 3700
    resolve = await world.ana.post_form(f"/app/alerts/{key}/resolve",
                                        {"outcome": "recovered", "root_cause": "staff", "note": "Refunded"})
    assert resolve.status_code == 303
    alert = await world.slack.alert(key)
    assert (alert.status, alert.outcome, alert.root_cause, alert.resolution_note) == (
        "resolved", "recovered", "staff", "Refunded")
    page = await world.ana.client.get(f"/app/alerts/{key}")
    assert f'action="/app/alerts/{key}/reopen"' in page.text
    assert f'action="/app/alerts/{key}/claim"' not in page.text


@pytest.mark.parametrize(("name", "fields", "reason"), [
    ("snooze", {"until": "forever"}, "Pick how long to snooze"),
    ("note", {"note": "   "}, "Write a note"),
    ("note", {"note": "x" * 3001}, "Keep the note under 3000 characters"),
    ("resolve", {"outcome": "fixed-it"}, "Pick an outcome"),
    ("reassign", {"user": ""}, "Pick someone"),
])
async def test_bad_input_is_422_with_the_reason_and_changes_nothing(
    world: World, name: str, fields: dict[str, str], reason: str
) -> None:
    key = await world.slack.new_alert()
    before = await world.slack.events(key)
    reply = await world.ana.post_form(f"/app/alerts/{key}/{name}", fields)
    assert reply.status_code == 422
    assert reason in reply.text
    assert await world.slack.events(key) == before


async def test_unknown_actions_other_teams_and_missing_csrf(world: World) -> None:
    server = world.slack.server
    key = await world.slack.new_alert()
    assert (await world.ana.post_form(f"/app/alerts/{key}/explode")).status_code == 404
    assert (await world.ana.post_form(f"/app/alerts/{key}/details")).status_code == 404  # read-only
    assert (await world.ana.post_form("/app/alerts/HA-404404/claim")).status_code == 404
    other = await add_team(server, "other-team")
    hidden = await add_alert(server, "HA-8801", team_id=other)
    reply = await world.ana.post_form(f"/app/alerts/{hidden.key}/claim")
    assert reply.status_code == 404 and "HA-8801" not in reply.text.replace("/app/alerts/HA-8801", "")
    assert (await world.slack.alert(hidden.key)).status == "open"
    no_token = await world.ana.client.post(f"/app/alerts/{key}/claim", data={})
    wrong = await world.ana.client.post(f"/app/alerts/{key}/claim", data={"csrf_token": world.ben.csrf})
    assert (no_token.status_code, wrong.status_code) == (403, 403)
    anonymous = await server.client.post(f"/app/alerts/{key}/claim", data={"csrf_token": "x"})
    assert anonymous.status_code == 401
    assert (await world.slack.alert(key)).status == "open"
