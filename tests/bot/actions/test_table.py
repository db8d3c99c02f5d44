"""The action table is the whole truth: one route per button names its guard, its plan, the inputs the
plan reads and the neutral form that asks for them; Slack modals and Teams forms are rendered from it
(so they agree), `precheck` runs the guard only and `handle` applies the form's rules for every caller."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.slack import modals
from adapters.slack import translate as slack_translate
from adapters.teams import translate as teams_translate
from adapters.teams.card_actions import input_id, with_open_form
from adapters.teams.render import card_attachment_content
from bot.action_ids import ActionId, Arg
from bot.actions.forms import FieldKind, read_form
from bot.actions.systemic_form import resolve_form_with
from bot.actions.table import ROUTES, Acting, ActionRequest, form_for, handle, precheck
from bot.alerts.lifecycle import Actor, Refused
from bot.domain import utcnow
from storage import queries
from storage.db import SessionFactory
from tests.factories import NOW, sample_alert, sample_card
from tests.helpers import prepared_config, raise_alert

ANA = Actor("U0ANA", "Ana", "slack")
BEN = Actor("U0BEN", "Ben", "slack")
FORMS = [action for action in ActionId if form_for(action) is not None]


def walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(n for value in node.values() for n in walk(value))]
    if isinstance(node, list):
        return [n for item in node for n in walk(item)]
    return []


def test_every_button_has_one_route_whose_form_fields_are_inputs_its_plan_reads() -> None:
    assert set(ROUTES) == set(ActionId) - {ActionId.MORE}  # MORE is Slack's menu, not an action
    for action, route in ROUTES.items():
        fields = [spec.id for spec in route.form.fields] if route.form else []
        assert set(fields) <= set(route.inputs), action
        assert all(spec.prompt for spec in route.form.fields if spec.required) if route.form else True


@pytest.mark.parametrize("action", FORMS)
def test_slack_and_teams_render_the_same_form(action: ActionId) -> None:
    form = form_for(action)
    assert form is not None
    if action is ActionId.RESOLVE:  # an ordinary alert's: no "Also resolve its open alerts" box
        form = resolve_form_with(form, 0)
    slack = {b["block_id"]: b for b in modals.form_blocks(action, form)}
    content = card_attachment_content(sample_card())  # an open card has every form
    if action is ActionId.REPLY:  # opened by the invoke answer, prefilled for the clicker
        body = with_open_form(content, "HA-1", action, form)["body"][-1]["items"]
    else:
        teams_show = [
            a for a in walk(content)
            if a.get("type") == "Action.ShowCard"
            and a["card"].get("actions", [{}])[0].get("verb") == action.value
        ]
        assert len(teams_show) == 1
        body = teams_show[0]["card"]["body"]
    prefix = input_id(action, "")  # Teams input ids are unique across the card: "resolve.note"
    teams = {n["id"].removeprefix(prefix): n for n in walk(body) if "id" in n}
    assert list(slack) == list(teams) == [spec.id for spec in form.fields]
    for spec in form.fields:
        element = slack[spec.id]["element"]
        assert slack[spec.id]["optional"] is not spec.required
        assert teams[spec.id].get("isRequired", False) is spec.required
        if spec.kind is FieldKind.CHOICE:
            values = [c["value"] for c in teams[spec.id]["choices"]]
            assert [o["value"] for o in element["options"]] == values == [v for v, _ in spec.choices]
        if spec.kind is FieldKind.TEXT:
            assert element["max_length"] == teams[spec.id]["maxLength"] == spec.max_length


def test_resolve_offers_the_same_outcomes_everywhere() -> None:
    form = form_for(ActionId.RESOLVE)
    assert form is not None
    outcomes = next(spec for spec in form.fields if spec.id == Arg.OUTCOME)
    assert "not_actionable" not in {value for value, _ in outcomes.choices}  # it has its own button


def test_both_platforms_read_a_form_with_the_same_rules() -> None:
    form = form_for(ActionId.NOTE)
    assert form is not None
    long_note = "x" * 3001
    view = {
        "callback_id": ActionId.NOTE.value,
        "private_metadata": modals.encode_metadata("HA-1", None),
        "state": {"values": {Arg.NOTE: {modals.ELEMENT: {"type": "plain_text_input", "value": long_note}}}},
    }
    submission = slack_translate.parse_submission(view)
    assert submission is not None
    assert submission.errors == read_form(form, {Arg.NOTE: long_note}).errors
    assert submission.errors == {Arg.NOTE: "Keep the note under 3000 characters"}


def test_teams_cards_posted_with_the_old_follow_up_id_still_work() -> None:
    click = teams_translate.parse_click("alert.resolve", {"alert": "HA-1", "outcome": "recovered",
                                                          "survey": "true"})
    assert click.args[Arg.FOLLOW_UP] == "true"


async def test_precheck_runs_the_guard_only_and_agrees_with_handle(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config)
    assert (await handle(ActionRequest(ActionId.CLAIM, key, ANA), sessions=sessions, config=config,
                         now=utcnow())).ok
    tries: list[tuple[ActionId, dict[str, str]]] = [
        (ActionId.RESOLVE, {"outcome": "recovered"}),
        (ActionId.REASSIGN, {"user": "U0X"}),
        (ActionId.UNCLAIM, {}),
    ]
    for action, args in tries:
        checked = await precheck(ActionRequest(action, key, BEN), sessions=sessions, config=config,
                                 now=utcnow())
        assert checked.refusal is not None and "Only the owner" in checked.refusal, action
        assert checked.card is not None and checked.card.alert_key == key
        done = await handle(ActionRequest(action, key, BEN, args), sessions=sessions, config=config,
                            now=utcnow())
        assert (done.ok, done.message) == (False, checked.refusal), action
    owner = await precheck(ActionRequest(ActionId.RESOLVE, key, ANA), sessions=sessions, config=config,
                           now=utcnow())
    assert owner.refusal is None  # no input was given: the guard needs none
    async with sessions() as session:
        alert = await queries.get_alert(session, key=key)
    assert alert is not None and (alert.status, alert.version) == ("claimed", 2)  # precheck wrote nothing


async def test_handle_applies_the_forms_rules_for_every_caller(sessions: SessionFactory) -> None:
    """A Teams card (or any caller) is held to the limits and choices Slack's modal shows."""
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config)

    async def act(action: ActionId, **args: str) -> tuple[bool, str]:
        reply = await handle(ActionRequest(action, key, ANA, args), sessions=sessions, config=config,
                             now=utcnow())
        return reply.ok, reply.message

    assert await act(ActionId.RESOLVE, outcome="not_actionable") == (False, "Pick an outcome")
    assert await act(ActionId.RESOLVE, outcome="recovered", root_cause="luck") == (
        False, "Pick a root cause from the list")
    assert await act(ActionId.ESCALATE, reason="r" * 501) == (False, "Keep the reason under 500 characters")
    assert await act(ActionId.REASSIGN) == (False, "Pick someone")
    assert (await act(ActionId.RESOLVE, outcome="recovered", follow_up="on"))[0]
    async with sessions() as session:
        alert = await queries.get_alert(session, key=key)
        assert alert is not None and alert.id is not None
        events = await queries.alert_events(session, alert_id=alert.id)
    resolved = next(e for e in events if e.kind == "resolved")
    assert resolved.data["follow_up_survey"] is True and alert.escalation_level == 0



# inputs each route's form (or menu) would send
VALID_INPUTS: dict[ActionId, dict[str, str]] = {
    ActionId.RESOLVE: {"outcome": "recovered", "follow_up": "false"},
    ActionId.NOTE: {"note": "called"},
    ActionId.REASSIGN: {"user": "U0CARL"},
    ActionId.SNOOZE: {"until": "1h"},
}


async def test_each_route_plan_runs_the_guard_its_row_names(sessions: SessionFactory) -> None:
    """Whatever a route's guard refuses (what precheck shows before a form), its plan refuses alike."""
    config = await prepared_config(sessions)
    team = config.default_team_id
    states = {
        "open": sample_alert(team_id=team),
        "ana's": sample_alert(team_id=team, status="claimed", owner_id=ANA.id, owner_name="Ana",
                              owner_platform="slack"),
        "resolved by ana": sample_alert(team_id=team, status="resolved", outcome="recovered",
                                        resolved_by="Ana",
                                        resolved_by_id=ANA.id, resolved_by_platform="slack"),
    }
    refused = 0
    for action, route in ROUTES.items():
        for state, alert in states.items():
            for actor in (ANA, BEN):
                try:
                    route.guard(alert, actor, config)
                    verdict = None
                except Refused as refusal:
                    verdict = refusal.message
                if verdict is None:
                    continue
                refused += 1
                acting = Acting(actor, config, NOW, VALID_INPUTS.get(action, {}))
                with pytest.raises(Refused) as planned:
                    route.plan(acting)(alert)
                assert planned.value.message == verdict, (action, state, actor.name)
    assert refused >= 10
