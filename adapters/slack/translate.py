"""Slack payloads → neutral requests. Pure functions, no I/O.

- a `block_actions` element → `Click(action, alert_key, args)`: a button's value is the alert key;
  the card menu (`alert.more`, overflow or static_select) sends `"<action_id>|<key>[|<option>]"`
  (snooze: `"alert.snooze|HA-1001|30m"` → args `{"until": "30m"}`);
- a `view_submission` of one of our modals → `Submission` with the `ActionRequest` args, or the
  per-block `errors` to answer with `response_action: "errors"`;
- the payload's user → `bot.alerts.Actor`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.slack import modals
from bot.action_ids import ActionId
from bot.alerts import Actor
from bot.cards import ROOT_CAUSES

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


def _get(value: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def actor_from(user: Mapping[str, Any] | None) -> Actor:
    """The acting Slack user: id plus the best name the payload carries (no extra API call)."""
    user = user or {}
    user_id = str(user.get("id") or user.get("user_id") or "")
    name = user.get("name") or user.get("username") or user.get("user_name") or user_id
    return Actor(id=user_id, name=str(name), platform=PLATFORM)


def channel_of(body: Mapping[str, Any]) -> str | None:
    """The channel a block_actions click came from; None for views (Home tab, modals)."""
    channel = _get(body, "channel", "id") or _get(body, "container", "channel_id")
    return str(channel) if channel else None


def from_home(body: Mapping[str, Any]) -> bool:
    return bool(_get(body, "view", "type") == "home")


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
        value = str(_get(element, "selected_option", "value") or "")
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
        args["until"] = option
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


def _state(view: Mapping[str, Any], block_id: str) -> Mapping[str, Any]:
    element = _get(view, "state", "values", block_id, modals.ELEMENT)
    return element if isinstance(element, Mapping) else {}


def _text(view: Mapping[str, Any], block_id: str) -> str:
    return str(_state(view, block_id).get("value") or "").strip()


def _selected(view: Mapping[str, Any], block_id: str) -> str:
    return str(_get(_state(view, block_id), "selected_option", "value") or "")


def _checked(view: Mapping[str, Any], block_id: str) -> bool:
    options = _state(view, block_id).get("selected_options")
    return isinstance(options, list) and any(_get(o, "value") == "true" for o in options)


def _resolve_args(view: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    errors: dict[str, str] = {}
    outcome = _selected(view, modals.OUTCOME)
    if outcome not in {o.value for o in modals.RESOLVE_OUTCOMES}:
        errors[modals.OUTCOME] = "Pick an outcome"
    cause = _selected(view, modals.ROOT_CAUSE)
    if cause and cause not in ROOT_CAUSES:
        errors[modals.ROOT_CAUSE] = "Pick a root cause from the list"
    note = _text(view, modals.NOTE)
    if len(note) > modals.NOTE_MAX:
        errors[modals.NOTE] = f"Keep the note under {modals.NOTE_MAX} characters"
    args = {
        "outcome": outcome,
        "root_cause": cause,
        "note": note,
        "follow_up": "true" if _checked(view, modals.FOLLOW_UP) else "false",
    }
    return args, errors


def _form_args(action: ActionId, view: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    if action is ActionId.RESOLVE:
        return _resolve_args(view)
    if action is ActionId.NOTE:
        note = _text(view, modals.NOTE)
        if not note:
            return {}, {modals.NOTE: "Write a note"}
        if len(note) > modals.NOTE_MAX:
            return {}, {modals.NOTE: f"Keep the note under {modals.NOTE_MAX} characters"}
        return {"note": note}, {}
    if action is ActionId.ESCALATE:
        reason = _text(view, modals.REASON)
        if len(reason) > modals.REASON_MAX:
            return {}, {modals.REASON: f"Keep the reason under {modals.REASON_MAX} characters"}
        return {"reason": reason}, {}
    if action is ActionId.REASSIGN:
        user = str(_state(view, modals.USER).get("selected_user") or "")
        if not user:
            return {}, {modals.USER: "Pick someone"}
        return {"user": user}, {}
    return {}, {}


def parse_submission(view: Mapping[str, Any]) -> Submission | None:
    """A `view_submission`'s view → Submission; None when the view is not one of our forms."""
    action = _action_id(view.get("callback_id"))
    if action not in modals.FORM_ACTIONS or action is None:
        return None
    meta = modals.decode_metadata(view.get("private_metadata"))
    if meta is None:
        return None
    key, channel = meta
    args, errors = _form_args(action, view)
    return Submission(action=action, alert_key=key, channel=channel, args=args, errors=errors)
