"""The Details button: a read-only modal with the whole response, opened at once (views.open)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from slack_sdk.models.views import View
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.adapters.slack.slackapp import ANA, BEN, SlackApp, slack_app
from tests.fakes.slack_api import FakeSlackApi

LONG = "The manager <!channel> & staff were rude. " * 200  # ~8,600 characters: more than the card shows


@pytest.fixture
async def slack(engine: AsyncEngine, database_url: str, slack_api: FakeSlackApi) -> AsyncIterator[SlackApp]:
    async with slack_app(database_url, slack_api) as app:
        yield app


async def test_details_opens_the_whole_response_and_changes_nothing(slack: SlackApp) -> None:
    answers = [{"question": f"Question {i}", "value": i % 5 + 1, "scale_min": 1, "scale_max": 5}
               for i in range(12)]
    key = await slack.new_alert(comment=LONG, answers=answers)
    card = json.dumps(slack.card(key))
    assert "Details shows the full text" in card and '"action_id": "alert.details"' in card
    reply = await slack.click(ANA, "alert.details", key)
    assert reply.status_code == 200
    assert await slack.wait(lambda: bool(slack.fake.calls("views.open")))
    [opened] = slack.fake.calls("views.open")
    view = opened.args["view"]
    assert view["callback_id"] == "alert.details" and "submit" not in view
    assert View(**view).to_dict() == view
    text = json.dumps(view["blocks"])
    assert all(f"Question {i}: *{i % 5 + 1} / 5*" in text for i in range(12))
    quoted = [line for b in view["blocks"] if b["type"] == "section"
              for line in b["text"]["text"].splitlines() if line.startswith("> ")]
    escaped = LONG.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert "".join(line.removeprefix("> ") for line in quoted) == escaped  # whole, verbatim, escaped
    assert len(quoted) > 1 and all(line.endswith(" ") for line in quoted)  # cut between words
    assert "<!channel>" not in text
    assert not slack.fake.calls("views.update")  # nothing to load after: it opened complete
    alert = await slack.alert(key)
    assert (alert.status, alert.version) == ("open", 1)


async def test_details_from_a_channel_without_the_card_is_refused_privately(slack: SlackApp) -> None:
    key = await slack.new_alert()
    await slack.click(BEN, "alert.details", key, channel="C0OTHERTEAM")
    assert await slack.wait(lambda: any("not handled in this channel" in t for t in slack.ephemerals(BEN)))
    assert not slack.fake.calls("views.open")
