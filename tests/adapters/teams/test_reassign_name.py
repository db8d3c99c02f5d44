"""Reassign from Teams' people picker: the picked person arrives as an Entra object id only, so the bot
asks the Bot Connector for their name (GET v3/conversations/{team}/members/{id}, as botbuilder's
TeamsInfo.get_member) and the card names the new owner; when the lookup fails, the id stands in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from adapters.teams.card_actions import input_id
from bot.action_ids import ActionId, Arg
from bot.settings import Role
from storage import queries
from storage.models import CardRef
from tests.adapters.teams.activities import ADELE, CHANNEL, DETRACTOR, TEAM_ID, execute
from tests.adapters.teams.test_answer_in_place import drain
from tests.appserver import AppServer, AppWithChats
from tests.fakes.bot_connector import FakeBotConnector

PICKER = input_id(ActionId.REASSIGN, Arg.USER)


@pytest.fixture
async def server(app_with_chats: AppWithChats) -> AsyncIterator[AppServer]:
    async with app_with_chats(teams=True, role=Role.WEB, default_team={"teams_channel": CHANNEL}) as app:
        yield app


async def reassign_to(
    server: AppServer, connector: FakeBotConnector, user_id: str, n: int
) -> tuple[str, str]:
    """A new alert reassigned from its card to `user_id`: (owner id, owner name) afterwards."""
    posted = await server.post_feedback({**DETRACTOR, "id": f"pick-{n}"})
    key = str(posted.json()["alert"])
    await drain(server, connector)
    async with server.ctx.sessions() as session:
        ref = next(r for r in (await session.execute(select(CardRef))).scalars() if r.message_id)
    picked: dict[str, Any] = {PICKER: user_id}
    click = execute(connector.url, "alert.reassign", key, **picked)
    click.update(replyToId=ref.message_id)
    answer = await server.client.post("/api/messages", json=click)
    assert answer.status_code == 200 and answer.json()["type"].endswith("card.adaptive"), answer.text
    async with server.ctx.sessions() as session:
        alert = await queries.get_alert(session, key=key)
    assert alert is not None and alert.owner_id and alert.owner_name
    return alert.owner_id, alert.owner_name


async def test_the_picked_person_is_named_from_the_bot_connector(
    server: AppServer, connector: FakeBotConnector
) -> None:
    aad = ADELE["aadObjectId"]
    connector.members[aad] = {**ADELE, "userPrincipalName": "adele@contoso.test"}
    assert await reassign_to(server, connector, aad, 1) == (aad, "Adele Vance")
    [lookup] = [c for c in connector.calls() if c.method == "GET"]
    assert lookup.path == f"/v3/conversations/{TEAM_ID}/members/{aad}", "the team's member, by Entra id"


async def test_an_unknown_person_is_shown_by_id_and_still_reassigned(
    server: AppServer, connector: FakeBotConnector
) -> None:
    unknown = "0b0e0f00-1111-4222-8333-444455556666"
    assert await reassign_to(server, connector, unknown, 2) == (unknown, unknown)
    assert [c.status for c in connector.calls() if c.method == "GET"] == [404]
