"""The modals behind buttons that need input (`bot.actions.NEEDS_INPUT`). Pure view builders.

A modal's `callback_id` is the action id it completes ("alert.resolve", "alert.note"…) and its
`private_metadata` is `{"alert": key, "channel": channel-or-null}` (JSON), so the submission knows
which alert it is about and where to answer a refusal. Input blocks use the block ids below; each
holds one element whose action_id is "value". `translate.parse_submission` reads them back.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.slack.blocks import PRIVATE_METADATA_MAX, VIEW_TITLE_MAX, Block, context, plain, section
from adapters.slack.render import escape_mrkdwn
from bot.action_ids import ActionId
from bot.cards import OUTCOME_LABELS, ROOT_CAUSES
from bot.domain import Outcome

# input block ids (and the ActionRequest argument each one fills)
OUTCOME = "outcome"
ROOT_CAUSE = "root_cause"
NOTE = "note"
FOLLOW_UP = "follow_up"
REASON = "reason"
USER = "user"
ELEMENT = "value"  # the action_id of every input element

FORM_ACTIONS = (ActionId.RESOLVE, ActionId.NOTE, ActionId.REASSIGN, ActionId.ESCALATE)
RESOLVE_OUTCOMES = tuple(o for o in Outcome if o is not Outcome.NOT_ACTIONABLE)
NOTE_MAX = 3000
REASON_MAX = 500

_TITLES = {
    ActionId.RESOLVE: "Resolve",
    ActionId.NOTE: "Add note",
    ActionId.REASSIGN: "Reassign",
    ActionId.ESCALATE: "Escalate",
}
_SUBMIT = {
    ActionId.RESOLVE: "Resolve",
    ActionId.NOTE: "Add note",
    ActionId.REASSIGN: "Reassign",
    ActionId.ESCALATE: "Escalate",
}


def encode_metadata(alert_key: str, channel: str | None) -> str:
    return json.dumps({"alert": alert_key, "channel": channel}, separators=(",", ":"))[:PRIVATE_METADATA_MAX]


def decode_metadata(raw: str | None) -> tuple[str, str | None] | None:
    """(alert key, channel) from a view's private_metadata; None when it is not one of ours."""
    try:
        data = json.loads(raw or "")
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("alert"), str) or not data["alert"]:
        return None
    channel = data.get("channel")
    return data["alert"], channel if isinstance(channel, str) and channel else None


def _title(action: ActionId, alert_key: str) -> dict[str, Any]:
    text = f"{_TITLES.get(action, 'hotloop')} {alert_key}"
    if len(text) > VIEW_TITLE_MAX:
        text = _TITLES.get(action, "hotloop")
    return plain(text, VIEW_TITLE_MAX)


def _modal(action: ActionId, alert_key: str, metadata: str, blocks: list[Block]) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": str(action),
        "title": _title(action, alert_key),
        "close": plain("Cancel", 24),
        "private_metadata": metadata,
        "blocks": blocks,
    }


def loading_view(action: ActionId, alert_key: str, metadata: str) -> dict[str, Any]:
    """Opened at once with the click's trigger_id (it expires in ~3 s); replaced by the form."""
    text = f":hourglass_flowing_sand: Loading {escape_mrkdwn(alert_key)}…"
    return _modal(action, alert_key, metadata, [section(text, "hl.loading")])


def refusal_view(action: ActionId, alert_key: str, message: str) -> dict[str, Any]:
    """Shown instead of the form when the action is refused before any input is asked for."""
    view = _modal(action, alert_key, encode_metadata(alert_key, None),
                  [section(f":no_entry: {escape_mrkdwn(message)}", "hl.refused")])
    view["close"] = plain("OK", 24)
    return view


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": plain(label, 75), "value": value}


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool = False,
           hint: str | None = None) -> Block:
    block: Block = {"type": "input", "block_id": block_id, "label": plain(label, 2000),
                    "optional": optional, "element": {**element, "action_id": ELEMENT}}
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def _text_input(*, multiline: bool, max_length: int, placeholder: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "multiline": multiline, "max_length": max_length,
            "placeholder": plain(placeholder, 150)}


def resolve_blocks() -> list[Block]:
    outcomes = [_option(o.value, OUTCOME_LABELS[o]) for o in RESOLVE_OUTCOMES]
    causes = [_option(c, c.capitalize()) for c in ROOT_CAUSES]
    follow_up = _option("true", "Send the customer a follow-up survey")
    return [
        _input(OUTCOME, "Outcome", {"type": "radio_buttons", "options": outcomes}),
        _input(ROOT_CAUSE, "Root cause", {"type": "static_select", "placeholder": plain("Pick one"),
                                          "options": causes}, optional=True),
        _input(NOTE, "Note", _text_input(multiline=True, max_length=NOTE_MAX,
                                         placeholder="What happened, what was done"), optional=True),
        _input(FOLLOW_UP, "Follow-up", {"type": "checkboxes", "options": [follow_up]}, optional=True),
    ]


def form_blocks(action: ActionId) -> list[Block]:
    if action is ActionId.RESOLVE:
        return resolve_blocks()
    if action is ActionId.NOTE:
        return [_input(NOTE, "Note", _text_input(multiline=True, max_length=NOTE_MAX,
                                                 placeholder="Visible in the alert's thread"))]
    if action is ActionId.ESCALATE:
        return [_input(REASON, "Reason", _text_input(multiline=False, max_length=REASON_MAX,
                                                     placeholder="Why it needs more help"),
                       optional=True, hint="Posted with the escalation to the managers")]
    if action is ActionId.REASSIGN:
        return [_input(USER, "Assign to", {"type": "users_select", "placeholder": plain("Pick someone")})]
    raise ValueError(f"{action} has no form")


def form_view(action: ActionId, alert_key: str, metadata: str, summary: str | None = None) -> dict[str, Any]:
    """The full form; `summary` (escaped mrkdwn, see `blocks.card_summary`) shows what the alert is."""
    blocks: list[Block] = []
    if summary:
        blocks.append(context(summary, "hl.summary"))
    blocks.extend(form_blocks(action))
    view = _modal(action, alert_key, metadata, blocks)
    view["submit"] = plain(_SUBMIT.get(action, "Submit"), 24)
    return view
