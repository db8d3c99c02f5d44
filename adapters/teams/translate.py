"""Teams activity → neutral values (pure functions over plain dicts and botbuilder models, no I/O).

Action.Execute invoke / Action.Submit value  →  `ActionRequest` (inputs "resolve.note" → `Arg.NOTE`)
channel or chat                              →  the conversation key hotloop stores and links
"<at>hotloop</at> link team north"           →  "link team north"
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botbuilder.schema import Activity

from adapters.teams.card_actions import ME, input_id
from bot.action_ids import ActionId, Arg
from bot.actions.table import ROUTES, ActionRequest
from bot.alerts.lifecycle import Actor

PLATFORM = "teams"
INVOKE_NAME = "adaptiveCard/action"
# Card input ids → ActionRequest.args names. Cards carry "<verb>.<field>" ids, unique across the card
# (`card_actions.input_id`), and only the clicked verb's own inputs are read. Cards posted earlier named
# inputs by the bare field id ("note", "outcome"…; the follow-up toggle "survey"): still read.
ARGS = tuple(Arg)
LEGACY_INPUTS: Mapping[str, str] = {
    **{spec.id: spec.id for route in ROUTES.values() if route.form for spec in route.form.fields},
    Arg.USER_NAME: Arg.USER_NAME,
    "survey": Arg.FOLLOW_UP,
}
MAX_ARG_CHARS = 4000  # above every form field's limit: too long is refused by the form's rules, not cut
_LEADING_MENTIONS = re.compile(r"^\s*(?:<at\b[^>]*>.*?</at>\s*)+", re.IGNORECASE | re.DOTALL)


class BadAction(ValueError):
    """The click does not name a known action and alert."""


@dataclass(frozen=True)
class Click:
    verb: ActionId
    alert_key: str
    args: dict[str, str]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)[:MAX_ARG_CHARS]


def parse_click(verb: object, data: object) -> Click:
    """`verb` is an `ActionId` value; `data` is `{"alert", "option", <inputs>…}` (inputs merged by Teams)."""
    try:
        action = ActionId(str(verb))
    except ValueError:
        raise BadAction(f"Unknown action {str(verb)[:60]!r}") from None
    if action is ActionId.MORE:
        raise BadAction("Unknown action 'alert.more'")
    if not isinstance(data, Mapping):
        raise BadAction("The button carries no data")
    key = _text(data.get("alert")).strip()
    if not key or len(key) > 32:
        raise BadAction("The button does not name an alert")
    args = _inputs(action, data)
    option = _text(data.get("option")).strip()
    if option and action is ActionId.SNOOZE:
        args[Arg.UNTIL] = option
    return Click(action, key, args)


def _inputs(action: ActionId, data: Mapping[Any, Any]) -> dict[str, str]:
    """The clicked verb's inputs by `Arg`: a legacy card's bare ids, then (winning) "<verb>.<field>" ids."""
    args: dict[str, str] = {}
    for source, name in LEGACY_INPUTS.items():
        if value := _text(data.get(source)).strip():
            args[name] = value
    for name in ARGS:
        if value := _text(data.get(input_id(action, name))).strip():
            args[name] = value
    return args


def click_from_invoke(value: object) -> Click:
    """An `adaptiveCard/action` invoke's `value`: `{"action": {"type", "verb", "data"}, "trigger"}`."""
    action = value.get("action") if isinstance(value, Mapping) else None
    if not isinstance(action, Mapping):
        raise BadAction("Missing action")
    if action.get("type") != "Action.Execute":
        raise BadAction(f"The action type {str(action.get('type'))[:40]!r} is not supported")
    return parse_click(action.get("verb"), action.get("data") or {})


def click_from_submit(value: object) -> Click | None:
    """An `Action.Submit` fallback arrives as a message whose `value` has `verb`; None for other messages."""
    if not isinstance(value, Mapping) or "verb" not in value:
        return None
    return parse_click(value.get("verb"), value)


def request_for(click: Click, actor: Actor, channel: str | None = None) -> ActionRequest:
    """`channel`: the conversation the click came from (`conversation_key`); `handle` refuses a click
    from a conversation where the alert's card does not live. The people picker's "Me" is the clicker."""
    args = dict(click.args)
    if click.verb is ActionId.REASSIGN and args.get(Arg.USER) == ME:
        args[Arg.USER], args[Arg.USER_NAME] = actor.id, actor.name
    return ActionRequest(
        action=click.verb, alert_key=click.alert_key, actor=actor, args=args, channel=channel
    )


def has_sender(activity: Activity) -> bool:
    sender = activity.from_property
    return sender is not None and bool(sender.id)


def actor_of(activity: Activity) -> Actor:
    """Admins and managers are stored by Entra object id: prefer `aadObjectId` over the Teams user id."""
    sender = activity.from_property
    aad = getattr(sender, "aad_object_id", None) if sender else None
    user_id = aad or (sender.id if sender else None) or "unknown"
    name = (sender.name if sender else None) or user_id
    return Actor(id=str(user_id), name=str(name)[:255], platform=PLATFORM)


def _channel_data(activity: Activity) -> Mapping[str, Any]:
    data = activity.channel_data
    return data if isinstance(data, Mapping) else {}


def conversation_type(activity: Activity) -> str:
    conversation = activity.conversation
    kind = getattr(conversation, "conversation_type", None) if conversation else None
    return str(kind or "personal")


def is_personal(activity: Activity) -> bool:
    return conversation_type(activity) == "personal"


def conversation_key(activity: Activity) -> str | None:
    """What `link team` binds and `Team.teams_channel` holds: the channel id (no `;messageid=`) in a
    channel, else the chat's conversation id. New card threads are started in this channel."""
    channel = _channel_data(activity).get("channel")
    if conversation_type(activity) == "channel" and isinstance(channel, Mapping) and channel.get("id"):
        return str(channel["id"])
    conversation = activity.conversation
    if conversation is None or not conversation.id:
        return None
    return str(conversation.id).split(";", 1)[0]


def conversation_name(activity: Activity) -> str | None:
    data = _channel_data(activity)
    channel, team = data.get("channel"), data.get("team")
    parts = []
    if isinstance(team, Mapping) and team.get("name"):
        parts.append(str(team["name"]))
    if isinstance(channel, Mapping) and channel.get("name"):
        parts.append(str(channel["name"]))
    if not parts and activity.conversation is not None and activity.conversation.name:
        parts.append(str(activity.conversation.name))
    return " / ".join(parts)[:255] or None


def members_of(activity: Activity) -> str | None:
    """Where to look a member up (as botbuilder's `TeamsInfo.get_member`): the team in a channel, else
    the chat."""
    team = _channel_data(activity).get("team")
    if isinstance(team, Mapping) and team.get("id"):
        return str(team["id"])
    conversation = activity.conversation
    return str(conversation.id) if conversation is not None and conversation.id else None


def needs_assignee_name(click: Click) -> bool:
    """A Reassign from the people picker carries only the picked Entra object id ("Me" is named)."""
    user = click.args.get(Arg.USER)
    return click.verb is ActionId.REASSIGN and bool(user) and user != ME and not click.args.get(Arg.USER_NAME)


def tenant_ids(activity: Activity) -> list[str]:
    """Every tenant the activity names: `channelData.tenant.id` and `conversation.tenantId`."""
    found: list[str] = []
    tenant = _channel_data(activity).get("tenant")
    if isinstance(tenant, Mapping) and tenant.get("id"):
        found.append(str(tenant["id"]))
    conversation = activity.conversation
    if conversation is not None:
        # botbuilder maps `tenantID`; Teams sends `tenantId`, which msrest keeps aside
        extra = getattr(conversation, "additional_properties", None) or {}
        for value in (conversation.tenant_id, extra.get("tenantId")):
            if value:
                found.append(str(value))
    return found


def tenant_id(activity: Activity) -> str | None:
    found = tenant_ids(activity)
    return found[0] if found else None


def command_text(activity: Activity) -> str:
    """The words after the bot's @mention, as plain text."""
    text = html.unescape(_LEADING_MENTIONS.sub("", activity.text or "")).replace("\u00a0", " ")
    return "\n".join(" ".join(line.split()) for line in text.splitlines()).strip()
