"""Issue 7 §6 — a click on an alert from a channel where its card does not live acts on nothing.

Slack: a signed block_actions (button and card menu) and a form submission whose channel is not where
the alert's card was posted are refused with a private message there; the alert, its events and the
outbox are unchanged. The same click from the card's own channel works (control).
Teams: an Action.Execute (and the Action.Submit fallback) from a conversation that is not one of the
alert's card places is refused; from the team's channel, where the card was delivered, it works.
"""

from __future__ import annotations

import copy
from typing import Any

from adapters.slack import modals
from bot.action_ids import ActionId, Arg
from tests.adapters.slack.slackapp import ANA, BEN, CHANNEL, block_actions, menu_choice, view_submission
from tests.adapters.teams.activities import CHANNEL as MANAGERS_CHANNEL
from tests.adapters.teams.activities import MEGAN, execute, submit
from tests.security.conftest import TEAMS_CHANNEL, World, link_teams_channel

OTHER_CHANNEL = "C0OTHERTEAM"
REFUSED = "is not handled in this channel"


async def snapshot(world: World, key: str) -> tuple[Any, ...]:
    alert = await world.slack.alert(key)
    return (
        alert.status,
        alert.owner_id,
        alert.version,
        alert.snoozed_until,
        tuple(await world.slack.events(key)),
    )


async def test_a_slack_click_from_another_channel_is_refused(open_world: World) -> None:
    world, slack = open_world, open_world.slack
    key = await slack.new_alert()
    rows = await world.settled_rows()
    before = await snapshot(world, key)

    await slack.click(ANA, "alert.claim", key, channel=OTHER_CHANNEL)
    await slack.interact(block_actions(BEN, menu_choice(f"alert.snooze|{key}|30m"), channel=OTHER_CHANNEL))
    await slack.interact(
        block_actions(BEN, menu_choice(f"alert.not_actionable|{key}"), channel=OTHER_CHANNEL)
    )
    form = modals.form_view(ActionId.NOTE, key, modals.encode_metadata(key, OTHER_CHANNEL))
    note = {Arg.NOTE: {"type": "plain_text_input", "value": "typed in the wrong channel"}}
    await slack.interact(view_submission(ANA, form, note))

    assert await slack.wait(lambda: len(slack.ephemerals(ANA)) == 2 and len(slack.ephemerals(BEN)) == 2)
    for call in world.fake.calls("chat.postEphemeral"):
        assert call.args["channel"] == OTHER_CHANNEL and REFUSED in call.args["text"], call.args
    assert await snapshot(world, key) == before
    after = await world.settled_rows()
    assert after.pop("webhookdelivery") == rows.pop("webhookdelivery") + 4  # the 4 requests' replay keys
    assert after == rows

    # control: the same click from the card's channel claims it
    await slack.click(ANA, "alert.claim", key, channel=CHANNEL)

    async def claimed() -> bool:
        return (await slack.alert(key)).owner_id == ANA["id"]

    assert await slack.until(claimed)


def from_conversation(activity: dict[str, Any], channel: str) -> dict[str, Any]:
    """The same activity as if sent from the Teams channel `channel`."""
    moved = copy.deepcopy(activity)
    moved["conversation"]["id"] = f"{channel};messageid={moved.get('replyToId') or '1'}"
    moved["channelData"]["channel"]["id"] = channel
    return moved


async def test_a_teams_click_from_a_conversation_without_the_card_is_refused(open_world: World) -> None:
    world = open_world
    await link_teams_channel(world.server)
    key = await world.slack.new_alert()
    url = world.connector.url
    assert await world.slack.wait(
        lambda: any((c.conversation or "").startswith(TEAMS_CHANNEL) for c in world.connector.calls())
    ), "the card never reached the Teams channel"
    rows = await world.settled_rows()
    before = await snapshot(world, key)
    assert MANAGERS_CHANNEL != TEAMS_CHANNEL

    reply = await world.server.client.post("/api/messages", json=execute(url, "alert.claim", key, user=MEGAN))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["type"] == "application/vnd.microsoft.activity.message" and REFUSED in body["value"], body
    seen = len(world.connector.calls())
    fallback = await world.server.client.post(
        "/api/messages", json=submit(url, "alert.claim", key, user=MEGAN)
    )
    assert fallback.status_code == 200
    told = [
        str((c.body or {}).get("text")) for c in world.connector.calls()[seen:] if isinstance(c.body, dict)
    ]
    assert any(REFUSED in text for text in told), told
    assert await snapshot(world, key) == before
    after = await world.settled_rows()
    # only bookkeeping moved: the conversation reference and the message dedupe row
    for table in ("conversation", "webhookdelivery"):
        after.pop(table), rows.pop(table)
    assert after == rows

    # control: from the team's channel, where the card lives, the click claims the alert
    here = from_conversation(execute(url, "alert.claim", key, user=MEGAN), TEAMS_CHANNEL)
    reply = await world.server.client.post("/api/messages", json=here)
    assert reply.json()["type"] == "application/vnd.microsoft.card.adaptive", reply.text
    assert (await world.slack.alert(key)).owner_id == MEGAN["aadObjectId"]
