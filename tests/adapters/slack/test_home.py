"""The App Home tab: my open alerts, the open queue, this week's figures; acting from Home."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.models.views import View

from adapters.slack.home import MINE_MAX, build_home
from adapters.slack.render import action_ids
from bot.metrics import LoopFigures
from tests.adapters.slack.slackapp import ANA, BEN, SlackApp, block_actions, button, home_opened
from tests.appserver import AppWithChats
from tests.factories import NOW, sample_card
from tests.fakes.slack_api import FakeSlackApi


@pytest.fixture
async def slack(app_with_chats: AppWithChats, fake_slack: FakeSlackApi) -> AsyncIterator[SlackApp]:
    async with app_with_chats(slack=True) as server:
        yield SlackApp(server, fake_slack)


def blocks_text(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"])


def test_home_stays_within_100_blocks_and_is_valid_block_kit() -> None:
    mine = [
        sample_card(key=f"HA-{1000 + i}", status="claimed", owner_id="U0ANA", owner_name="ana")
        for i in range(MINE_MAX)
    ]
    queue = [sample_card(key=f"HA-{2000 + i}") for i in range(10)]
    figures = LoopFigures(team="all teams", raised=40, responded=30, claim_seconds=[60.0, 600.0])
    view = build_home(mine=mine, mine_more=7, queue=queue, figures=figures, now=NOW)
    assert len(view["blocks"]) <= 100
    assert View(**view).to_dict() == view
    ids = [b["block_id"] for b in view["blocks"]]
    assert len(ids) == len(set(ids))
    text = blocks_text(view)
    assert "+7 more" in text and "75 %" in text
    assert "<!channel>" not in text  # customer text is escaped (the sample comment carries one)


def test_empty_home() -> None:
    view = build_home(mine=[], mine_more=0, queue=[], figures=LoopFigures(team="all teams"), now=NOW)
    assert "Nothing on your plate" in blocks_text(view)
    assert View(**view).to_dict() == view


async def test_home_opened_publishes_my_alerts_the_queue_and_figures(slack: SlackApp) -> None:
    mine = await slack.new_alert("r-1")
    waiting = await slack.new_alert("r-2")
    await slack.click(ANA, "alert.claim", mine)

    async def claimed() -> bool:
        return (await slack.alert(mine)).owner_id == "U0ANA"

    assert await slack.until(claimed)
    reply = await slack.event(home_opened("U0ANA", "Ev0HOME1"))
    assert reply.status_code == 200
    assert await slack.wait(lambda: bool(slack.fake.calls("views.publish")))
    [call] = slack.fake.calls("views.publish")
    assert call.args["user_id"] == "U0ANA"
    view = call.args["view"]
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    ids = [b.get("block_id") for b in view["blocks"]]
    assert f"home.mine.{mine}.text" in ids and f"home.mine.{mine}.actions" in ids
    assert f"home.queue.{waiting}.text" in ids and f"home.queue.{mine}.text" not in ids
    mine_actions = next(b for b in view["blocks"] if b.get("block_id") == f"home.mine.{mine}.actions")
    assert action_ids([mine_actions]) >= {"alert.resolve", "alert.unclaim", "alert.details"}  # unclaim: menu
    assert "Raised:* 2" in blocks_text(view) and "Responded to:* 50 %" in blocks_text(view)


async def test_messages_tab_publishes_nothing(slack: SlackApp) -> None:
    await slack.event(home_opened("U0ANA", "Ev0MSG1", tab="messages"))
    await slack.event(home_opened("U0ANA", "Ev0HOME2"))
    assert await slack.wait(lambda: bool(slack.fake.calls("views.publish")))
    assert len(slack.fake.calls("views.publish")) == 1


async def test_claim_from_home_republishes_home(slack: SlackApp) -> None:
    key = await slack.new_alert()
    reply = await slack.interact(block_actions(BEN, button("alert.claim", key), channel=None))
    assert reply.status_code == 200
    assert await slack.wait(lambda: bool(slack.fake.calls("views.publish")))
    view = slack.fake.calls("views.publish")[-1].args["view"]
    assert slack.fake.calls("views.publish")[-1].args["user_id"] == "U0BEN"
    assert f"home.mine.{key}.text" in [b.get("block_id") for b in view["blocks"]]


async def test_refusal_from_home_arrives_as_a_direct_message(slack: SlackApp) -> None:
    key = await slack.new_alert()
    await slack.click(ANA, "alert.claim", key)

    async def claimed() -> bool:
        return (await slack.alert(key)).owner_id == "U0ANA"

    assert await slack.until(claimed)
    await slack.interact(block_actions(BEN, button("alert.unclaim", key), channel=None))
    assert await slack.wait(
        lambda: any(c.args.get("channel") == "U0BEN" for c in slack.fake.calls("chat.postMessage"))
    )
    dm = next(c for c in slack.fake.calls("chat.postMessage") if c.args.get("channel") == "U0BEN")
    assert "Only the owner" in dm.args["text"]
    assert (await slack.alert(key)).owner_id == "U0ANA"
