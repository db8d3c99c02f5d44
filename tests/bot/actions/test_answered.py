"""A click its adapter answers: the change's card.update skips the clicked place, coalescing keeps only
what every merged change skips, the worker sends several rows of one alert as one call skipping only
their common places, and a claim from a digest DMs the full card."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.actions.table import ActionId, ActionRequest, handle
from bot.alerts.lifecycle import Actor
from bot.config.snapshot import ConfigSnapshot
from bot.domain import utcnow
from bot.outbox import card_update_values
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import CardRef, Outbox
from tests.fakes.slack_api import FakeSlackApi
from tests.helpers import prepared_config, raise_alert

ANA = Actor("U0ANA", "Ana", "slack")


async def outbox(sessions: SessionFactory, kind: str) -> list[Outbox]:
    async with sessions() as session:
        query = select(Outbox).where(Outbox.kind == kind).order_by(Outbox.id)  # type: ignore[arg-type]
        return list((await session.execute(query)).scalars())


async def act(sessions: SessionFactory, config: ConfigSnapshot, action: ActionId, key: str,
              place: tuple[str, str, str] | None, **args: Any) -> None:
    request = ActionRequest(action, key, ANA, args, answered_place=place)
    reply = await handle(request, sessions=sessions, config=config, now=utcnow())
    assert reply.ok, reply.message


async def test_coalesced_changes_skip_only_the_places_they_were_all_answered_at(
    sessions: SessionFactory,
) -> None:
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    key = await raise_alert(sessions, config)
    here = ("slack", "C0TEAM", "1.0001")
    await act(sessions, config, ActionId.CLAIM, key, here)
    [row] = await outbox(sessions, "card.update")
    assert row.payload == {"answered": [list(here)]}
    await act(sessions, config, ActionId.SNOOZE, key, here, until="30m")
    [row] = await outbox(sessions, "card.update")
    assert row.payload == {"answered": [list(here)]}, "answered at the same place again: still skipped"
    await act(sessions, config, ActionId.NOTE, key, None, note="called back")
    [row] = await outbox(sessions, "card.update")
    assert row.payload == {"answered": []}, "a change nobody answered: every place is updated"


async def test_a_claim_from_a_digest_sends_the_full_card_by_dm(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions, slack_channel="C0TEAM")
    key = await raise_alert(sessions, config)
    await act(sessions, config, ActionId.CLAIM, key, ("slack", "C0TEAM", "1.0001"))
    assert await outbox(sessions, "dm") == [], "a claim on the alert's own card needs no DM"
    other = await raise_alert(sessions, config, external_id="r-2")
    async with transaction(sessions) as session:  # where the worker put it: a line of a digest
        alert = await queries.get_alert(session, key=other)
        assert alert is not None and alert.id is not None
        session.add(CardRef(alert_id=alert.id, platform="slack", channel="C0TEAM", message_id="2.0002",
                            audience="digest"))
    await act(sessions, config, ActionId.CLAIM, other, ("slack", "C0TEAM", "2.0002"))
    [dm] = await outbox(sessions, "dm")
    assert (dm.platform, dm.destination, dm.payload["card"]) == ("slack", "U0ANA", "team")
    assert other in dm.payload["text"]


async def test_the_worker_sends_an_alerts_updates_as_one_call_skipping_only_common_places(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    from tests.jobs.test_delivery import worker_for  # the delivery tests' worker on the fake Slack

    config = await prepared_config(sessions, slack_channel="C0TEAM")
    key = await raise_alert(sessions, config)
    worker = worker_for(sessions, slack)
    await worker.drain()
    [post] = slack.calls("chat.postMessage")
    here = ("slack", "C0TEAM", str(slack.messages_in("C0TEAM")[0]["ts"]))
    await act(sessions, config, ActionId.CLAIM, key, here)
    await worker.drain()
    assert slack.calls("chat.update") == [], "the answered place is skipped"
    await act(sessions, config, ActionId.SNOOZE, key, here, until="30m")
    async with transaction(sessions) as session:  # what a failed answer leaves: a row that skips nothing
        [alert_id] = {row.alert_id for row in await outbox(sessions, "card.update")}
        session.add(Outbox(**card_update_values(alert_id=alert_id or 0, now=utcnow())))
    await worker.drain()
    [update] = slack.calls("chat.update")
    assert update.args["ts"] == here[2] and post.args["channel"] == "C0TEAM"
