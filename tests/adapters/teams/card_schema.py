"""Helpers to read Teams cards in tests: the official Adaptive Card 1.5 JSON schema check (Teams'
own extensions stripped first), walking a card, its top-level actions and its input ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema

from tests.fixtures import SCHEMAS

Json = dict[str, Any]
TEAMS_EXTENSIONS = ("msteams", "choices.data")  # Teams-only keys the 1.5 schema does not know


@cache
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / "adaptive-card-1.5.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def strip_extensions(node: Any) -> Any:
    """`node` without Teams' extensions (`msteams`, the people picker's `choices.data`), anywhere."""
    if isinstance(node, dict):
        return {k: strip_extensions(v) for k, v in node.items() if k not in TEAMS_EXTENSIONS}
    if isinstance(node, list):
        return [strip_extensions(item) for item in node]
    return node


def schema_errors(card: Json) -> list[str]:
    errors = sorted(validator().iter_errors(strip_extensions(card)), key=lambda e: list(e.path))
    return [f"{list(e.path)}: {e.message[:200]}" for e in errors]


def walk(node: Any) -> Iterator[Json]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def top_actions(card: Json) -> list[Json]:
    """The actions a reader sees without opening anything: the card's `actions` and those of the
    ActionSets in its body (not inside a ShowCard), the way the renderer counts them per host."""
    found: list[Json] = list(card.get("actions", []))
    stack = list(card.get("body", []))
    while stack:
        item = stack.pop(0)
        if item.get("type") == "ActionSet":
            found += item["actions"]
        stack += item.get("items", [])
        stack += [c for column in item.get("columns", []) for c in column.get("items", [])]
    return found


def input_ids(card: Json) -> list[str]:
    return [n["id"] for n in walk(card) if str(n.get("type", "")).startswith("Input.")]


def show_cards(card: Json) -> dict[str, Json]:
    """Every ShowCard anywhere in the card, by title (More's entries included)."""
    return {n["title"]: n["card"] for n in walk(card) if n.get("type") == "Action.ShowCard"}


def texts(card: Json) -> list[str]:
    out = [n["text"] for n in walk(card) if n.get("type") == "TextBlock"]
    out += [f["value"] for n in walk(card) if n.get("type") == "FactSet" for f in n["facts"]]
    return out
