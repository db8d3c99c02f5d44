"""Slack modals rendered from a route's neutral form (`bot.actions.table.form_for`), and read back. Pure.

A modal's `callback_id` is the action id it completes ("alert.resolve", "alert.note"…) and its
`private_metadata` is `{"alert": key, "channel": channel-or-null}` (JSON), so the submission knows
which alert it is about and where to answer a refusal, plus `"answer": {"url": response_url, "at":
[channel, ts]}` when the form was opened from a message: the submission replaces that message.
Each field is one input block whose block_id is the field id (`bot.action_ids.Arg`) and whose
element's action_id is "value".

    text     → plain_text_input (multiline, max_length, placeholder)
    choice   → radio_buttons for a few choices, static_select for more
    user     → users_select
    boolean  → one checkbox ("true")

`details_view(card)` is the read-only Details modal (the card's Details button, `alert.details`): the
whole response — every answer, the whole comment in as many sections as it takes, the facts — in at
most 100 blocks, every customer string escaped and verbatim.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from adapters.slack.blocks import (
    PRIVATE_METADATA_MAX,
    VIEW_BLOCKS_MAX,
    VIEW_TITLE_MAX,
    Block,
    card_summary,
    context,
    plain,
    section,
)
from adapters.slack.render import SECTION_MAX, escape_mrkdwn, header_text
from adapters.slack.render_systemic import children_detail_lines, pack_lines
from bot.action_ids import ActionId
from bot.actions.forms import TRUE, FieldKind, Form, FormField
from bot.actions.table import form_for
from bot.cards.model import Card, detail_answers

ELEMENT = "value"  # the action_id of every input element
RADIO_MAX = 5  # more choices than this become a select menu
TEXT_INPUT_MAX = 3000  # Slack's plain_text_input max_length ceiling
Answer = tuple[str, tuple[str, str]]  # a click's response_url and the clicked message (channel, ts)


def encode_metadata(alert_key: str, channel: str | None, answer: Answer | None = None) -> str:
    """`answer`: the click's response_url and the clicked message (channel, ts), so the submitted form
    replaces that message too; left out when it would not fit Slack's 3,000 characters."""
    data: dict[str, Any] = {"alert": alert_key, "channel": channel}
    with_answer = {**data, "answer": {"url": answer[0], "at": list(answer[1])}} if answer else data
    encoded = json.dumps(with_answer, separators=(",", ":"))
    if len(encoded) > PRIVATE_METADATA_MAX:
        encoded = json.dumps(data, separators=(",", ":"))
    return encoded[:PRIVATE_METADATA_MAX]


def decode_answer(raw: str | None) -> Answer | None:
    """The response_url and clicked (channel, ts) a form's private_metadata carries, if any."""
    try:
        data = json.loads(raw or "")
    except ValueError:
        return None
    url, at = dig(data, "answer", "url"), dig(data, "answer", "at")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return None
    if not isinstance(at, list) or len(at) != 2 or not all(isinstance(p, str) and p for p in at):
        return None
    return url, (at[0], at[1])


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
        box = _option(TRUE, spec.placeholder or spec.label)
        checked = {"initial_options": [box]} if spec.initial == TRUE else {}  # "checked by default"
        return {"type": "checkboxes", "options": [box], **checked}
    if spec.kind is FieldKind.USER:
        return {"type": "users_select", **placeholder}
    if spec.kind is FieldKind.CHOICE:
        options = [_option(value, label) for value, label in spec.choices]
        if len(options) <= RADIO_MAX:
            return {"type": "radio_buttons", "options": options}
        return {"type": "static_select", **placeholder, "options": options}
    limit = min(spec.max_length or TEXT_INPUT_MAX, TEXT_INPUT_MAX)
    initial = {"initial_value": spec.initial[:limit]} if spec.initial else {}
    return {"type": "plain_text_input", "multiline": spec.multiline, "max_length": limit, **placeholder,
            **initial}


def _input(spec: FormField) -> Block:
    block: Block = {"type": "input", "block_id": spec.id, "label": plain(spec.label, 2000),
                    "optional": not spec.required, "element": {**_element(spec), "action_id": ELEMENT}}
    if spec.hint:
        block["hint"] = plain(spec.hint, 2000)
    return block


def form_blocks(action: ActionId, form: Form | None = None) -> list[Block]:
    return [_input(spec) for spec in (form or _form(action)).fields]


def form_view(action: ActionId, alert_key: str, metadata: str, summary: str | None = None,
              form: Form | None = None) -> dict[str, Any]:
    """The full form; `summary` (escaped mrkdwn, see `blocks.card_summary`) shows what the alert is.
    `form`: the route's form made for this alert (`precheck`: a Reply's draft), else its plain one."""
    blocks: list[Block] = []
    if summary:
        blocks.append(context(summary, "hl.summary"))
    blocks.extend(form_blocks(action, form))
    view = _modal(action, alert_key, metadata, blocks)
    view["submit"] = plain((form or _form(action)).submit, 24)
    return view


# ---- the read-only Details modal ----------------------------------------------------------------


def _escaped_pieces(raw: str, limit: int) -> list[str]:
    """`raw` escaped, in pieces of at most `limit` characters, cut after a space where there is one in
    the second half; an entity (`&amp;`) is never split and the pieces join back to the whole."""
    pieces, current = [], ""
    for char in raw:
        escaped = escape_mrkdwn(char)
        if len(current) + len(escaped) > limit:
            space = current.rfind(" ")
            cut = space + 1 if space >= limit // 2 else len(current)
            pieces.append(current[:cut])
            current = current[cut:]
        current += escaped
    return [*pieces, current]


def _answer_lines(card: Card) -> list[str]:
    lines: list[str] = []
    for answer in detail_answers(card):
        mark = ":warning: " if answer.is_low else ""
        line = f"{mark}{escape_mrkdwn(answer.question)}: *{escape_mrkdwn(answer.value)}*"
        if len(line) <= SECTION_MAX:
            lines.append(line)
        else:  # a very long answer: plain, over as many lines as it takes
            lines.extend(_escaped_pieces(f"{answer.question}: {answer.value}", SECTION_MAX))
    return lines


def _comment_lines(comment: str) -> list[str]:
    """The whole comment as quoted lines ("> "), a long line split to fit a section."""
    return [f"> {piece}" for line in comment.splitlines() or [""]
            for piece in _escaped_pieces(line, SECTION_MAX - 2)]


def details_blocks(card: Card) -> list[Block]:
    """The state, every answer, the whole comment, why and the facts (contact details stay on the card)."""
    blocks: list[Block] = [
        {"type": "header", "block_id": "hl.details.header", "text": plain(header_text(card), 150)},
        section(card_summary(card), "hl.details.summary"),
    ]
    parts = [
        ("children", children_detail_lines(card)),  # a systemic issue's child alerts
        ("answers", [f"*Answers ({len(card.answers)})*", *_answer_lines(card)] if card.answers else []),
        ("comment", ["*Comment*", *_comment_lines(card.comment)] if card.comment else []),
        ("why", ["*Why:* " + " · ".join(escape_mrkdwn(r) for r in card.reasons)] if card.reasons else []),
        ("facts", [f"*{escape_mrkdwn(name)}:* {escape_mrkdwn(value)}" for name, value in card.facts]),
    ]
    for name, lines in parts:
        texts = pack_lines(lines)
        blocks.extend(section(text, f"hl.details.{name}.{n}") for n, text in enumerate(texts))
    if len(blocks) > VIEW_BLOCKS_MAX:
        note = "…cut here: the full response is in the card's thread"
        blocks = [*blocks[: VIEW_BLOCKS_MAX - 1], context(note, "hl.details.cut")]
    return blocks


def details_view(card: Card) -> dict[str, Any]:
    """The Details modal: read-only (no submit), closed with "Close"."""
    text = f"Details {card.alert_key}"
    return {
        "type": "modal",
        "callback_id": str(ActionId.DETAILS),
        "title": plain(text if len(text) <= VIEW_TITLE_MAX else "Details", VIEW_TITLE_MAX),
        "close": plain("Close", 24),
        "private_metadata": encode_metadata(card.alert_key, None),
        "blocks": details_blocks(card),
    }


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
