"""Properties of the rule engine: text round-trips, parsing fails only with RuleError, evaluation
never fails, and the default severity only goes up as a response gets worse."""

from __future__ import annotations

import contextlib
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import Answer, Customer, FeedbackIn, Severity
from bot.rules.evaluate import (
    DEFAULT_WORDS,
    RuleError,
    RuleSpec,
    default_decision,
    evaluate,
    format_condition,
    parse_condition,
    parse_rule_text,
    validate_condition,
)

# ---------------------------------------------------------------------------------------------
# Strategies

PLAIN_FIELDS = [
    "nps",
    "comment",
    "contact_requested",
    "source",
    "external_id",
    "customer.email",
    "customer.name",
    "customer.phone",
    "customer.id",
]
NUMERIC_OPS = ["=", "!=", "<", "<=", ">", ">=", "in", "exists", "low"]
TEXT_OPS = ["contains", "matches", "words"]

scalars = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
named_fields = st.one_of(
    st.sampled_from(PLAIN_FIELDS),
    st.text(min_size=1, max_size=12).map(lambda name: f"attr.{name}"),
    st.text(min_size=1, max_size=12).map(lambda name: f"answer.{name}"),
)
words = st.text(min_size=1, max_size=12).filter(str.strip)


@st.composite
def leaves(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.one_of(named_fields, st.just("any_answer")))
    ops = NUMERIC_OPS if field == "any_answer" else NUMERIC_OPS + TEXT_OPS
    if not (field in ("nps", "any_answer") or field.startswith("answer.")):
        ops = [op for op in ops if op != "low"]
    op = draw(st.sampled_from(ops))
    values = {
        "in": st.lists(scalars, min_size=1, max_size=4),
        "words": st.lists(words, min_size=1, max_size=3),
        "matches": st.text(max_size=20).map(re.escape),
        "contains": st.text(min_size=1, max_size=12),
        "exists": st.none(),
        "low": st.none(),
    }
    return {"field": field, "op": op, "value": draw(values.get(op, scalars))}


trees = st.recursive(
    leaves(),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4).map(lambda items: {"all": items}),
        st.lists(children, min_size=1, max_size=4).map(lambda items: {"any": items}),
        children.map(lambda child: {"not": child}),
    ),
    max_leaves=12,
)

answers = st.builds(
    Answer,
    question=st.text(min_size=1, max_size=20),
    value=st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=8), st.booleans()),
    scale_min=st.one_of(st.none(), st.floats(), st.sampled_from([0.0, 1.0])),
    scale_max=st.one_of(st.none(), st.floats(), st.sampled_from([5.0, 10.0])),
    kind=st.sampled_from([None, "nps", "rating", "text"]),
    ref=st.one_of(st.none(), st.text(max_size=8)),
)
comments = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.lists(st.sampled_from([*DEFAULT_WORDS[:8], "fine", "pursue", "ok", "Refunds"]), max_size=5).map(
        " ".join
    ),
)
feedbacks = st.builds(
    FeedbackIn,
    external_id=st.text(min_size=1, max_size=12),
    customer=st.builds(
        Customer, email=st.one_of(st.none(), st.emails()), name=st.one_of(st.none(), st.text(max_size=8))
    ),
    nps=st.one_of(st.none(), st.integers(min_value=0, max_value=10)),
    contact_requested=st.booleans(),
    answers=st.lists(answers, max_size=4),
    comment=comments,
    attributes=st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3),
)

# Text that looks like the syntax, so generated inputs reach deep into the parser.
syntax_pieces = st.sampled_from(
    [
        "nps",
        "comment",
        "attr.x",
        'answer."Q"',
        "any_answer",
        "and",
        "or",
        "not",
        "then",
        "(",
        ")",
        "[",
        "]",
        ",",
        "=",
        "!=",
        "<=",
        ">",
        "in",
        "contains",
        "matches",
        "exists",
        "low",
        "words",
        "3",
        "-1.5",
        "042",
        '"a b"',
        '"(?i)x+"',
        '"(a+)+"',
        '"\\"',
        "true",
        "high",
        "none",
        "\\",
        "!",
        '"',
    ]
)
syntax_like = st.lists(syntax_pieces, max_size=12).map(" ".join)


@st.composite
def damaged_conditions(draw: st.DrawFn) -> str:
    """A valid condition's text with one slice replaced: errors in every corner of the grammar."""
    text = format_condition(draw(trees))
    start = draw(st.integers(min_value=0, max_value=len(text)))
    end = draw(st.integers(min_value=start, max_value=len(text)))
    return text[:start] + draw(st.one_of(syntax_pieces, st.text(max_size=3))) + text[end:]


parser_inputs = st.one_of(st.text(max_size=60), syntax_like, damaged_conditions())


def rank(severity: Severity | None) -> int:
    return -1 if severity is None else severity.rank


# ---------------------------------------------------------------------------------------------
# Properties


@given(trees)
@settings(max_examples=300)
def test_format_then_parse_round_trips(tree: dict[str, Any]) -> None:
    canonical = validate_condition(tree)
    text = format_condition(tree)
    assert parse_condition(text) == canonical
    assert format_condition(canonical) == text


@given(parser_inputs)
@settings(max_examples=500)
def test_parse_condition_fails_only_with_rule_error(text: str) -> None:
    try:
        tree = parse_condition(text)
    except RuleError:
        return
    assert parse_condition(format_condition(tree)) == tree


@given(st.one_of(parser_inputs, parser_inputs.map(lambda text: f"{text} then high")))
def test_parse_rule_text_fails_only_with_rule_error(text: str) -> None:
    # any exception other than RuleError escapes and fails the test
    with contextlib.suppress(RuleError):
        parse_rule_text(text)


json_like = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["all", "any", "not", "field", "op", "value", "text", "x"]), children, max_size=3
        ),
    ),
    max_leaves=10,
)


@given(json_like)
def test_validate_condition_fails_only_with_rule_error(tree: Any) -> None:
    # any exception other than RuleError escapes and fails the test
    with contextlib.suppress(RuleError):
        validate_condition(tree)


@given(feedbacks, st.lists(trees, max_size=3), st.text(max_size=10))
@settings(max_examples=200)
def test_evaluate_never_raises(feedback: FeedbackIn, conditions: list[dict[str, Any]], source: str) -> None:
    rules = [RuleSpec(name=f"r{i}", condition=c, severity=Severity.LOW) for i, c in enumerate(conditions)]
    decision = evaluate(feedback, rules=rules, source=source)
    assert decision.rule in {"defaults", *(r.name for r in rules)}
    default = evaluate(feedback)
    assert (default.severity is None) == (not default.reasons)


@given(feedbacks, st.integers(min_value=0, max_value=10), st.integers(min_value=0, max_value=10))
def test_lowering_the_nps_never_lowers_the_severity(feedback: FeedbackIn, first: int, second: int) -> None:
    higher, lower = max(first, second), min(first, second)
    before = default_decision(feedback.model_copy(update={"nps": higher})).severity
    after = default_decision(feedback.model_copy(update={"nps": lower})).severity
    assert rank(after) >= rank(before)


@given(feedbacks, st.sampled_from(DEFAULT_WORDS))
def test_an_alarming_word_never_lowers_the_severity(feedback: FeedbackIn, word: str) -> None:
    worse = feedback.model_copy(update={"comment": f"{feedback.comment or ''} {word}"})
    before, after = default_decision(feedback).severity, default_decision(worse).severity
    assert after is not None
    assert rank(after) >= rank(before)


# ---------------------------------------------------------------------------------------------
# Alarming words: the fast paths (ASCII folding, substring pre-check) change no answer


def _fold_slow(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _find_words_slow(text: str, words: list[str]) -> list[str]:
    import unicodedata

    folded, found = _fold_slow(text), []
    for word in words:
        parts = _fold_slow(word).split()
        if not parts or word in found:
            continue
        body = r"\s+".join(re.escape(part) for part in parts)
        spaceless = unicodedata.name(parts[0][0], "").startswith(
            ("CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH", "THAI", "LAO", "KHMER", "MYANMAR")
        )
        if re.search(body if spaceless else r"(?<!\w)" + body, folded):
            found.append(word)
    return found


_TEXT_ALPHABET = st.sampled_from([*"abcdeRUDsu ,.!\n\tÉéßİı返金", "never again", "refund", "rude"])
_WORDS = st.sampled_from([*DEFAULT_WORDS[:20], "sue", "ß", "返金", "É", "never  again"])


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(_TEXT_ALPHABET, max_size=30).map("".join),
    words=st.lists(_WORDS, max_size=8),
)
def test_find_words_matches_the_plain_regex_reading(text: str, words: list[str]) -> None:
    from bot.rules.evaluate import find_words, fold_text

    assert fold_text(text) == _fold_slow(text)
    assert find_words(text, words) == _find_words_slow(text, words)
