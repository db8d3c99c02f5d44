"""Writing a condition tree as text (the syntax is described in bot/rules/conditions.py).

`parse_condition(format_condition(t)) == validate_condition(t)` for every valid tree: a hypothesis
property in tests/bot/rules/test_properties.py holds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.rules.condition_text import BARE_WORD, bare_value, quote_text
from bot.rules.conditions import KEYWORDS, validate_condition


def format_condition(tree: Mapping[str, Any]) -> str:
    """Tree → text that `parse_condition` reads back to the same canonical tree."""
    return _format_node(validate_condition(tree))


def _format_node(node: Mapping[str, Any]) -> str:
    if "all" in node:
        return " and ".join(_format_operand(child) for child in node["all"])
    if "any" in node:
        return " or ".join(_format_operand(child) for child in node["any"])
    if "not" in node:
        return "not " + _format_operand(node["not"])
    return _format_leaf(node)


def _format_operand(node: Mapping[str, Any]) -> str:
    # Parentheses around every nested group keep the tree's shape exactly, whatever the precedence.
    grouped = "all" in node or "any" in node
    return f"({_format_node(node)})" if grouped else _format_node(node)


def _format_leaf(leaf: Mapping[str, Any]) -> str:
    text = f"{_format_field(leaf['field'])} {leaf['op']}"
    if "value" not in leaf:
        return text
    value = leaf["value"]
    if isinstance(value, list):
        return f"{text} [{', '.join(_format_value(item) for item in value)}]"
    return f"{text} {_format_value(value)}"


def _format_field(field: str) -> str:
    for prefix in ("attr.", "answer."):
        if field.startswith(prefix):
            rest = field.removeprefix(prefix)
            return prefix + (rest if BARE_WORD.fullmatch(rest) else quote_text(rest))
    return field


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    reads_back = BARE_WORD.fullmatch(text) and bare_value(text) == text and text.casefold() not in KEYWORDS
    return text if reads_back else quote_text(text)
