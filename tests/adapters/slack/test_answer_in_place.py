"""A Slack click answered in place: the clicked message replaced through the click's response_url, the
alert's other places through the outbox, nothing lost when the response_url refuses.

The app runs without its delivery worker (role web); each test drives a `DeliveryWorker` against the same
database and fake Slack, so what the outbox does after a click is seen step by step.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack import modals, translate
from adapters.slack.chat import SlackChat
from bot.actions.table import ActionId, ActionRequest, handle
from bot.alerts.lifecycle import Actor
from bot.domain import utcnow
from bot.settings import Role
from jobs.delivery import DeliveryWorker
from storage.models import Outbox
from tests.adapters.slack.slackapp import ANA, CHANNEL, DETRACTOR, SlackApp, block_actions, button, slack_app
from tests.adapters.slack.slackapp import view_submission as submission_of
from tests.fakes.slack_api import FakeSlackApi
from tests.fixtures import payload

MANAGERS = "C0MANAGERS"
SAM = Actor("U0ADMIN", "Sam", "slack")


@pytest.fixture
async def slack(engine: AsyncEngine, database_url: str, slack_api: FakeSlackApi) -> AsyncIterator[SlackApp]:
    team = {"managers_slack_channel": MANAGERS}
    async with slack_app(database_url, slack_api, role=Role.WEB, default_team=team, admins=["U0ADMIN"]
                         ) as app:
        yield app


def worker(slack: SlackApp) -> DeliveryWorker:
    chat = SlackChat(slack.fake.token, base_url=slack.fake.url, timeout=2.0)
    chat.pace_seconds = 0.0
    return DeliveryWorker(slack.server.ctx.sessions, {"slack": chat})


async def raise_alerts(slack: SlackApp, count: int = 1) -> list[str]:
    """`count` alerts through the webhook, their cards (or one digest) posted by the worker."""
    keys = []
    for n in range(count):
        reply = await slack.server.post_feedback({**DETRACTOR, "id": f"r-{n}"})
        assert reply.status_code == 202, reply.text
        keys.append(str(reply.json()["alert"]))
    await worker(slack).drain()
    return keys


async def card_updates(slack: SlackApp) -> list[dict[str, Any]]:
    async with slack.server.ctx.sessions() as session:
        query = select(Outbox).where(Outbox.kind == "card.update")  # type: ignore[arg-type]
        return [dict(row.payload) for row in (await session.execute(query)).scalars()]


def updated_ts(slack: SlackApp, since: int = 0) -> list[str]:
    """The ts of each message chat.update changed, from the `since`-th call on."""
    return [str(c.args["ts"]) for c in slack.fake.calls("chat.update")[since:] if c.status == 200]


def message(slack: SlackApp, channel: str, ts: str) -> dict[str, Any]:
    return next(m for m in slack.fake.messages_in(channel) if m["ts"] == ts)


def answered(slack: SlackApp, count: int = 1) -> bool:
    return len(slack.fake.calls("response_url")) >= count


async def escalate(slack: SlackApp, key: str) -> str:
    """The alert's managers' card, posted by the worker; → its ts."""
    config = await slack.server.ctx.config.get()
    reply = await handle(ActionRequest(ActionId.ESCALATE, key, SAM, {"reason": "VIP"}),
                         sessions=slack.server.ctx.sessions, config=config, now=utcnow())
    assert reply.ok, reply.message
    await worker(slack).drain()
    ts = slack.ts_of(key, MANAGERS)
    assert ts is not None
    return ts


def test_a_click_on_a_message_names_its_response_url_and_place() -> None:
    body = payload("slack_block_actions.json")  # bolt-python's fixture: an ephemeral message
    assert translate.clicked_message(body) is None, "an ephemeral message is no place of a card"
    body["container"]["is_ephemeral"] = False
    answer = translate.clicked_message(body)
    assert answer == ("https://hooks.slack.com/actions/T111/111/random-value", ("C111", "111.222"))
    assert translate.answered_place(answer) == ("slack", "C111", "111.222")
    assert translate.clicked_message({**body, "container": {"type": "view", "view_id": "V1"}}) is None


def test_a_form_keeps_the_response_url_within_slacks_private_metadata_limit() -> None:
    answer = ("https://hooks.slack.com/actions/T1/2/x", ("C1", "1.2"))
    kept = modals.encode_metadata("HA-1", "C1", answer)
    assert modals.decode_answer(kept) == answer and modals.decode_metadata(kept) == ("HA-1", "C1")
    huge = ("https://hooks.slack.com/actions/" + "x" * 3000, ("C1", "1.2"))
    dropped = modals.encode_metadata("HA-1", "C1", huge)
    assert len(dropped) <= 3000 and modals.decode_answer(dropped) is None
    assert modals.decode_metadata(dropped) == ("HA-1", "C1"), "the form still works, only not in place"
    assert modals.decode_answer(modals.encode_metadata("HA-1", "C1", ("javascript:x", ("C1", "1")))) is None


async def test_the_clicked_card_shows_the_owner_at_once_and_only_the_other_places_follow(
    slack: SlackApp,
) -> None:
    [key] = await raise_alerts(slack)
    managers_ts = await escalate(slack, key)
    team_ts = slack.ts_of(key)
    assert team_ts is not None
    before = len(slack.fake.calls("chat.update"))
    assert (await slack.click_card(ANA, "alert.claim", key)).status_code == 200
    assert await slack.wait(lambda: answered(slack))
    [call] = slack.fake.calls("response_url")
    assert call.status == 200 and call.args["replace_original"] is True and call.args["text"]
    card = message(slack, CHANNEL, team_ts)
    assert card["edited"] == {"via": "response_url"} and "U0ANA" in json.dumps(card["blocks"])
    assert len(slack.fake.calls("chat.update")) == before, "the outbox has not run yet"
    assert {"answered": [["slack", CHANNEL, team_ts]]} in await card_updates(slack)
    await worker(slack).drain()
    assert updated_ts(slack, before) == [managers_ts], "only the managers' card: the clicked one is done"
    assert "U0ANA" in json.dumps(message(slack, MANAGERS, managers_ts)["blocks"])


async def test_a_refused_response_url_falls_back_to_chat_update(slack: SlackApp) -> None:
    [key] = await raise_alerts(slack)
    team_ts = slack.ts_of(key)
    assert team_ts is not None
    slack.fake.response_urls.fail_next(status=500)
    await slack.click_card(ANA, "alert.claim", key)
    assert await slack.until(lambda: _place_row_written(slack))
    assert slack.fake.calls("response_url")[0].status == 500
    await worker(slack).drain()
    assert team_ts in updated_ts(slack)
    assert "U0ANA" in json.dumps(message(slack, CHANNEL, team_ts)["blocks"])


async def _place_row_written(slack: SlackApp) -> bool:
    """The click's own card.update skips the place; the fallback's skips nothing."""
    return any(not p.get("answered") for p in await card_updates(slack))


@pytest.mark.parametrize("spent", ["used", "expired"])
async def test_a_used_up_or_expired_response_url_falls_back_to_chat_update(
    slack: SlackApp, spent: str
) -> None:
    [key] = await raise_alerts(slack)
    team_ts = slack.ts_of(key)
    assert team_ts is not None
    url = slack.fake.response_url_for(CHANNEL, team_ts)
    if spent == "used":
        async with httpx.AsyncClient() as client:
            for _ in range(5):  # Slack allows five responses per response_url
                reply = await client.post(url, json={"response_type": "ephemeral", "text": "working on it"})
                assert reply.status_code == 200
    else:
        slack.fake.response_urls.age(31 * 60)  # older than Slack's 30 minutes
    await slack.interact(block_actions(ANA, button("alert.claim", key), message_ts=team_ts, response_url=url))
    assert await slack.until(lambda: _place_row_written(slack))
    refused = slack.fake.calls("response_url")[-1]
    assert (refused.status, refused.error) == (404, f"{spent}_url")
    await worker(slack).drain()
    assert team_ts in updated_ts(slack)
    assert "U0ANA" in json.dumps(message(slack, CHANNEL, team_ts)["blocks"])


async def test_a_form_submitted_later_replaces_the_message_it_was_opened_from(slack: SlackApp) -> None:
    [key] = await raise_alerts(slack)
    team_ts = slack.ts_of(key)
    assert team_ts is not None
    await slack.click_card(ANA, "alert.escalate", key)
    assert await slack.wait(lambda: bool(slack.fake.calls("views.update")))
    form = slack.fake.calls("views.update")[-1].args["view"]
    assert json.loads(form["private_metadata"])["answer"]["at"] == [CHANNEL, team_ts]
    assert not slack.fake.calls("response_url"), "opening a form changes nothing yet"
    reason = {"type": "plain_text_input", "value": "VIP customer"}
    assert (await slack.interact(submission_of(ANA, form, {"reason": reason}))).status_code == 200
    assert await slack.wait(lambda: answered(slack))
    assert slack.fake.calls("response_url")[0].status == 200
    assert "escalat" in json.dumps(message(slack, CHANNEL, team_ts)["blocks"]).lower()
    assert any(p.get("answered") == [["slack", CHANNEL, team_ts]] for p in await card_updates(slack))
    await worker(slack).drain()
    assert team_ts not in updated_ts(slack)


async def test_a_claim_from_a_digest_refreshes_the_digest_and_sends_the_full_card_by_dm(
    slack: SlackApp,
) -> None:
    keys = await raise_alerts(slack, 5)
    [digest] = [m for m in slack.fake.messages_in(CHANNEL) if "thread_ts" not in m]
    assert all(k in json.dumps(digest["blocks"]) for k in keys), "five alerts at once: one digest"
    before = len(slack.fake.calls("chat.update"))
    await slack.click(ANA, "alert.claim", keys[2], message_ts=digest["ts"])
    assert await slack.wait(lambda: answered(slack))
    shown = json.dumps(message(slack, CHANNEL, digest["ts"])["blocks"])
    assert ":bust_in_silhouette: ana" not in json.dumps(digest["blocks"])
    assert all(k in shown for k in keys) and ":bust_in_silhouette: ana" in shown, "the refreshed digest"
    await worker(slack).drain()
    assert updated_ts(slack, before) == [digest["ts"]], "a digest is refreshed once more by the outbox"
    dm = slack.fake.messages_in("D0ANA")
    assert len(dm) == 1 and keys[2] in json.dumps(dm[0]["blocks"])
    assert "Dana" in json.dumps(dm[0]["blocks"]) and "Rude staff" in json.dumps(dm[0]["blocks"])
    # the DM card's buttons work: its clicks act (no team channel to check) and replace it in place
    await slack.click(ANA, "alert.unclaim", keys[2], channel="D0ANA", message_ts=dm[0]["ts"])
    assert await slack.wait(lambda: answered(slack, 2))
    assert slack.fake.calls("response_url")[1].status == 200
    assert (await slack.alert(keys[2])).owner_id is None
    assert slack.ephemerals(ANA) == []
    # only the owner acts from a DM: no longer theirs, the DM card is no way around the channel check
    await slack.click(ANA, "alert.claim", keys[2], channel="D0ANA", message_ts=dm[0]["ts"])
    assert await slack.wait(lambda: bool(slack.ephemerals(ANA)))
    assert "not handled in this channel" in slack.ephemerals(ANA)[0]
    assert (await slack.alert(keys[2])).owner_id is None
    await worker(slack).drain()
    assert digest["ts"] in updated_ts(slack), "the digest follows a change made from the DM card"


async def test_many_claims_on_one_digest_at_once_end_with_every_owner_shown(slack: SlackApp) -> None:
    keys = await raise_alerts(slack, 6)
    [digest] = [m for m in slack.fake.messages_in(CHANNEL) if "thread_ts" not in m]
    before = len(slack.fake.calls("chat.update"))
    users = [{"id": f"U0C{n}", "username": f"user{n}", "name": f"user{n}", "team_id": "T0TEST"}
             for n in range(len(keys))]
    await asyncio.gather(*(slack.click(user, "alert.claim", key, message_ts=digest["ts"])
                           for user, key in zip(users, keys, strict=True)))

    def every_owner_shown() -> bool:
        shown = json.dumps(message(slack, CHANNEL, digest["ts"])["blocks"])
        return all(f":bust_in_silhouette: user{n}" in shown for n in range(len(keys)))

    assert await slack.wait(every_owner_shown), "the last replacement shows every claim"
    assert len(slack.fake.calls("response_url")) <= len(keys)
    await worker(slack).drain()
    # the outbox refreshes a digest once more after answers in place (another alert's change may have
    # committed between a replacement's render and its arrival): one call for all six claims
    assert updated_ts(slack, before) == [digest["ts"]], "one chat.update for the whole digest"
    assert every_owner_shown()
