"""Rule conditions: the tree form (stored as JSON/YAML), its text syntax, and checking both.

Tree: {"all": [..]}, {"any": [..]}, {"not": {..}}, a leaf {"field": F, "op": OP, "value": V}, or
{"text": "<text syntax>"} (how the YAML import keeps a textual `when:`; it is parsed here).

Text: `nps<=6 and (attr.region=north or answer."Staff friendliness"<=2) and not customer.email exists`.
`and` binds tighter than `or`; `not` tighter than both; double-quoted strings take \\" and \\\\ escapes
(any other backslash is kept, so regexes read naturally). Bare values that look like numbers or
true/false become numbers or booleans; everything else stays text (`042` stays the text "042").

Canonical form (what `validate_condition` returns): field and op names normalized, `==`/`<>` spelled
`=`/`!=`, one-item groups replaced by their item, no `value` for `exists`/`low`, single values of
`in`/`words` wrapped in a list. `parse_condition(format_condition(t)) == validate_condition(t)`.
Writing a tree as text is bot/rules/condition_format.py; matching it against a response,
bot/rules/evaluate.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from typing import Any

from bot.rules.condition_text import (
    RuleError,
    Token,
    bare_value,
    tokenize,
)

LOW_POSITION = 0.2  # "low" = the bottom 20% of a question's scale
MAX_PATTERN_LENGTH = 500
MAX_DEPTH = 50  # how deeply all/any/not may nest; deeper is a mistake, and recursion has limits

COMPARISON_OPS = ("=", "!=", "<", "<=", ">", ">=")
WORD_OPS = ("in", "contains", "matches", "exists", "low", "words")
OPS = COMPARISON_OPS + WORD_OPS
NO_VALUE_OPS = frozenset({"exists", "low"})
LIST_OPS = frozenset({"in", "words"})
TEXT_OPS = frozenset({"contains", "matches", "words"})
OP_ALIASES = {"==": "=", "<>": "!="}
PLAIN_FIELDS = ("nps", "comment", "contact_requested", "source", "external_id", "any_answer")
CUSTOMER_FIELDS = ("email", "name", "phone", "id")
FIELD_HINT = "nps, comment, contact_requested, source, external_id, customer.email/name/phone/id, " \
             "attr.<name>, answer.<question> or any_answer"
OP_HINT = "=, !=, <, <=, >, >=, in, contains, matches, exists, low or words"
# Bare words that mean something in the syntax; as values they are written quoted.
KEYWORDS = frozenset({"and", "or", "not", "then", "true", "false", *WORD_OPS})

_MAX_INT_BITS = 300  # keeps every number printable and comparable as a float
# A group holding a quantifier that is itself repeated, like (a+)+ or (\w+\s)*: the classic
# catastrophic-backtracking shape. Customer comments are untrusted, so such patterns are refused.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*?[+*](?:[^()\\]|\\.)*\)[+*{]")



# ---------------------------------------------------------------------------------------------
# Checking a tree


def validate_condition(tree: Any) -> dict[str, Any]:
    """Check a condition tree (from YAML, the database or code); return its canonical form."""
    return _validate_node(tree, depth=0)


def _validate_node(node: Any, depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise RuleError(f"conditions are nested more than {MAX_DEPTH} levels deep")
    if not isinstance(node, Mapping):
        raise RuleError(f"a condition must be a mapping, not {type(node).__name__}")
    keys = set(node)
    if keys == {"all"} or keys == {"any"}:
        (kind,) = keys
        return _validate_group(kind, node[kind], depth)
    if keys == {"not"}:
        return {"not": _validate_node(node["not"], depth + 1)}
    if keys == {"text"}:
        if not isinstance(node["text"], str):
            raise RuleError("'text' must hold a condition written as text")
        return parse_condition(node["text"])
    if "field" in keys or "op" in keys:
        return _validate_leaf(node)
    found = ", ".join(sorted(map(str, keys))) or "none"
    raise RuleError(f"a condition needs all, any, not, text or field+op (found keys: {found})")


def _validate_group(kind: str, children: Any, depth: int) -> dict[str, Any]:
    if isinstance(children, str | bytes) or not isinstance(children, Sequence):
        raise RuleError(f"'{kind}' needs a list of conditions")
    if not children:
        raise RuleError(f"'{kind}' needs at least one condition")
    checked = [_validate_node(child, depth + 1) for child in children]
    # A one-item group means its item; dropping it keeps one canonical form (and text round-trips).
    return checked[0] if len(checked) == 1 else {kind: checked}


def _validate_leaf(node: Mapping[Any, Any]) -> dict[str, Any]:
    unknown = set(node) - {"field", "op", "value"}
    if unknown:
        raise RuleError(f"unknown key(s) in a condition: {', '.join(sorted(map(str, unknown)))}")
    if "field" not in node or "op" not in node:
        raise RuleError("a condition needs both 'field' and 'op'")
    field, op = canonical_field(node["field"]), canonical_op(node["op"])
    _check_op_fits_field(op, field)
    if op in NO_VALUE_OPS:
        return {"field": field, "op": op}
    if "value" not in node:
        raise RuleError(f"'{field} {op}' needs a value")
    return {"field": field, "op": op, "value": _validate_value(op, node["value"])}


def canonical_field(name: Any) -> str:
    """The one spelling of a field name: `NPS` → `nps`, `attributes.x` → `attr.x`."""
    if not isinstance(name, str) or not name:
        raise RuleError(f"a field name must be text ({FIELD_HINT})")
    if name.casefold() in PLAIN_FIELDS:
        return name.casefold()
    prefix, dot, rest = name.partition(".")
    prefix = prefix.casefold()
    if dot and rest:
        if prefix in ("attr", "attributes"):
            return f"attr.{rest}"
        if prefix == "answer":
            return f"answer.{rest}"
        if prefix == "customer" and rest.casefold() in CUSTOMER_FIELDS:
            return f"customer.{rest.casefold()}"
    raise RuleError(f"unknown field {name!r}: use {FIELD_HINT}")


def canonical_op(op: Any) -> str:
    if isinstance(op, str):
        spelled = OP_ALIASES.get(op, op.casefold())
        if spelled in OPS:
            return spelled
    raise RuleError(f"unknown operator {op!r}: use {OP_HINT}")


def _check_op_fits_field(op: str, field: str) -> None:
    if op == "low" and not (field in ("nps", "any_answer") or field.startswith("answer.")):
        raise RuleError(f"'low' needs a scaled question: answer.<question>, any_answer or nps, not {field!r}")
    if field == "any_answer" and op in TEXT_OPS:
        raise RuleError(f"any_answer compares scaled answers' numbers; '{op}' needs text")


def _validate_value(op: str, value: Any) -> Any:
    if op in LIST_OPS:
        items = list(value) if isinstance(value, list | tuple) else [value]
        if not items:
            raise RuleError(f"'{op}' needs at least one value")
        if op == "words":
            return [_word(item) for item in items]
        return [_scalar(item) for item in items]
    if op == "matches":
        if not isinstance(value, str):
            raise RuleError("'matches' needs a regular expression written as text")
        compile_pattern(value)
        return value
    if op == "contains":
        text = _scalar(value)
        if isinstance(text, bool) or text == "":
            raise RuleError("'contains' needs some text to look for")
        return str(text)
    return _scalar(value)


def _scalar(value: Any) -> str | int | float | bool:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise RuleError("that number is too large")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RuleError(f"a number must be finite, not {value}")
        return value
    raise RuleError(f"a value must be text, a number or true/false, not {type(value).__name__}")


def _word(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError("'words' needs a list of non-empty words or phrases")
    return value


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a rule's regular expression once, refusing ones that are invalid or could run forever."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise RuleError(f"a regular expression may be at most {MAX_PATTERN_LENGTH} characters")
    if _NESTED_QUANTIFIER.search(pattern):
        raise RuleError(f"regular expression {pattern!r} repeats a repeated group, like (a+)+, "
                        "which can take forever on long comments; simplify it")
    try:
        return re.compile(pattern)
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        raise RuleError(f"invalid regular expression {pattern!r}: {exc}") from None


# ---------------------------------------------------------------------------------------------
# Text syntax: recursive-descent parser over bot/rules/condition_text.py's tokens


class _Parser:
    # Each nesting level costs a few stack frames; the limit keeps far below Python's recursion limit.
    max_nesting = 3 * MAX_DEPTH

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise RuleError(f"a condition must be text, not {type(text).__name__}")
        self.tokens = tokenize(text)
        self.index = 0
        self.nesting = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def at_keyword(self, keyword: str) -> bool:
        return self.peek.kind == "word" and self.peek.text.casefold() == keyword

    def error(self, expected: str, token: Token) -> RuleError:
        return RuleError(f"at column {token.start + 1}: expected {expected}, found {token.describe()}")

    def expression(self) -> dict[str, Any]:
        items = [self.conjunction()]
        while self.at_keyword("or"):
            self.take()
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else {"any": items}

    def conjunction(self) -> dict[str, Any]:
        items = [self.unary()]
        while self.at_keyword("and"):
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else {"all": items}

    def unary(self) -> dict[str, Any]:
        if self.nesting >= self.max_nesting:
            raise RuleError(f"at column {self.peek.start + 1}: the condition is nested too deeply")
        self.nesting += 1
        try:
            return self._unary()
        finally:
            self.nesting -= 1

    def _unary(self) -> dict[str, Any]:
        if self.at_keyword("not"):
            self.take()
            return {"not": self.unary()}
        if self.peek.kind == "(":
            self.take()
            inner = self.expression()
            if self.peek.kind != ")":
                raise self.error("')', 'and' or 'or'", self.peek)
            self.take()
            return inner
        return self.comparison()

    def comparison(self) -> dict[str, Any]:
        start = self.peek
        leaf: dict[str, Any] = {"field": self.field(), "op": self.operator()}
        if leaf["op"] not in NO_VALUE_OPS:
            leaf["value"] = self.values() if leaf["op"] in LIST_OPS else self.scalar()
        try:
            return _validate_leaf(leaf)
        except RuleError as exc:
            raise RuleError(f"at column {start.start + 1}: {exc}") from None

    def field(self) -> str:
        token = self.take()
        if token.kind != "word" or token.text.casefold() in ("and", "or", "not", "then"):
            raise self.error('a field such as nps, comment, attr.region or answer."Question"', token)
        name = token.text
        # answer."Staff friendliness": a quoted name right after the dot belongs to the field
        if name.endswith(".") and self.peek.kind == "string" and self.peek.start == token.end:
            name += self.take().text
        return name

    def operator(self) -> str:
        token = self.take()
        if token.kind == "op":
            return OP_ALIASES.get(token.text, token.text)
        if token.kind == "word" and token.text.casefold() in WORD_OPS:
            return token.text.casefold()
        raise self.error(f"an operator ({OP_HINT})", token)

    def values(self) -> list[Any]:
        if self.peek.kind != "[":
            return [self.scalar()]
        self.take()
        items = [self.scalar()]
        while self.peek.kind == ",":
            self.take()
            items.append(self.scalar())
        if self.peek.kind != "]":
            raise self.error("',' or ']'", self.peek)
        self.take()
        return items

    def scalar(self) -> Any:
        token = self.take()
        if token.kind == "string":
            return token.text
        if token.kind == "word":
            return bare_value(token.text)
        raise self.error('a value (a number, a word or "quoted text")', token)

    def expect_end(self, expected: str) -> None:
        if self.peek.kind != "end":
            raise self.error(expected, self.peek)


def parse_condition(text: str) -> dict[str, Any]:
    """Text syntax → canonical tree. RuleError names the column and what was expected."""
    parser = _Parser(text)
    tree = parser.expression()
    parser.expect_end("'and', 'or' or the end of the condition")
    return validate_condition(tree)


def parse_rule_parts(text: str, outcomes: Collection[str]) -> tuple[dict[str, Any], str]:
    """`<condition> then <outcome>` → (canonical tree, outcome word in lower case)."""
    parser = _Parser(text)
    tree = parser.expression()
    choices = ", ".join(outcomes)
    if not parser.at_keyword("then"):
        raise parser.error(f"'and', 'or' or 'then' followed by {choices}", parser.peek)
    parser.take()
    token = parser.take()
    if token.kind != "word" or token.text.casefold() not in outcomes:
        raise parser.error(f"one of {choices} after 'then'", token)
    parser.expect_end("the end of the rule")
    return validate_condition(tree), token.text.casefold()
