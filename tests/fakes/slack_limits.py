"""What Slack refuses in a message, for the fake Slack Web API (PROTOCOLS §7 and "Block Kit limits").

`message_error(args)` answers as Slack does for `chat.postMessage` / `chat.update` /
`chat.postEphemeral`: `msg_too_long` for a `text` over 40,000 characters, `invalid_blocks_format` for
blocks that are not a list of objects, `invalid_blocks` for any broken limit (50 blocks, 3,000
characters of section text, 150 of header, 10 fields of 2,000, 25 elements per actions block, 10 per
context block, button text 75 and value 2,000, option text 75 and value 150, action_id and block_id
255, block ids unique in a message, action ids unique in a block, no empty text object). Blocks inside
`attachments` are held to the same limits; more than 100 attachments is `too_many_attachments`, and
attachments that are not a list of objects `invalid_attachments`.
"""

from __future__ import annotations

from typing import Any

MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
TEXT_MAX = 40_000
BLOCKS_MAX = 50
ATTACHMENTS_MAX = 100
ID_MAX = 255

Json = dict[str, Any]


def message_error(args: Json) -> str | None:
    text = args.get("text")
    if isinstance(text, str) and len(text) > TEXT_MAX:
        return "msg_too_long"
    return _attachments_error(args.get("attachments")) or _blocks_error(args.get("blocks"))


def _attachments_error(attachments: Any) -> str | None:
    if attachments is None:
        return None
    if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
        return "invalid_attachments"
    if len(attachments) > ATTACHMENTS_MAX:
        return "too_many_attachments"
    return next((error for a in attachments if (error := _blocks_error(a.get("blocks")))), None)


def _blocks_error(blocks: Any) -> str | None:
    if blocks is None:
        return None
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        return "invalid_blocks_format"
    if len(blocks) > BLOCKS_MAX:
        return "invalid_blocks"
    ids = [str(b["block_id"]) for b in blocks if "block_id" in b]
    if len(ids) != len(set(ids)) or any(len(i) > ID_MAX for i in ids):
        return "invalid_blocks"
    return "invalid_blocks" if any(_block_broken(b) for b in blocks) else None


def _text_broken(obj: Any, limit: int, *, plain_only: bool = False) -> bool:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return True
    if plain_only and obj["type"] != "plain_text":
        return True
    text = obj.get("text")
    return not isinstance(text, str) or not text or len(text) > limit


def _option_broken(option: Any) -> bool:
    return (
        not isinstance(option, dict)
        or _text_broken(option.get("text"), 75)
        or len(str(option.get("value", ""))) > 150
    )


def _element_broken(element: Any) -> bool:
    if not isinstance(element, dict) or len(str(element.get("action_id", ""))) > ID_MAX:
        return True
    kind = element.get("type")
    if kind == "button":
        too_long = len(str(element.get("value", ""))) > 2000
        return too_long or _text_broken(element.get("text"), 75, plain_only=True)
    if kind in ("overflow", "static_select"):
        options = element.get("options") or []
        most = 5 if kind == "overflow" else 100
        return not 1 <= len(options) <= most or any(_option_broken(o) for o in options)
    return False


def _block_broken(block: Json) -> bool:
    kind = block.get("type")
    if kind == "section":
        fields = block.get("fields") or []
        if "text" not in block and not fields:
            return True
        if "text" in block and _text_broken(block["text"], 3000):
            return True
        if len(fields) > 10 or any(_text_broken(f, 2000) for f in fields):
            return True
        return "accessory" in block and _element_broken(block["accessory"])
    if kind == "header":
        return _text_broken(block.get("text"), 150, plain_only=True)
    if kind == "actions":
        elements = block.get("elements") or []
        action_ids = [e.get("action_id") for e in elements if isinstance(e, dict) and "action_id" in e]
        return (
            not 1 <= len(elements) <= 25
            or len(action_ids) != len(set(action_ids))
            or any(_element_broken(e) for e in elements)
        )
    if kind == "context":
        elements = block.get("elements") or []
        return not 1 <= len(elements) <= 10
    return False
