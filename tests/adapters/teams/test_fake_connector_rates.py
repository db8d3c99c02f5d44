"""The fake Bot Connector limits a bot per conversation as Teams does (7/s, 8/2 s, 60/30 s, 1,800/h; 50/s
for the app), answering 429 with Retry-After; over real HTTP through TeamsChat, and its windows on a
test clock."""

from __future__ import annotations

import pytest

from adapters.teams.connector import TeamsChat
from bot.chat.port import CardPlace, ChatError
from tests.chat.backends import TEAMS_TOKEN
from tests.fakes.bot_connector import ConversationRates, FakeBotConnector

CHANNEL = "19:abc123@thread.tacv2"


async def _token() -> str:
    return TEAMS_TOKEN


def thread(n: int) -> CardPlace:
    return CardPlace(channel=CHANNEL, message_id=str(n), thread_id=f"{CHANNEL};messageid={n}")


async def test_an_eighth_send_in_a_second_is_refused_with_retry_after(fake_teams: FakeBotConnector) -> None:
    async with TeamsChat(service_url=fake_teams.url, token_provider=_token, tenant_id=None) as chat:
        for n in range(7):
            await chat.post_reply(place=thread(1), text=f"line {n}")
        with pytest.raises(ChatError) as info:
            await chat.post_reply(place=thread(1), text="one too many")
        await chat.post_reply(place=thread(2), text="another conversation carries on")
    assert info.value.retry_after is not None and info.value.retry_after >= 1 and not info.value.permanent
    refused = [c for c in fake_teams.calls() if c.status == 429]
    assert len(refused) == 1 and refused[0].conversation == f"{CHANNEL};messageid=1"
    assert fake_teams.activities_in(f"{CHANNEL};messageid=1")[-1]["text"] == "line 6"


async def test_rate_limits_can_be_turned_off() -> None:
    with FakeBotConnector(rate_limits=False) as fake:
        async with TeamsChat(service_url=fake.url, token_provider=_token, tenant_id=None) as chat:
            for n in range(20):
                await chat.post_reply(place=thread(1), text=f"line {n}")
    assert {c.status for c in fake.calls()} == {201}


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_the_windows_per_conversation() -> None:
    clock = Clock()
    rates = ConversationRates(clock)
    assert [rates.check("a") for _ in range(8)] == [None] * 7 + [1]
    assert rates.check("b") is None, "per conversation"
    clock.now += 1.0
    assert rates.check("a") is None  # the 1-s window has room: this is the 8th in 2 s
    assert rates.check("a") == 1  # 8 in 2 s
    sent, clock.now = 8, clock.now + 2.0
    while sent < 60:  # 3⅓ a second: only the 30-s window is left to bite
        clock.now += 0.3
        assert rates.check("a") is None
        sent += 1
    clock.now += 0.5
    wait = rates.check("a")
    assert wait is not None and 1 < wait <= 30, "60 in 30 s"


def test_the_hour_and_the_app() -> None:
    clock = Clock()
    rates = ConversationRates(clock)
    for n in range(1800):
        clock.now += 1.0
        assert rates.check("a") is None, n
    assert rates.check("a") == 1801  # the hour is full until the first of them leaves it
    clock.now += 10.0
    assert [rates.check(f"c{n}") for n in range(51)] == [None] * 50 + [1]  # 50 a second for the app
