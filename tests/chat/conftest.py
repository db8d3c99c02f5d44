"""`backend`: every chat platform in turn, its adapter on its loopback fake (tests/chat/backends.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.chat.backends import Backend, SlackBackend, TeamsBackend, slack_chat_on, teams_chat_on

PLATFORMS = ("slack", "teams")


@pytest.fixture(params=PLATFORMS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "slack":
        fake_slack = request.getfixturevalue("fake_slack")
        yield SlackBackend(fake_slack, slack_chat_on(fake_slack))
        return
    fake_teams = request.getfixturevalue("fake_teams")
    async with teams_chat_on(fake_teams) as chat:
        yield TeamsBackend(fake_teams, chat)
