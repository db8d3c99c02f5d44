"""A card a platform refuses for its content is sent again smaller, never lost (issue 11 §2).

The outbox worker runs against the loopback fakes, which refuse what Slack and Teams refuse: the fake
Slack answers `invalid_blocks` / `msg_too_long` (HTTP 200, ok=false) and the fake Bot Connector HTTP 413
for an activity over 28 KB in UTF-16; `reject_content(n)` makes them refuse the next n messages
whatever they hold, to walk the whole ladder (full → compact → minimal).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from adapters.teams.connector import TeamsChat
from bot.actions.table import ActionId, ActionRequest, handle
from bot.alerts.lifecycle import Actor
from bot.config.snapshot import ConfigCache, ConfigSnapshot
from bot.domain import utcnow
from jobs.delivery import DeliveryWorker
from storage.db import SessionFactory, transaction
from storage.models import CardRef, Outbox, Team
from tests.fakes.bot_connector import FakeBotConnector, utf16_bytes
from tests.fakes.slack_api import FakeSlackApi
from tests.helpers import prepared_config, raise_alert
from tests.jobs.test_delivery import Clock, rows, worker_for

ANA = Actor("U0ANA", "Ana", "slack")
TEAMS_CHANNEL = "19:managers@thread.tacv2"
LONG_COMMENT = " ".join(f"word{i} [x](https://evil.example) 😡" for i in range(700))[:20_000]


def blocks_size(call_args: dict[str, Any]) -> int:
    return len(json.dumps(call_args.get("blocks", [])))


async def drain_until_quiet(worker: DeliveryWorker, clock: Clock, rounds: int = 6) -> None:
    """Drain, then let backoff pass, a few times (a row retried later becomes due again)."""
    for _ in range(rounds):
        await worker.drain()
        clock.advance(600)


async def test_a_card_slack_refuses_is_sent_smaller_until_it_passes(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    key = await raise_alert(sessions, config, comment=LONG_COMMENT)
    slack.reject_content(1, error="msg_too_long")
    slack.reject_content(1, error="invalid_blocks")
    clock = Clock()
    await worker_for(sessions, slack, clock, max_attempts=2).drain()  # each smaller try is due at once
    posts = [c for c in slack.calls("chat.postMessage") if not c.args.get("thread_ts")]
    assert [c.error for c in posts] == ["msg_too_long", "invalid_blocks", None]
    sizes = [blocks_size(c.args) for c in posts]
    assert sizes[0] > sizes[1] > sizes[2], "each try is smaller: full, compact, minimal"
    [card] = [m for m in slack.messages_in("C0TEAM") if "thread_ts" not in m]
    shown = json.dumps(card["blocks"])
    assert key in shown and "Claim" in shown and "alert.claim" in shown  # the minimal card still acts
    [row] = [o for o in await rows(sessions, Outbox) if o.kind == "card.post"]
    assert row.status == "done" and row.payload["level"] == 2
    assert [r.channel for r in await rows(sessions, CardRef)] == ["C0TEAM"]


async def test_an_update_and_a_reply_refused_for_content_are_sent_smaller(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    key = await raise_alert(sessions, config)
    clock = Clock()
    worker = worker_for(sessions, slack, clock)
    await worker.drain()
    slack.reject_content(1, method="chat.update")
    await handle(ActionRequest(ActionId.CLAIM, key, ANA), sessions=sessions, config=config, now=utcnow())
    slack.reject_content(1, method="chat.postMessage")  # the thread line "claimed by Ana"
    await drain_until_quiet(worker, clock)
    updates = slack.calls("chat.update")
    assert [c.error for c in updates] == ["invalid_blocks", None]
    assert blocks_size(updates[1].args) < blocks_size(updates[0].args)
    [card] = [m for m in slack.messages_in("C0TEAM") if "thread_ts" not in m]
    assert "Ana" in json.dumps(card["blocks"])
    replies = [c for c in slack.calls("chat.postMessage") if c.args.get("thread_ts")]
    assert [c.error for c in replies][-2:] == ["invalid_blocks", None]
    assert {o.status for o in await rows(sessions, Outbox)} == {"done"}


async def test_a_burst_digest_refused_for_content_still_lists_every_alert(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    config = await prepared_config(sessions, slack_channel="C0BUSY")
    keys = [await raise_alert(sessions, config, external_id=f"b{i}") for i in range(8)]
    slack.reject_content(1)
    clock = Clock()
    await worker_for(sessions, slack, clock).drain()
    posts = slack.calls("chat.postMessage")
    assert [c.error for c in posts] == ["invalid_blocks", None]
    digest = json.dumps(posts[1].args["blocks"])
    assert all(k in digest for k in keys)
    refs = await rows(sessions, CardRef)
    assert len(refs) == 8 and {r.message_id for r in refs} == {slack.messages_in("C0BUSY")[0]["ts"]}


# ---- Teams --------------------------------------------------------------------------------------


@pytest.fixture
async def teams(connector: FakeBotConnector) -> AsyncIterator[TeamsChat]:
    connector.without_rate_limits()  # a response's pieces at once into one thread: about size, not pace
    async with TeamsChat(service_url=connector.url, token_provider=None, tenant_id="t1") as chat:
        chat.pace_seconds = 0.0  # type: ignore[attr-defined]
        yield chat


async def teams_config(sessions: SessionFactory) -> ConfigSnapshot:
    await prepared_config(sessions)
    async with transaction(sessions) as session:
        team = (await session.execute(select(Team))).scalars().first()
        assert team is not None
        team.teams_channel = TEAMS_CHANNEL
    return await ConfigCache(sessions).get()


def card_calls(connector: FakeBotConnector) -> list[Any]:
    return [c for c in connector.calls() if c.path == "/v3/conversations" and "activity" in (c.body or {})]


async def test_a_card_teams_refuses_with_413_is_sent_smaller(
    sessions: SessionFactory, connector: FakeBotConnector, teams: TeamsChat
) -> None:
    config = await teams_config(sessions)
    key = await raise_alert(sessions, config, comment=LONG_COMMENT)
    connector.reject_content(1)
    clock = Clock()
    worker = DeliveryWorker(sessions, {"teams": teams}, clock=clock)
    await drain_until_quiet(worker, clock, rounds=2)
    calls = card_calls(connector)
    assert [c.status for c in calls] == [413, 201]
    assert utf16_bytes(calls[1].body["activity"]) < utf16_bytes(calls[0].body["activity"])
    assert key in json.dumps(calls[1].body)
    [ref] = await rows(sessions, CardRef)
    assert ref.platform == "teams" and ref.thread_id == calls[1].conversation


async def test_a_long_response_fits_the_teams_card_and_goes_whole_to_its_thread(
    sessions: SessionFactory, connector: FakeBotConnector, teams: TeamsChat
) -> None:
    config = await teams_config(sessions)
    answers = [{"question": f"Q{i} " + "q" * 600, "value": "v" * 400} for i in range(40)]
    await raise_alert(sessions, config, comment=LONG_COMMENT, answers=answers)
    clock = Clock()
    await drain_until_quiet(DeliveryWorker(sessions, {"teams": teams}, clock=clock), clock, rounds=2)
    [card] = card_calls(connector)
    assert card.status == 201, "the card fits Teams' limit at the first try"
    assert utf16_bytes(card.body["activity"]) < 28 * 1024
    assert "the full response is in this card" in json.dumps(card.body, ensure_ascii=False)
    pieces = [c.body["text"] for c in connector.calls() if c.conversation == card.conversation
              and c.path.endswith("/activities")]
    assert len(pieces) >= 2 and all(utf16_bytes(p) < 28 * 1024 for p in pieces)
    said = set(" ".join(pieces).split())
    words = [w for w in LONG_COMMENT.split() if w.startswith("word")]
    assert len(words) > 400 and set(words) <= said, "every word of the comment is in the thread"
    assert {f"Q{i}" for i in range(40)} <= said, "and every answer"
    assert {o.status for o in await rows(sessions, Outbox)} == {"done"}
