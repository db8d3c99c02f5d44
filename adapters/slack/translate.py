"""Slack payloads → neutral requests. Pure functions, no I/O.

- a `block_actions` element → `Click(action, alert_key, args)`: a button's value is the alert key;
  the card menu (`alert.more`, overflow or static_select) sends `"<action_id>|<key>[|<option>]"`
  (snooze: `"alert.snooze|HA-1001|30m"` → args `{"until": "30m"}`);
- a `view_submission` of one of our modals → `Submission` with the `ActionRequest` args, or the
  per-block `errors` to answer with `response_action: "errors"`;
- the payload's user → `bot.alerts.lifecycle.Actor`;
- a click on a message → its `response_url` and (channel, ts): the message answered in place
  (adapters/slack/answer.py), named on the request as `answered_place`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.slack import modals
from bot.action_ids import ActionId, Arg
from bot.actions.forms import read_form
from bot.actions.table import form_for
from bot.alerts.lifecycle import Actor

PLATFORM = "slack"
KEY_MAX = 32  # Alert.key column


@dataclass(frozen=True)
class Click:
    action: ActionId
    alert_key: str
    args: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Submission:
    action: ActionId
    alert_key: str
    channel: str | None
    args: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # input block_id → message
    answer: modals.Answer | None = None  # the opening click's response_url and message: replaced after


def actor_from(user: Mapping[str, Any] | None) -> Actor:
    """The acting Slack user: id plus the best name the payload carries (no extra API call)."""
    user = user or {}
    user_id = str(user.get("id") or user.get("user_id") or "")
    name = user.get("name") or user.get("username") or user.get("user_name") or user_id
    return Actor(id=user_id, name=str(name), platform=PLATFORM)


def channel_of(body: Mapping[str, Any]) -> str | None:
    """The channel a block_actions click came from; None for views (Home tab, modals)."""
    channel = modals.dig(body, "channel", "id") or modals.dig(body, "container", "channel_id")
    return str(channel) if channel else None


def clicked_message(body: Mapping[str, Any]) -> modals.Answer | None:
    """The click's response_url and the message clicked (channel, ts), when the click came from a
    message that can be replaced: not a view (Home tab, modal), not an ephemeral message."""
    container = body.get("container")
    url = body.get("response_url")
    if not isinstance(container, Mapping) or container.get("type") != "message":
        return None
    if container.get("is_ephemeral"):
        return None
    channel, ts = container.get("channel_id") or channel_of(body), container.get("message_ts")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return None
    if not isinstance(channel, str) or not channel or not isinstance(ts, str) or not ts:
        return None
    return url, (channel, ts)


def answered_place(answer: modals.Answer | None) -> tuple[str, str, str] | None:
    return (PLATFORM, *answer[1]) if answer is not None else None


def is_direct(channel: str | None) -> bool:
    """A direct message with the app (its channel ids start with D): no team's channel, nobody else's."""
    return bool(channel) and str(channel).startswith("D")


def from_home(body: Mapping[str, Any]) -> bool:
    return bool(modals.dig(body, "view", "type") == "home")


def _action_id(raw: object) -> ActionId | None:
    try:  # "alert.claim#3": a dense digest numbers its buttons (ids must be unique within a block)
        return ActionId(str(raw).split("#", 1)[0])
    except ValueError:
        return None


def parse_click(element: Mapping[str, Any]) -> Click | None:
    """One element of `actions[]` → Click; None for anything that is not an alert action."""
    action = _action_id(element.get("action_id"))
    if action is None:
        return None
    if action is ActionId.MORE:
        value = str(modals.dig(element, "selected_option", "value") or "")
        raw_action, _, value = value.partition("|")
        action = _action_id(raw_action)
        if action is None or action is ActionId.MORE:
            return None
    else:
        value = str(element.get("value") or "")
    key, _, option = value.partition("|")
    key = key.strip()
    if not key or len(key) > KEY_MAX:
        return None
    args: dict[str, str] = {}
    if option and action is ActionId.SNOOZE:
        args[Arg.UNTIL] = option
    return Click(action=action, alert_key=key, args=args)


def malformed(body: Mapping[str, Any]) -> str | None:
    """Why a signed interaction cannot be read (→ 400), or None. Bolt itself would raise on these
    while matching listeners (a 500): a `block_actions` needs actions, each with an `action_id`; a
    form submission needs its view and `callback_id`."""
    kind = body.get("type")
    if kind in ("block_actions", "interactive_message") or "actions" in body:
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not all(isinstance(a, Mapping) for a in actions):
            return f"{kind} without actions"
        if kind == "block_actions" and not all(isinstance(a.get("action_id"), str) for a in actions):
            return "block_actions with an action that has no action_id"
    elif "event" in body and not isinstance(body["event"], Mapping):
        return "an event that is not an object"
    elif kind in ("view_submission", "view_closed"):
        view = body.get("view")
        if not isinstance(view, Mapping) or not isinstance(view.get("callback_id"), str):
            return f"{kind} without a view callback_id"
    return None


def first_click(body: Mapping[str, Any]) -> Click | None:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        return None
    return parse_click(actions[0])


# ---- view submissions --------------------------------------------------------------------------


def parse_submission(view: Mapping[str, Any]) -> Submission | None:
    """A `view_submission`'s view → Submission; None when the view is not one of our forms. Its fields
    are read as every platform's are (`bot.actions.forms.read_form`): the same limits and messages."""
    action = _action_id(view.get("callback_id"))
    form = form_for(action) if action is not None else None
    meta = modals.decode_metadata(view.get("private_metadata"))
    if action is None or form is None or meta is None:
        return None
    key, channel = meta
    read = read_form(form, modals.submitted_values(form, view))
    args = {} if read.errors else read.args
    return Submission(action=action, alert_key=key, channel=channel, args=args, errors=read.errors,
                      answer=modals.decode_answer(view.get("private_metadata")))
