"""Which feedback becomes an alert, and how severe. Pure: no I/O, no database.

Custom rules run first, in (priority, name) order; the first whose condition matches decides (its
severity, or None = no alert). If none matches, the default rules decide:

- contact requested ⇒ alert whatever the score: `high` for a detractor (NPS ≤ 6), else `normal`;
- NPS 0–6 ⇒ `high`, 0–3 ⇒ `critical`;
- any scaled answer in the bottom 20% of its scale ⇒ at least `high` (a red flag on any question);
- alarming words in the comment raise the result one level; alone they make a `normal` alert.

Condition semantics (the tree and its text syntax are in bot/rules/conditions.py):

- A missing field (absent, None, or blank text) matches nothing, except `!=` (which is exactly
  `not =`, so a response without a region is "not north") and, of course, it fails `exists`.
- `=`, `!=`, `in`: numbers compare as numbers (numeric strings are coerced, so "042" = 42);
  true/false compare as booleans (yes/no/1/0 accepted); other text compares case-insensitively.
- `<`, `<=`, `>`, `>=`: numerically when both sides are numbers, else as case-insensitive text.
- `contains`: case-insensitive substring; `matches`: regex search (case-sensitive unless `(?i)`);
  `words`: the alarming-words match below; `low`: bottom 20% of the scale (`nps low` = NPS 0–2).
- `any_answer OP V` holds when OP holds for at least one scaled answer's value.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bot.domain import Answer, FeedbackIn, Severity
from bot.rules.condition_format import format_condition
from bot.rules.condition_text import RuleError
from bot.rules.conditions import (
    LOW_POSITION,
    compile_pattern,
    parse_condition,
    parse_rule_parts,
    validate_condition,
)

__all__ = [
    "DEFAULTS",
    "DEFAULT_WORDS",
    "Decision",
    "RuleError",
    "RuleSpec",
    "condition_matches",
    "default_decision",
    "evaluate",
    "explain",
    "find_words",
    "format_condition",
    "parse_condition",
    "parse_rule_text",
    "validate_condition",
]

DEFAULTS = "defaults"  # Decision.rule when the default rules decided
CONTACT_REASON = "asked to be contacted"
# Floating-point slack so that e.g. 2 on 0–10 (exactly 20%) always counts as low.
_LOW_LIMIT = LOW_POSITION + 1e-9

DEFAULT_WORDS: tuple[str, ...] = (
    # English
    "refund", "chargeback", "money back", "lawyer", "attorney", "sue", "lawsuit", "legal action",
    "scam", "fraud", "rude", "disgusting", "unacceptable", "never again", "worst", "food poisoning",
    "health department", "unsafe", "dangerous", "injured", "harass", "racist", "discrimination",
    # French, Spanish, Portuguese, German, Italian, Dutch
    "remboursement", "arnaque", "inadmissible", "inacceptable", "plus jamais", "dégoûtant",
    "reembolso", "estafa", "abogado", "denuncia", "nunca más", "inaceptable", "asqueroso", "fraude",
    "advogado", "nunca mais", "Rückerstattung", "Betrug", "Anwalt", "unverschämt", "nie wieder",
    "ekelhaft", "rimborso", "truffa", "avvocato", "mai più", "vergognoso", "terugbetaling",
    "oplichting", "advocaat", "nooit meer",
    # Japanese, Chinese (written without spaces: matched anywhere in the text)
    "返金", "詐欺", "退款", "投诉",
)

_OUTCOMES: dict[str, Severity | None] = {s.value: s for s in Severity} | {"none": None}


@dataclass(frozen=True)
class RuleSpec:
    name: str
    condition: Mapping[str, Any]  # condition tree (JSON-able), see bot/rules/conditions.py
    severity: Severity | None  # None = "no alert" (suppress)
    priority: int = 100  # lower runs first


@dataclass(frozen=True)
class Decision:
    severity: Severity | None  # None = no alert
    reasons: tuple[str, ...]  # human sentences, shown on the card
    rule: str  # DEFAULTS or the custom rule's name


# ---------------------------------------------------------------------------------------------
# Deciding


def evaluate(
    feedback: FeedbackIn,
    *,
    rules: Sequence[RuleSpec] = (),
    alarming_words: Sequence[str] = DEFAULT_WORDS,
    source: str = "",
) -> Decision:
    """Custom rules first (the first match decides), then the defaults.

    A rule whose condition is invalid raises RuleError naming the rule: rules are validated when
    saved, so this means stored configuration went bad, which should be loud rather than ignored.
    """
    for rule in sorted(rules, key=lambda r: (r.priority, r.name)):
        if _rule_matches(rule, feedback, source):
            return _rule_decision(rule)
    return default_decision(feedback, alarming_words=alarming_words, source=source)


def _rule_matches(rule: RuleSpec, feedback: FeedbackIn, source: str) -> bool:
    try:
        condition = validate_condition(rule.condition)
    except RuleError as exc:
        raise RuleError(f"rule {rule.name!r}: {exc}") from None
    return condition_matches(condition, feedback, source=source)


def _rule_decision(rule: RuleSpec) -> Decision:
    condition = format_condition(rule.condition)
    if rule.severity is None:
        return Decision(None, (f"suppressed by rule {rule.name!r}: {condition}",), rule.name)
    return Decision(rule.severity, (f"rule {rule.name!r}: {condition}",), rule.name)


def default_decision(
    feedback: FeedbackIn, *, alarming_words: Sequence[str] = DEFAULT_WORDS, source: str = ""
) -> Decision:
    """The built-in rules. `source` is accepted for symmetry with `evaluate`; the defaults ignore it."""
    triggers = [_nps_trigger(feedback), _contact_trigger(feedback), *_red_flag_triggers(feedback)]
    found = [trigger for trigger in triggers if trigger is not None]
    severity = Severity.max(*(level for level, _ in found))
    reasons = [reason for _, reason in found]
    words = find_words(feedback.comment or "", alarming_words)
    if words:
        # An alarming comment is a reason to alert by itself, and makes any other trigger worse.
        severity = severity.raised() if severity is not None else Severity.NORMAL
        reasons.append("alarming words: " + ", ".join(words))
    return Decision(severity, tuple(reasons), DEFAULTS)


_Trigger = tuple[Severity, str]


def _nps_trigger(feedback: FeedbackIn) -> _Trigger | None:
    nps = feedback.nps
    if nps is None or nps > 6:
        return None
    if nps <= 3:
        return Severity.CRITICAL, f"NPS {nps} (0–3 ⇒ critical)"
    return Severity.HIGH, f"NPS {nps} (0–6 ⇒ high)"


def _contact_trigger(feedback: FeedbackIn) -> _Trigger | None:
    if not feedback.contact_requested:
        return None
    detractor = feedback.nps is not None and feedback.nps <= 6
    return (Severity.HIGH if detractor else Severity.NORMAL), CONTACT_REASON


def _red_flag_triggers(feedback: FeedbackIn) -> Iterator[_Trigger]:
    for answer in feedback.answers:
        position = _position(answer)
        if position is None or position > _LOW_LIMIT or _repeats_nps(answer, feedback):
            continue
        scale = f"{_number_text(answer.scale_min)}–{_number_text(answer.scale_max)}"
        yield Severity.HIGH, f"a red flag: '{answer.question}' = {_number_text(answer.value)} on {scale}"


def _repeats_nps(answer: Answer, feedback: FeedbackIn) -> bool:
    # The NPS question often also arrives as an answer; its reason is already "NPS n (…)".
    is_nps_question = (answer.kind or "").casefold() == "nps"
    return is_nps_question and feedback.nps is not None and answer.numeric == feedback.nps


def _position(answer: Answer) -> float | None:
    try:
        position = answer.position
    except OverflowError:  # an integer too large for a float has no place on a scale
        return None
    return None if position is None or math.isnan(position) else position


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ---------------------------------------------------------------------------------------------
# Alarming words: case- and accent-insensitive, matched at the start of a word


def fold_text(text: str) -> str:
    """Lower case without accents, so "Remboursé" and "rembourse" compare equal."""
    if text.isascii():  # the common case: nothing to decompose, and casefold() is lower() there
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


_SPACELESS_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH", "THAI", "LAO", "KHMER", "MYANMAR")


@lru_cache(maxsize=2048)
def _word_pattern(word: str) -> tuple[str, re.Pattern[str]] | None:
    """(a substring every match contains, the pattern): the cheap `in` test rules most words out."""
    parts = fold_text(word).split()
    if not parts:
        return None
    body = r"\s+".join(re.escape(part) for part in parts)  # "never again" spans any whitespace
    # Scripts written without spaces have no word starts to anchor to: match anywhere.
    spaceless = unicodedata.name(parts[0][0], "").startswith(_SPACELESS_SCRIPTS)
    return parts[0], re.compile(body if spaceless else r"(?<!\w)" + body)


def find_words(text: str, words: Sequence[str]) -> list[str]:
    """The words (as configured) that start a word in `text`: "refund" finds "Refunds", "sue" not "pursue"."""
    folded = fold_text(text)
    found: list[str] = []
    for word in words:
        compiled = _word_pattern(word)
        if compiled is None or word in found:
            continue
        needle, pattern = compiled
        if needle in folded and pattern.search(folded):
            found.append(word)
    return found


# ---------------------------------------------------------------------------------------------
# Matching a canonical condition tree


def condition_matches(node: Mapping[str, Any], feedback: FeedbackIn, *, source: str = "") -> bool:
    """Does `feedback` satisfy a canonical tree (from validate_condition/parse_condition)?"""
    if "all" in node:
        return all(condition_matches(child, feedback, source=source) for child in node["all"])
    if "any" in node:
        return any(condition_matches(child, feedback, source=source) for child in node["any"])
    if "not" in node:
        return not condition_matches(node["not"], feedback, source=source)
    return _leaf_matches(node, feedback, source)


def _leaf_matches(leaf: Mapping[str, Any], feedback: FeedbackIn, source: str) -> bool:
    field, op, expected = leaf["field"], leaf["op"], leaf.get("value")
    if field == "any_answer":
        return any(
            _holds(op, answer.value, expected, position)
            for answer in feedback.answers
            if (position := _position(answer)) is not None
        )
    actual, position = _field_value(field, feedback, source)
    return _holds(op, actual, expected, position)


def _field_value(field: str, feedback: FeedbackIn, source: str) -> tuple[Any, float | None]:
    """The field's value and, for scaled ones, its position on the scale (for `low`)."""
    if field == "source":
        return source, None
    if field == "nps":
        return feedback.nps, None if feedback.nps is None else feedback.nps / 10
    if field.startswith("answer."):
        answer = _find_answer(feedback, field.removeprefix("answer."))
        return (None, None) if answer is None else (answer.value, _position(answer))
    return feedback.field_value(field), None


def _find_answer(feedback: FeedbackIn, wanted: str) -> Answer | None:
    wanted = wanted.casefold()
    for answer in feedback.answers:
        if wanted in (answer.question.casefold(), (answer.ref or "").casefold()):
            return answer
    return None


def _holds(op: str, actual: Any, expected: Any, position: float | None) -> bool:
    if op == "low":
        return position is not None and position <= _LOW_LIMIT
    if actual is None or (isinstance(actual, str) and not actual.strip()):
        return op == "!="
    return _OPERATORS[op](actual, expected)


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        wanted = _as_bool(expected)
        return wanted is not None and _as_bool(actual) == wanted
    return _compare(actual, expected) == 0


def _compare(actual: Any, expected: Any) -> int | None:
    """-1, 0 or 1 comparing numbers as numbers and text case-insensitively; None if incomparable."""
    left, right = _as_number(actual), _as_number(expected)
    if left is not None and right is not None:
        return (left > right) - (left < right)
    if isinstance(actual, str) and isinstance(expected, str):
        left_text, right_text = actual.casefold(), expected.casefold()
        return (left_text > right_text) - (left_text < right_text)
    return None


_NUMERIC_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")


def _as_number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, str) and len(value) <= 60:
        text = value.strip()
        if _INTEGER_TEXT.fullmatch(text):
            return int(text)
        if _NUMERIC_TEXT.fullmatch(text):
            return float(text)
    return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    if text in ("true", "yes", "1", "1.0"):
        return True
    if text in ("false", "no", "0", "0.0"):
        return False
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _ordered(test: Callable[[int], bool]) -> Callable[[Any, Any], bool]:
    def holds(actual: Any, expected: Any) -> bool:
        order = _compare(actual, expected)
        return order is not None and test(order)

    return holds


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "exists": lambda actual, expected: True,  # reached only when the field is present
    "=": _equal,
    "!=": lambda actual, expected: not _equal(actual, expected),
    "<": _ordered(lambda order: order < 0),
    "<=": _ordered(lambda order: order <= 0),
    ">": _ordered(lambda order: order > 0),
    ">=": _ordered(lambda order: order >= 0),
    "in": lambda actual, expected: any(_equal(actual, item) for item in expected),
    "contains": lambda actual, expected: expected.casefold() in _as_text(actual).casefold(),
    "matches": lambda actual, expected: compile_pattern(expected).search(_as_text(actual)) is not None,
    "words": lambda actual, expected: bool(find_words(_as_text(actual), expected)),
}


# ---------------------------------------------------------------------------------------------
# Rule text and explanations


def parse_rule_text(text: str) -> tuple[dict[str, Any], Severity | None]:
    """`nps<=6 and attr.region=north then high` → (tree, Severity.HIGH); `… then none` → (tree, None)."""
    tree, outcome = parse_rule_parts(text, outcomes=tuple(_OUTCOMES))
    return tree, _OUTCOMES[outcome]


def explain(decision: Decision) -> str:
    """Several lines for `hotloop rules test`: the outcome, who decided, and why."""
    outcome = f"alert, severity {decision.severity.value}" if decision.severity else "no alert"
    decided_by = "the default rules" if decision.rule == DEFAULTS else f"custom rule {decision.rule!r}"
    lines = [f"Outcome: {outcome}", f"Decided by: {decided_by}"]
    if decision.reasons:
        lines.append("Because:")
        lines += [f"  - {reason}" for reason in decision.reasons]
    else:
        lines.append("Because: nothing in this response calls for an alert")
    return "\n".join(lines)
