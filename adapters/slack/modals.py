"""Slack modals rendered from a route's neutral form (`bot.actions.table.form_for`), and read back. Pure.

A modal's `callback_id` is the action id it completes ("alert.resolve", "alert.note"…) and its
`private_metadata` is `{"alert": key, "channel": channel-or-null}` (JSON), so the submission knows
which alert it is about and where to answer a refusal. Each field is one input block whose block_id
is the field id (`bot.action_ids.Arg`) and whose element's action_id is "value".

    text     → plain_text_input (multiline, max_length, placeholder)
    choice   → radio_buttons for a few choices, static_select for more
    user     → users_select
    boolean  → one checkbox ("true")
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from adapters.slack.blocks import PRIVATE_METADATA_MAX, VIEW_TITLE_MAX, Block, context, plain, section
from adapters.slack.render import escape_mrkdwn
from bot.action_ids import ActionId
from bot.actions.forms import TRUE, FieldKind, Form, FormField
from bot.actions.table import form_for

ELEMENT = "value"  # the action_id of every input element
RADIO_MAX = 5  # more choices than this become a select menu
TEXT_INPUT_MAX = 3000  # Slack's plain_text_input max_length ceiling


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


def _form(action: ActionId) -> Form:
    form = form_for(action)
    if form is None:
        raise ValueError(f"{action} has no form")
    return form


def _title(action: ActionId, alert_key: str) -> dict[str, Any]:
    form = form_for(action)
    name = form.title if form is not None else "hotloop"
    text = f"{name} {alert_key}"
    return plain(text if len(text) <= VIEW_TITLE_MAX else name, VIEW_TITLE_MAX)


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


def _element(spec: FormField) -> dict[str, Any]:
    placeholder = {"placeholder": plain(spec.placeholder)} if spec.placeholder else {}
    if spec.kind is FieldKind.BOOLEAN:
        return {"type": "checkboxes", "options": [_option(TRUE, spec.placeholder or spec.label)]}
    if spec.kind is FieldKind.USER:
        return {"type": "users_select", **placeholder}
    if spec.kind is FieldKind.CHOICE:
        options = [_option(value, label) for value, label in spec.choices]
        if len(options) <= RADIO_MAX:
            return {"type": "radio_buttons", "options": options}
        return {"type": "static_select", **placeholder, "options": options}
    limit = min(spec.max_length or TEXT_INPUT_MAX, TEXT_INPUT_MAX)
    return {"type": "plain_text_input", "multiline": spec.multiline, "max_length": limit, **placeholder}


def _input(spec: FormField) -> Block:
    block: Block = {"type": "input", "block_id": spec.id, "label": plain(spec.label, 2000),
                    "optional": not spec.required, "element": {**_element(spec), "action_id": ELEMENT}}
    if spec.hint:
        block["hint"] = plain(spec.hint, 2000)
    return block


def form_blocks(action: ActionId) -> list[Block]:
    return [_input(spec) for spec in _form(action).fields]


def form_view(action: ActionId, alert_key: str, metadata: str, summary: str | None = None) -> dict[str, Any]:
    """The full form; `summary` (escaped mrkdwn, see `blocks.card_summary`) shows what the alert is."""
    blocks: list[Block] = []
    if summary:
        blocks.append(context(summary, "hl.summary"))
    blocks.extend(form_blocks(action))
    view = _modal(action, alert_key, metadata, blocks)
    view["submit"] = plain(_form(action).submit, 24)
    return view


# ---- reading a submitted view back --------------------------------------------------------------


def dig(value: Any, *path: str) -> Any:
    """`value[path[0]][path[1]]…`, or None where a step is missing or not a mapping (untrusted payloads)."""
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def _value(spec: FormField, state: Mapping[str, Any]) -> str:
    """One field's raw value as the neutral form reads it (`bot.actions.forms.read_form`)."""
    if spec.kind is FieldKind.BOOLEAN:
        options = state.get("selected_options")
        return TRUE if isinstance(options, list) and any(dig(o, "value") == TRUE for o in options) else ""
    if spec.kind is FieldKind.USER:
        return str(state.get("selected_user") or "")
    if spec.kind is FieldKind.CHOICE:
        return str(dig(state, "selected_option", "value") or "")
    return str(state.get("value") or "")


def submitted_values(form: Form, view: Mapping[str, Any]) -> dict[str, str]:
    """The raw value of each of `form`'s fields in a submitted view's state, by field id."""
    values: dict[str, str] = {}
    for spec in form.fields:
        state = dig(view, "state", "values", spec.id, ELEMENT)
        values[spec.id] = _value(spec, state if isinstance(state, Mapping) else {})
    return values
