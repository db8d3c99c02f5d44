"""Buttons with a form: views.open at once, views.update with the form (or the guard's refusal),
view_submission → run_action."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.models.views import View
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack import modals, translate
from bot.action_ids import ActionId
from bot.actions.table import form_for
from tests.adapters.slack.slackapp import (
    ADMIN,
    ANA,
    BEN,
    CHANNEL,
    SlackApp,
    block_actions,
    menu_choice,
    slack_app,
    view_submission,
)
from tests.fakes.slack_api import FakeSlackApi


@pytest.fixture
async def slack(engine: AsyncEngine, database_url: str, slack_api: FakeSlackApi) -> AsyncIterator[SlackApp]:
    async with slack_app(database_url, slack_api) as app:
        yield app


def radio(value: str) -> dict[str, Any]:
    return {
        "type": "radio_buttons",
        "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}},
    }


def select(value: str) -> dict[str, Any]:
    return {
        "type": "static_select",
        "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}},
    }


def text(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


CHECKED = {
    "type": "checkboxes",
    "selected_options": [{"value": "true", "text": {"type": "plain_text", "text": "x"}}],
}


async def open_form(slack: SlackApp, user: dict[str, Any], action: str, key: str) -> dict[str, Any]:
    """Click `action` and return the full form the app put into the modal (views.update)."""
    before = len(slack.fake.calls("views.update"))
    reply = await slack.click(user, action, key)
    assert reply.status_code == 200
    assert await slack.wait(lambda: len(slack.fake.calls("views.update")) > before)
    view: dict[str, Any] = slack.fake.calls("views.update")[-1].args["view"]
    return view


# ---- pure: the views and their submissions ---------------------------------------------------


@pytest.mark.parametrize("action", [a for a in ActionId if form_for(a) is not None])
def test_forms_are_valid_block_kit(action: ActionId) -> None:
    meta = modals.encode_metadata("HA-1001", CHANNEL)
    for view in (
        modals.loading_view(action, "HA-1001", meta),
        modals.form_view(action, "HA-1001", meta, "*x*"),
        modals.refusal_view(action, "HA-1001", "No <!channel>"),
    ):
        assert View(**view).to_dict() == view  # slack_sdk validates titles, lengths and block types
        assert len(view["title"]["text"]) <= 24


def test_resolve_form_offers_outcomes_root_causes_note_and_follow_up() -> None:
    view = modals.form_view(ActionId.RESOLVE, "HA-1001", modals.encode_metadata("HA-1001", CHANNEL))
    blocks = {b["block_id"]: b for b in view["blocks"]}
    outcomes = [o["value"] for o in blocks["outcome"]["element"]["options"]]
    assert outcomes == ["recovered", "contacted_not_recovered", "unreachable", "no_action_needed"]
    assert [o["value"] for o in blocks["root_cause"]["element"]["options"]][:2] == ["product", "service"]
    assert blocks["note"]["element"]["multiline"] is True
    assert blocks["follow_up"]["element"]["type"] == "checkboxes"
    assert view["callback_id"] == "alert.resolve"


def test_submission_translation_and_validation() -> None:
    meta = modals.encode_metadata("HA-1001", CHANNEL)
    view = {
        "callback_id": "alert.resolve",
        "private_metadata": meta,
        "state": {
            "values": {
                "outcome": {"value": radio("recovered")},
                "root_cause": {"value": select("staff")},
                "note": {"value": text(" called back ")},
                "follow_up": {"value": CHECKED},
            }
        },
    }
    sub = translate.parse_submission(view)
    assert sub is not None and not sub.errors
    assert (sub.alert_key, sub.channel) == ("HA-1001", CHANNEL)
    assert sub.args == {  # every field of the route's form: a box not shown (children) reads "false"
        "outcome": "recovered",
        "root_cause": "staff",
        "note": "called back",
        "follow_up": "true",
        "children": "false",
    }
    ticked = {**view, "state": {"values": {"outcome": {"value": radio("recovered")},
                                           "children": {"value": CHECKED}}}}  # a systemic case's form
    assert translate.parse_submission(ticked).args["children"] == "true"  # type: ignore[union-attr]
    view["state"] = {"values": {"outcome": {"value": radio("not_actionable")}}}
    assert translate.parse_submission(view).errors == {"outcome": "Pick an outcome"}  # type: ignore[union-attr]
    assert translate.parse_submission({"callback_id": "alert.claim", "private_metadata": meta}) is None
    assert translate.parse_submission({"callback_id": "alert.note", "private_metadata": "junk"}) is None


# ---- through the app -------------------------------------------------------------------------


async def test_resolve_button_opens_a_loading_modal_then_the_form(slack: SlackApp) -> None:
    key = await slack.new_alert()
    form = await open_form(slack, ANA, "alert.resolve", key)
    [opened] = slack.fake.calls("views.open")
    assert opened.args["trigger_id"].endswith(".trigger")
    assert opened.args["view"]["callback_id"] == "alert.resolve"
    assert "Loading" in json.dumps(opened.args["view"]["blocks"])
    update = slack.fake.calls("views.update")[-1]
    assert update.args["view_id"].startswith("V") and update.args["hash"]
    assert update.at >= opened.at
    assert form["callback_id"] == "alert.resolve" and form["submit"]["text"] == "Resolve"
    assert modals.decode_metadata(form["private_metadata"]) == (key, CHANNEL)
    assert key in json.dumps(form["blocks"]) and "&lt;!channel&gt;" not in json.dumps(form["blocks"])
    assert (await slack.alert(key)).status == "open"  # opening a form changes nothing


async def test_resolve_submission_resolves_with_outcome_and_root_cause(slack: SlackApp) -> None:
    key = await slack.new_alert()
    form = await open_form(slack, ANA, "alert.resolve", key)
    values = {
        "outcome": radio("recovered"),
        "root_cause": select("staff"),
        "note": text("Called, refunded"),
        "follow_up": CHECKED,
    }
    reply = await slack.interact(view_submission(ANA, form, values))
    assert reply.status_code == 200 and not reply.content.strip()  # a plain ack closes the modal

    async def resolved() -> bool:
        return (await slack.alert(key)).status == "resolved"

    assert await slack.until(resolved)
    alert = await slack.alert(key)
    assert (alert.outcome, alert.root_cause, alert.resolution_note, alert.resolved_by) == (
        "recovered",
        "staff",
        "Called, refunded",
        "ana",
    )
    assert await slack.wait(lambda: "Reopen" in json.dumps((slack.card(key) or {}).get("blocks")))
    assert await slack.wait(lambda: any("ana resolved: Recovered (staff)" in t for t in slack.thread(key)))


async def test_submission_without_outcome_gets_field_errors_and_changes_nothing(slack: SlackApp) -> None:
    key = await slack.new_alert()
    form = await open_form(slack, ANA, "alert.resolve", key)
    reply = await slack.interact(view_submission(ANA, form, {"note": text("no outcome")}))
    assert reply.status_code == 200
    assert reply.json() == {"response_action": "errors", "errors": {"outcome": "Pick an outcome"}}
    alert = await slack.alert(key)
    assert (alert.status, alert.version) == ("open", 1)


async def test_resolve_by_someone_else_shows_the_refusal_in_the_modal(slack: SlackApp) -> None:
    key = await slack.new_alert()
    await slack.click(ANA, "alert.claim", key)

    async def claimed() -> bool:
        return (await slack.alert(key)).owner_id == "U0ANA"

    assert await slack.until(claimed)
    refusal = await open_form(slack, BEN, "alert.resolve", key)
    assert "submit" not in refusal
    assert "Only the owner" in json.dumps(refusal["blocks"]) and "ana owns it" in json.dumps(
        refusal["blocks"]
    )


async def test_a_form_clicked_in_a_channel_without_the_card_shows_the_refusal(slack: SlackApp) -> None:
    key = await slack.new_alert()
    assert await slack.wait(lambda: slack.card(key) is not None)  # posted: the card's channel is known
    before = len(slack.fake.calls("views.update"))
    await slack.click(ANA, "alert.note", key, channel="C0OTHERTEAM")
    assert await slack.wait(lambda: len(slack.fake.calls("views.update")) > before)
    refusal = slack.fake.calls("views.update")[-1].args["view"]
    assert "submit" not in refusal and "is not handled in this channel" in json.dumps(refusal["blocks"])


async def test_resolve_submitted_by_someone_else_is_refused_privately(slack: SlackApp) -> None:
    key = await slack.new_alert()
    form = await open_form(slack, BEN, "alert.resolve", key)  # open when Ben opens the form…
    await slack.click(ANA, "alert.claim", key)  # …then Ana claims it before Ben submits

    async def claimed() -> bool:
        return (await slack.alert(key)).owner_id == "U0ANA"

    assert await slack.until(claimed)
    await slack.interact(view_submission(BEN, form, {"outcome": radio("recovered")}))
    assert await slack.wait(lambda: bool(slack.ephemerals(BEN)))
    assert "Only the owner" in slack.ephemerals(BEN)[0]
    assert slack.fake.calls("chat.postEphemeral")[-1].args["channel"] == CHANNEL
    alert = await slack.alert(key)
    assert (alert.status, alert.owner_id) == ("claimed", "U0ANA")


async def test_admin_may_resolve_someone_elses_alert(slack: SlackApp) -> None:
    key = await slack.new_alert()
    await slack.make_admin(ADMIN["id"])
    await slack.click(ANA, "alert.claim", key)

    async def owner_then_resolved() -> bool:
        return (await slack.alert(key)).owner_id == "U0ANA"

    assert await slack.until(owner_then_resolved)
    form = await open_form(slack, ADMIN, "alert.resolve", key)
    assert form.get("submit")
    await slack.interact(view_submission(ADMIN, form, {"outcome": radio("unreachable")}))

    async def resolved() -> bool:
        return (await slack.alert(key)).outcome == "unreachable"

    assert await slack.until(resolved)


async def test_note_from_the_menu(slack: SlackApp) -> None:
    key = await slack.new_alert()
    await slack.interact(block_actions(ANA, menu_choice(f"alert.note|{key}")))
    assert await slack.wait(lambda: bool(slack.fake.calls("views.update")))
    form = slack.fake.calls("views.update")[-1].args["view"]
    assert form["callback_id"] == "alert.note"
    empty = await slack.interact(view_submission(ANA, form, {"note": text("   ")}))
    assert empty.json()["response_action"] == "errors"
    await slack.interact(view_submission(ANA, form, {"note": text("Left a voicemail <@U0BEN>")}))

    async def noted() -> bool:
        return "note" in await slack.events(key)

    assert await slack.until(noted)
    assert await slack.wait(lambda: any("voicemail" in t for t in slack.thread(key)))
    line = next(t for t in slack.thread(key) if "voicemail" in t)
    assert "<@U0BEN>" not in line  # escaped: a note never pings anyone


async def test_escalate_with_a_reason(slack: SlackApp) -> None:
    key = await slack.new_alert()
    form = await open_form(slack, ANA, "alert.escalate", key)
    assert form["callback_id"] == "alert.escalate"
    await slack.interact(view_submission(ANA, form, {"reason": text("Threatens to cancel")}))

    async def escalated() -> bool:
        return (await slack.alert(key)).escalation_level == 1

    assert await slack.until(escalated)
    assert await slack.wait(lambda: any("Threatens to cancel" in t for t in slack.thread(key)))


async def test_reassign_uses_the_picked_users_name(slack: SlackApp) -> None:
    slack.fake.add_user("U0CARL", name="carl", profile={"display_name": "Carl D", "real_name": "Carl Dee"})
    key = await slack.new_alert()
    await slack.interact(block_actions(ANA, menu_choice(f"alert.reassign|{key}")))
    assert await slack.wait(lambda: bool(slack.fake.calls("views.update")))
    form = slack.fake.calls("views.update")[-1].args["view"]
    missing = await slack.interact(view_submission(ANA, form, {}))
    assert missing.json() == {"response_action": "errors", "errors": {"user": "Pick someone"}}
    await slack.interact(
        view_submission(ANA, form, {"user": {"type": "users_select", "selected_user": "U0CARL"}})
    )

    async def reassigned() -> bool:
        return (await slack.alert(key)).owner_id == "U0CARL"

    assert await slack.until(reassigned)
    assert (await slack.alert(key)).owner_name == "Carl D"


async def test_expired_trigger_tells_the_user_to_click_again(slack: SlackApp) -> None:
    key = await slack.new_alert()
    slack.fake.fail_next(error="expired_trigger_id", method="views.open")
    await slack.click(ANA, "alert.resolve", key)
    assert await slack.wait(lambda: bool(slack.ephemerals(ANA)))
    assert "click again" in slack.ephemerals(ANA)[0]
    assert not slack.fake.calls("views.update")
