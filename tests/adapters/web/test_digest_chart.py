"""The managers' daily digest carries the week's chart: a signed link to /app/charts/week.png, shown as an
image block in Slack and an Image element in Teams (posted to the loopback fakes), and the link serves the
PNG without a session. Without a public URL the platforms could not fetch it: no image at all."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from PIL import Image
from sqlalchemy import update
from sqlmodel import col

from adapters.slack.chat import SlackChat
from adapters.teams.connector import TeamsChat
from bot.digests import build_team_digests
from bot.web.chart_links import CHART_PATH
from storage.db import transaction
from storage.models import Team
from storage.types import utcnow
from tests.adapters.web.queue_helpers import add_alert, default_team_id
from tests.appserver import AppServer, AppWithChats
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi

PUBLIC_URL = "http://127.0.0.1"
SLACK_CHANNEL = "C0MANAGERS"
TEAMS_CHANNEL = "19:managers@thread.tacv2"


async def _managers_and_an_alert(server: AppServer) -> int:
    team = await default_team_id(server)
    async with transaction(server.ctx.sessions) as session:
        await session.execute(update(Team).where(col(Team.id) == team).values(
            managers_slack_channel=SLACK_CHANNEL, managers_teams_channel=TEAMS_CHANNEL))
    created = utcnow() - timedelta(hours=2)
    await add_alert(server, "HA-1", created_at=created, first_contact_at=created + timedelta(minutes=20))
    return team


def _images(body: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for element in body:
        if element.get("type") == "Image":
            found.append(element)
        for key in ("items", "columns", "body"):
            found += _images(element.get(key, []))
    return found


async def test_the_digest_shows_the_signed_chart_on_slack_and_teams(
    app_with_chats: AppWithChats, fake_slack: FakeSlackApi, slack_chat: SlackChat,
    fake_teams: FakeBotConnector, teams_chat: TeamsChat,
) -> None:
    async with app_with_chats(public_url=PUBLIC_URL, systemic_min_count=1_000_000) as server:
        team = await _managers_and_an_alert(server)
        digests = await build_team_digests(server.ctx.sessions, now=utcnow(), settings=server.ctx.settings)
        cards = {platform: (place, card) for platform, place, card in digests}
        assert set(cards) == {"slack", "teams"}
        url = cards["slack"][1].meta["chart_url"]
        assert url == cards["teams"][1].meta["chart_url"]
        assert url.startswith(f"{PUBLIC_URL}{CHART_PATH}?team={team}&exp=") and "&sig=" in url

        await slack_chat.post_digest(channel=SLACK_CHANNEL, digest=cards["slack"][1])
        [message] = fake_slack.messages_in(SLACK_CHANNEL)
        [image] = [block for block in message["blocks"] if block["type"] == "image"]
        assert image["image_url"] == url and image["alt_text"]

        await teams_chat.post_digest(channel=TEAMS_CHANNEL, digest=cards["teams"][1])
        # a channel post starts a conversation (POST /v3/conversations) with the card as its activity
        activities = [call.body.get("activity", call.body) for call in fake_teams.calls()
                      if call.status < 400]
        bodies = [a["content"]["body"] for activity in activities for a in activity.get("attachments", [])]
        [element] = [e for body in bodies for e in _images(body)]
        assert element["url"] == url and element["altText"]

        reply = await server.client.get(url.removeprefix(PUBLIC_URL))  # as the platforms fetch it
        assert reply.status_code == 200 and reply.headers["content-type"] == "image/png"
        picture = Image.open(io.BytesIO(reply.content))
        picture.load()
        assert picture.size == (800, 400)


async def test_no_chart_in_the_digest_without_a_public_url(
    app_with_chats: AppWithChats, fake_slack: FakeSlackApi, slack_chat: SlackChat
) -> None:
    async with app_with_chats(public_url="", systemic_min_count=1_000_000) as server:
        await _managers_and_an_alert(server)
        digests = await build_team_digests(server.ctx.sessions, now=utcnow(), settings=server.ctx.settings)
        assert digests and all("chart_url" not in card.meta for _, _, card in digests)
        slack = next(card for platform, _, card in digests if platform == "slack")
        await slack_chat.post_digest(channel=SLACK_CHANNEL, digest=slack)
        [message] = fake_slack.messages_in(SLACK_CHANNEL)
        assert not [block for block in message["blocks"] if block["type"] == "image"]
