"""Helpers for inspecting rendered Block Kit in tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from slack_sdk.models.blocks import Block

BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")


def mrkdwn_texts(value: Any) -> Iterator[str]:
    """Every mrkdwn string inside a message or block list (what Slack parses for mentions/links)."""
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            yield value["text"]
        for item in value.values():
            yield from mrkdwn_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from mrkdwn_texts(item)


def all_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from all_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from all_strings(item)


def assert_valid_blocks(blocks: list[dict[str, Any]]) -> None:
    """slack_sdk's models validate lengths and counts in `to_dict()`; the dicts must round-trip."""
    assert len(blocks) <= 50
    block_ids = [b.get("block_id") for b in blocks]
    assert len(block_ids) == len(set(block_ids)), "block_ids must be unique in a message"
    for block in blocks:
        model = Block.parse(block)
        assert model is not None, block
        assert model.to_dict() == block
        action_ids = [e["action_id"] for e in block.get("elements", []) if "action_id" in e]
        assert len(action_ids) == len(set(action_ids)), "action_ids must be unique in a block"
