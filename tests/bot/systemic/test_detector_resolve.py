"""Resolving a systemic case as one (SQLite and PostgreSQL): through the action table's Resolve, every
open child gets the same outcome and root cause in the same transaction, each with its own event."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from bot.action_ids import Arg
from bot.actions.table import ActionId, ActionRequest, handle, precheck
from bot.alerts.lifecycle import Actor
from bot.config.snapshot import ConfigCache
from storage.db import SessionFactory
from storage.models import Alert, AlertEvent, SystemicIssue
from tests.bot.systemic.test_detector import T0, burst, prepare

ADMIN = Actor("U0ADMIN", "Sam", "slack")
ALICE = Actor("U0ALICE", "Alice", "slack")
BOB = Actor("U0BOB", "Bob", "slack")
NOW = T0 + timedelta(hours=3)


async def the_parent(sessions: SessionFactory) -> str:
    """The burst's one parent (its topic "delivery late", at location 042)."""
    async with sessions() as session:
        issue = (await session.execute(select(SystemicIssue))).scalar_one()
        parent = await session.get(Alert, issue.alert_id)
    assert parent is not None and parent.key is not None
    return parent.key


async def act(sessions: SessionFactory, action: ActionId, key: str, actor: Actor, **args: str) -> str:
    reply = await handle(ActionRequest(action, key, actor, args), sessions=sessions,
                         config=await ConfigCache(sessions).get(), now=NOW)
    assert reply.ok, reply.message
    return reply.message


async def alerts(sessions: SessionFactory, keys: list[str]) -> dict[str, Alert]:
    async with sessions() as session:
        rows = (await session.execute(select(Alert).where(col(Alert.key).in_(keys)))).scalars().all()
    return {row.key or "": row for row in rows}


async def test_resolving_the_parent_resolves_its_open_children_each_with_its_own_event(
    sessions: SessionFactory,
) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM", managers=["U0MANAGER"])
    children = await burst(sessions, config, 5)
    parent = await the_parent(sessions)
    await act(sessions, ActionId.CLAIM, children[0], ALICE)  # someone else's: an admin may overrule
    await act(sessions, ActionId.RESOLVE, children[1], ALICE, outcome="unreachable")  # already done

    message = await act(sessions, ActionId.RESOLVE, parent, ADMIN, outcome="recovered", root_cause="delivery",
                        note="Courier replaced", **{Arg.CHILDREN: "true"})

    assert "with its 4 open alerts" in message
    rows = await alerts(sessions, [parent, *children])
    assert rows[parent].status == "resolved"
    for key in [children[0], *children[2:]]:
        child = rows[key]
        assert (child.status, child.outcome, child.root_cause, child.resolved_by) == (
            "resolved", "recovered", "delivery", "Sam")
    assert rows[children[1]].outcome == "unreachable", "an alert resolved before keeps its own outcome"
    async with sessions() as session:
        events = (await session.execute(select(AlertEvent).where(col(AlertEvent.kind) == "resolved"))
                  ).scalars().all()
    by_alert = {e.alert_id: e for e in events}
    for key in [children[0], *children[2:]]:
        event = by_alert[rows[key].id or 0]
        assert event.data["systemic"] == parent and event.data["outcome"] == "recovered"
        assert event.actor_id == "U0ADMIN"


async def test_without_the_box_the_children_stay_open(sessions: SessionFactory) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM")
    children = await burst(sessions, config, 3)
    parent = await the_parent(sessions)
    await act(sessions, ActionId.RESOLVE, parent, ADMIN, outcome="recovered", **{Arg.CHILDREN: "false"})
    rows = await alerts(sessions, [parent, *children])
    assert rows[parent].status == "resolved"
    assert {rows[k].status for k in children} == {"open"}


async def test_children_the_resolver_may_not_overrule_are_left_open(sessions: SessionFactory) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM", managers=["U0MANAGER"])
    children = await burst(sessions, config, 4)
    parent = await the_parent(sessions)
    await act(sessions, ActionId.CLAIM, children[0], ALICE)
    await act(sessions, ActionId.CLAIM, parent, BOB)
    message = await act(sessions, ActionId.RESOLVE, parent, BOB, outcome="recovered",
                        **{Arg.CHILDREN: "true"})
    assert "with its 3 open alerts" in message
    rows = await alerts(sessions, children)
    assert rows[children[0]].status == "claimed" and rows[children[0]].owner_id == "U0ALICE"
    assert {rows[k].status for k in children[1:]} == {"resolved"}


async def test_the_resolve_form_asks_about_children_only_on_a_systemic_case(sessions: SessionFactory) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM")
    children = await burst(sessions, config, 5)
    parent = await the_parent(sessions)
    on_parent = await precheck(ActionRequest(ActionId.RESOLVE, parent, ADMIN), sessions=sessions,
                               config=config, now=NOW)
    on_child = await precheck(ActionRequest(ActionId.RESOLVE, children[0], ADMIN), sessions=sessions,
                              config=config, now=NOW)
    assert on_parent.form is not None and on_child.form is not None
    box = next(f for f in on_parent.form.fields if f.id == Arg.CHILDREN)
    assert box.placeholder == "Also resolve its 5 open alerts" and box.initial == "true"
    assert Arg.CHILDREN not in {f.id for f in on_child.form.fields}
