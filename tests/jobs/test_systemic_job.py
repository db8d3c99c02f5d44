"""Systemic spikes end to end (issue 15), on SQLite and PostgreSQL: the real app with its jobs (the
systemic detector every 2 s, the outbox worker), Slack and Teams on their loopback fakes, responses
through the signed webhook. No history and HOTLOOP_SYSTEMIC_MIN_COUNT=3: the third detractor from
location 042 within 2 h is a spike.

A burst makes ONE SYS parent, though it shares three values (the topic "delivery late", location 042, the
source): its most specific value, the topic, whose card names the location; the others find their
window on that card already, and the source has no baseline yet. It is posted ONCE to the managers (the
Slack managers channel and the Teams managers channel), never to the team's channel; later children
update that same message in place (chat.update / a Bot Connector PUT); each child's card says "Part of
SYS-n"; resolving the parent with its children box checked
resolves its open children with the same outcome and root cause, each with its own "resolved" event,
and their cards follow — except a child someone else owns.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.action_ids import Arg
from bot.actions.forms import TRUE
from bot.actions.table import ActionId, ActionRequest, handle, precheck
from bot.alerts.lifecycle import Actor
from bot.domain import utcnow
from bot.outbox import ALONE
from storage.db import SessionFactory, transaction
from storage.models import Alert, AlertEvent, CardRef, Outbox, SystemicIssue
from tests.adapters.teams.activities import CHANNEL as TEAMS_MANAGERS
from tests.adapters.teams.activities import execute
from tests.adapters.teams.card_schema import walk
from tests.appserver import AppServer, AppWithChats
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi
from tests.helpers import prepared_config, raise_alert
from tests.jobs.test_delivery import worker_for

TEAM_CHANNEL = "C0TEAM"
MANAGERS = "C0MGR"
ANA = Actor("U0ANA", "Ana", "slack")  # claims one child: it is hers, not the resolver's
BOB = Actor("U0BOB", "Bob", "slack")  # resolves the issue (no manager: Ana's child stays open)
SYS_CARD = re.compile(r"^\S+ (SYS-\d+) · ")
TEAMS_SYS_HEADER = re.compile(r"\"\*\*SYS\\\\-\d+\*\* · ")  # a card's header "**SYS\\-2** · Open", in JSON
WAIT = 60.0  # seconds a step may take on a loaded machine (each detector pass waits 2 s + its tick)


async def eventually(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def eventually_async(check: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    for _ in range(int(timeout / 0.1)):
        if found := await check():
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def server(app_with_chats: AppWithChats, slack: FakeSlackApi,
                 connector: FakeBotConnector) -> AsyncIterator[AppServer]:
    slack.without_tiers()
    connector.without_rate_limits()
    team = {"slack_channel": TEAM_CHANNEL, "managers_slack_channel": MANAGERS,
            "managers_teams_channel": TEAMS_MANAGERS}
    async with app_with_chats(slack=True, teams=True, default_team=team, admins=["U0ADMIN"],
                              systemic_min_count=3) as app:
        yield app


def top_level(slack: FakeSlackApi, channel: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages_in(channel) if "thread_ts" not in m]


def sys_cards(slack: FakeSlackApi, channel: str = MANAGERS) -> list[str]:
    """The keys of the SYS cards posted in `channel` ("🔴 SYS-2 · Open · unclaimed · …"), in order."""
    return [found[1] for m in top_level(slack, channel) if (found := SYS_CARD.match(m["text"]))]


def teams_posts(connector: FakeBotConnector) -> list[Any]:
    """SYS cards started in the Teams managers channel (a new conversation per card)."""
    return [c for c in connector.calls() if c.method == "POST" and c.path == "/v3/conversations"
            and c.status < 400 and TEAMS_MANAGERS in (c.conversation or "")
            and TEAMS_SYS_HEADER.search(json.dumps(c.body, ensure_ascii=False))]


def teams_updates(connector: FakeBotConnector, activity_id: str) -> list[str]:
    return [json.dumps(c.body, ensure_ascii=False) for c in connector.calls()
            if c.method == "PUT" and c.activity_id == activity_id and c.status < 400]


def slack_updates(slack: FakeSlackApi, ts: str) -> list[str]:
    return [json.dumps(c.args["blocks"], ensure_ascii=False) for c in slack.calls("chat.update")
            if c.args.get("ts") == ts and c.status == 200 and not c.error]


def slack_shows(slack: FakeSlackApi, ts: str, *needles: str) -> Callable[[], bool]:
    """A check: the Slack message `ts` was updated to show every one of `needles`."""
    return lambda: any(all(n in u for n in needles) for u in slack_updates(slack, ts))


async def respond(server: AppServer, slack: FakeSlackApi, n: int) -> str:
    """Detractor n from location 042, served by its own employee; → its key, once its card is up (one
    card each, not a burst digest)."""
    payload = {"id": f"r-{n}", "nps": 2, "comment": "The delivery was late, again. Nobody called.",
               "customer": {"name": f"Dana {n} <!channel>"},
               "attributes": {"location": "042", "employee": f"Employee {n}"}}
    answer = await server.post_feedback(payload)
    assert answer.status_code == 202, answer.text
    key: str = answer.json()["alert"]
    await eventually(lambda: any(key in str(m.get("blocks")) for m in top_level(slack, TEAM_CHANNEL)),
                     f"{key}'s card")
    return key


async def issues(server: AppServer) -> list[SystemicIssue]:
    async with server.ctx.sessions() as session:
        found = await session.execute(select(SystemicIssue).order_by(col(SystemicIssue.id)))
        return list(found.scalars().all())


async def alerts(server: AppServer, keys: list[str]) -> dict[str, Alert]:
    async with server.ctx.sessions() as session:
        found = await session.execute(select(Alert).where(col(Alert.key).in_(keys)))
        return {a.key or "": a for a in found.scalars().all()}


async def place(server: AppServer, alert_id: int, platform: str) -> CardRef:
    """Where the alert's card lives on `platform` (one place each here), once the delivery worker has
    recorded it (it does so after the platform answered the post)."""
    async def recorded() -> CardRef | None:
        async with server.ctx.sessions() as session:
            found = (await session.execute(select(CardRef).where(
                col(CardRef.alert_id) == alert_id, col(CardRef.platform) == platform))).scalars().all()
        assert len(found) <= 1, "one place each"
        return found[0] if found else None

    ref: CardRef = await eventually_async(recorded, f"alert {alert_id}'s {platform} card reference")
    return ref


async def resolved_events(server: AppServer) -> list[tuple[int, str | None]]:
    """(alert id, the SYS key it was resolved with) of every "resolved" event, sorted."""
    async with server.ctx.sessions() as session:
        events = await session.execute(select(AlertEvent).where(col(AlertEvent.kind) == "resolved"))
        return sorted((e.alert_id, e.data.get("systemic")) for e in events.scalars())


def card_of(slack: FakeSlackApi, channel: str, key: str) -> dict[str, Any]:
    [card] = [m for m in top_level(slack, channel) if f" {key} ·" in m["text"]]
    return card


def blocks_of(slack: FakeSlackApi, channel: str, key: str) -> str:
    return json.dumps(card_of(slack, channel, key)["blocks"], ensure_ascii=False)


async def posted_issues(server: AppServer, slack: FakeSlackApi, connector: FakeBotConnector,
                        children: int) -> list[SystemicIssue] | None:
    """The issues once each has `children` and its card is up on both platforms; None until then."""
    found = await issues(server)
    if not found or any(i.child_count < children for i in found):
        return None
    if len(sys_cards(slack)) < len(found) or len(teams_posts(connector)) < len(found):
        return None
    return found


async def test_a_burst_opens_one_card_for_the_managers_updated_in_place_and_resolved_as_one(
    server: AppServer, slack: FakeSlackApi, connector: FakeBotConnector
) -> None:
    first = [await respond(server, slack, n) for n in range(1, 4)]
    opened = await eventually_async(lambda: posted_issues(server, slack, connector, 3), "the SYS card")
    [issue] = opened  # not also location 042 and source web: one burst, one card
    assert (issue.dimension, issue.value) == ("topic", "delivery late")
    sys_key = f"SYS-{issue.number}"
    assert sys_cards(slack) == [sys_key], "exactly one SYS card in the Slack managers channel"
    assert len(teams_posts(connector)) == 1, "exactly one SYS card in the Teams managers channel"
    assert not [m for m in top_level(slack, MANAGERS) if "hot alerts" in m["text"]], "no SYS in a digest"
    assert not sys_cards(slack, TEAM_CHANNEL), "the managers' cards, not the team's"

    card = blocks_of(slack, MANAGERS, sys_key)
    assert ("3 detractors mention *delivery late* at location 042 in the last 2 h (no history yet) — "
            "about 75 customers affected (1 in 25 complain)") in card
    assert all(key in card for key in first) and "*3 alerts in this issue*" in card
    assert "<!channel>" not in card and "&lt;!channel&gt;" in card

    child_cards = {key: card_of(slack, TEAM_CHANNEL, key)["ts"] for key in first}
    for key, ts in child_cards.items():  # each child's card now says which issue it is part of
        await eventually(slack_shows(slack, ts, "Part of", sys_key), f"{key}: part of")

    more = await more_children_update_in_place(server, slack, connector, issue)
    assert sys_cards(slack) == [sys_key] and len(teams_posts(connector)) == 1, "still one card each"
    child_cards |= {key: card_of(slack, TEAM_CHANNEL, key)["ts"] for key in more}
    await resolve_with_children(server, slack, sys_key, first + more, child_cards, {issue.alert_id})


async def more_children_update_in_place(server: AppServer, slack: FakeSlackApi, connector: FakeBotConnector,
                                        issue: SystemicIssue) -> list[str]:
    """Two more detractors join: the issue's cards are updated where they are, nothing new is posted."""
    in_slack = await place(server, issue.alert_id, "slack")
    in_teams = await place(server, issue.alert_id, "teams")
    assert (in_slack.channel, in_slack.audience) == (MANAGERS, "managers")
    assert in_slack.message_id == card_of(slack, MANAGERS, f"SYS-{issue.number}")["ts"]
    more = [await respond(server, slack, n) for n in (4, 5)]
    await eventually(lambda: any("*5 alerts in this issue*" in u and all(k in u for k in more)
                                 for u in slack_updates(slack, in_slack.message_id)),
                     "the SYS card updated in place with the new children")
    await eventually(lambda: any("5 alerts in this issue" in u
                                 for u in teams_updates(connector, in_teams.message_id)),
                     "the Teams managers' card replaced in place")
    assert len(sys_cards(slack)) == 1 and len(teams_posts(connector)) == 1, (
        "later children update the same messages: no second post")
    assert [i.id for i in await issues(server)] == [issue.id]
    assert "5 detractors mention *delivery late* at location 042" in slack_updates(
        slack, in_slack.message_id)[-1]
    return more


async def resolve_with_children(server: AppServer, slack: FakeSlackApi, parent_key: str, children: list[str],
                                child_cards: dict[str, str], parent_ids: set[int]) -> None:
    """Ana claims one child; Bob resolves the parent from the managers channel with the box checked."""
    config = await server.ctx.config.get()
    sessions, now = server.ctx.sessions, utcnow()
    theirs = children[1]
    claim = ActionRequest(ActionId.CLAIM, theirs, ANA, channel=TEAM_CHANNEL)
    assert (await handle(claim, sessions=sessions, config=config, now=now)).ok
    asked = await precheck(ActionRequest(ActionId.RESOLVE, parent_key, BOB, channel=MANAGERS),
                           sessions=sessions, config=config, now=now)
    assert asked.form is not None and asked.refusal is None
    [box] = [f for f in asked.form.fields if f.id == Arg.CHILDREN]
    assert (box.placeholder, box.initial) == ("Also resolve its 5 open alerts", TRUE)
    plain = await precheck(ActionRequest(ActionId.RESOLVE, children[0], BOB, channel=TEAM_CHANNEL),
                           sessions=sessions, config=config, now=now)
    assert plain.form is not None and Arg.CHILDREN not in {f.id for f in plain.form.fields}

    args = {"outcome": "recovered", "root_cause": "delivery", "note": "courier replaced", "children": TRUE}
    done = await handle(ActionRequest(ActionId.RESOLVE, parent_key, BOB, args, channel=MANAGERS),
                        sessions=sessions, config=config, now=utcnow())
    assert done.ok and "with its 4 open alerts" in done.message, done.message
    server.ctx.signal.notify()
    found = await alerts(server, [parent_key, *children])
    resolved = [k for k in children if found[k].status == "resolved"]
    assert resolved == [k for k in children if k != theirs] and found[theirs].status == "claimed", (
        "Ana's child is hers to resolve")
    assert {(found[k].outcome, found[k].root_cause, found[k].resolved_by)
            for k in [parent_key, *resolved]} == {("recovered", "delivery", "Bob")}
    children_events = [e for e in await resolved_events(server) if e[0] not in parent_ids]
    assert children_events == sorted((found[k].id or 0, parent_key) for k in resolved), "one event per child"
    for key in resolved:
        await eventually(slack_shows(slack, child_cards[key], "Resolved", "Recovered"), f"{key} resolved")
    sys_ts = card_of(slack, MANAGERS, parent_key)["ts"]
    await eventually(lambda: any("Recovered" in u for u in slack_updates(slack, sys_ts)), "the SYS card")


async def test_a_card_marked_alone_is_never_folded_into_a_burst_digest(
    sessions: SessionFactory, slack: FakeSlackApi
) -> None:
    """Several cards due at once in one channel become one digest, except a SYS card (`ALONE`): its
    summary and children are the point, a digest line would show neither."""
    config = await prepared_config(sessions, slack_channel=TEAM_CHANNEL)
    keys = [await raise_alert(sessions, config, external_id=f"a{i}") for i in range(6)]
    async with transaction(sessions) as session:
        posts = (await session.execute(select(Outbox).order_by(col(Outbox.id)))).scalars().all()
        for row in posts[:2]:
            row.payload = {**row.payload, ALONE: True}
    await worker_for(sessions, slack).drain()
    cards = top_level(slack, TEAM_CHANNEL)
    alone = [m for m in cards if m["text"].startswith("🔴 HA-")]
    digests = [m for m in cards if "hot alerts" in m["text"]]
    assert [m["text"].split(" · ")[0][2:] for m in alone] == keys[:2]
    assert len(digests) == 1 and all(key in digests[0]["text"] for key in keys[2:])
    assert not any(key in digests[0]["text"] for key in keys[:2])


async def test_resolving_a_sys_card_from_teams_with_its_toggle_on_resolves_its_children(
    server: AppServer, slack: FakeSlackApi, connector: FakeBotConnector
) -> None:
    """The Teams managers' card: its Resolve form's toggle ("Also resolve its 3 open alerts", on) comes
    back as `resolve.children` and goes through the same action table."""
    children = [await respond(server, slack, n) for n in range(1, 4)]
    [topic] = await eventually_async(lambda: posted_issues(server, slack, connector, 3), "the SYS card")
    assert topic.dimension == "topic"
    key = f"SYS-{topic.number}"
    teams_ref = await place(server, topic.alert_id, "teams")
    [posted] = [c.body for c in teams_posts(connector) if c.activity_id == teams_ref.message_id]
    toggle = next(n for n in walk(posted) if n.get("id") == "resolve.children")
    assert (toggle["value"], toggle["title"]) == (TRUE, "Also resolve its 3 open alerts")

    inputs: dict[str, Any] = {"resolve.outcome": "recovered", "resolve.root_cause": "delivery",
                              "resolve.children": TRUE}
    activity = execute(connector.url, "alert.resolve", key, **inputs)
    click = await server.client.post("/api/messages", json=activity)
    assert click.status_code == 200, click.text
    found = await alerts(server, [key, *children])
    assert {(a.status, a.outcome, a.root_cause, a.resolved_by) for a in found.values()} == {
        ("resolved", "recovered", "delivery", "Megan Bowen")}
    per_alert = [alert_id for alert_id, _ in await resolved_events(server)]
    assert per_alert == sorted(a.id or 0 for a in found.values()), "one resolved event each"
    await eventually(lambda: any("Recovered" in u for u in teams_updates(connector, teams_ref.message_id)),
                     "the Teams SYS card replaced, resolved")
    for child in children:
        ts = card_of(slack, TEAM_CHANNEL, child)["ts"]
        await eventually(slack_shows(slack, ts, "Recovered"), f"{child}'s Slack card resolved")
