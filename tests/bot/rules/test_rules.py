"""The rule engine: default rules and their boundaries, custom rules, every operator, the text syntax."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain import Answer, Customer, FeedbackIn, Severity
from bot.rules.evaluate import (
    DEFAULTS,
    Decision,
    RuleError,
    RuleSpec,
    default_decision,
    evaluate,
    explain,
    find_words,
    format_condition,
    parse_condition,
    parse_rule_text,
    validate_condition,
)

CRITICAL, HIGH, NORMAL = Severity.CRITICAL, Severity.HIGH, Severity.NORMAL


def feedback(**values: Any) -> FeedbackIn:
    return FeedbackIn(external_id="r-1", **values)


def scaled(question: str, value: float, low: float, high: float, **extra: Any) -> Answer:
    return Answer(question=question, value=value, scale_min=low, scale_max=high, **extra)


# ---------------------------------------------------------------------------------------------
# Default rules


@pytest.mark.parametrize(
    ("nps", "expected"),
    [
        (0, CRITICAL),
        (3, CRITICAL),
        (4, HIGH),
        (6, HIGH),
        (7, None),
        (8, None),
        (9, None),
        (10, None),
        (None, None),
    ],
)
def test_nps_boundaries(nps: int | None, expected: Severity | None) -> None:
    assert evaluate(feedback(nps=nps)).severity is expected


def test_nps_reasons_name_the_band() -> None:
    assert evaluate(feedback(nps=2)).reasons == ("NPS 2 (0–3 ⇒ critical)",)
    assert evaluate(feedback(nps=5)).reasons == ("NPS 5 (0–6 ⇒ high)",)


def test_nothing_alarming_is_no_alert() -> None:
    decision = evaluate(feedback(nps=9, comment="Lovely evening, thanks!"))
    assert decision == Decision(None, (), DEFAULTS)


@pytest.mark.parametrize(
    ("nps", "expected"),
    [(10, NORMAL), (9, NORMAL), (7, NORMAL), (None, NORMAL), (6, HIGH), (4, HIGH), (2, CRITICAL)],
)
def test_contact_request_alerts_whatever_the_score(nps: int | None, expected: Severity) -> None:
    decision = evaluate(feedback(nps=nps, contact_requested=True))
    assert decision.severity is expected
    assert "asked to be contacted" in decision.reasons


def test_promoter_contact_request_has_only_that_reason() -> None:
    assert evaluate(feedback(nps=10, contact_requested=True)).reasons == ("asked to be contacted",)


def test_one_low_answer_among_tens_is_a_red_flag() -> None:
    answers = [scaled("Food", 10, 1, 10), scaled("Staff friendliness", 1, 1, 5), scaled("Value", 10, 1, 10)]
    decision = evaluate(feedback(nps=10, answers=answers))
    assert decision.severity is HIGH
    assert decision.reasons == ("a red flag: 'Staff friendliness' = 1 on 1–5",)


@pytest.mark.parametrize(
    ("answer", "flagged"),
    [
        (scaled("Q", 1, 1, 10), True),
        (scaled("Q", 2, 1, 10), True),  # 11% up the scale
        (scaled("Q", 3, 1, 10), False),  # 22%
        (scaled("Q", 2, 0, 10), True),  # exactly 20%
        (scaled("Q", 2, 1, 5), False),  # 25%
        (scaled("Q", 0.6, 0, 3), True),  # 20% with floating-point noise
        (scaled("Q", 5, 5, 1), False),  # inverted scale: no position
        (Answer(question="Q", value=1), False),  # no scale
        (Answer(question="Q", value="1", scale_min=1, scale_max=5), False),  # text, not a number
    ],
)
def test_red_flag_is_the_bottom_fifth_of_any_scale(answer: Answer, flagged: bool) -> None:
    assert (evaluate(feedback(answers=[answer])).severity is HIGH) is flagged


def test_every_red_flag_is_listed_and_severity_is_the_max() -> None:
    answers = [scaled("Staff", 1, 1, 5), scaled("Speed", 0.5, 0, 10)]
    decision = evaluate(feedback(nps=3, answers=answers))
    assert decision.severity is CRITICAL
    assert decision.reasons == (
        "NPS 3 (0–3 ⇒ critical)",
        "a red flag: 'Staff' = 1 on 1–5",
        "a red flag: 'Speed' = 0.5 on 0–10",
    )


def test_the_nps_question_is_not_also_a_red_flag() -> None:
    nps_answer = scaled("How likely are you to recommend us?", 1, 0, 10, kind="nps")
    assert evaluate(feedback(nps=1, answers=[nps_answer])).reasons == ("NPS 1 (0–3 ⇒ critical)",)


def test_all_triggers_are_listed_in_order() -> None:
    answers = [scaled("Staff friendliness", 1, 1, 5)]
    decision = evaluate(
        feedback(nps=2, contact_requested=True, answers=answers, comment="So rude. Refund now")
    )
    assert decision.reasons == (
        "NPS 2 (0–3 ⇒ critical)",
        "asked to be contacted",
        "a red flag: 'Staff friendliness' = 1 on 1–5",
        "alarming words: refund, rude",
    )


# ---------------------------------------------------------------------------------------------
# Alarming words


@pytest.mark.parametrize(
    ("comment", "nps", "expected"),
    [
        ("I want a refund", None, NORMAL),  # the comment alone is a reason to alert
        ("I want a refund", 9, NORMAL),
        ("I want a refund", 5, CRITICAL),  # high, raised one level
        ("I want a refund", 2, CRITICAL),  # already critical: stays there
        ("Refunds please", None, NORMAL),
        ("REFUND!!!", None, NORMAL),
        ("We will pursue this further", None, None),  # "sue" only at a word start
        ("I'll sue", None, NORMAL),
        ("never again", 8, NORMAL),
        ("Never\n   AGAIN.", None, NORMAL),
        ("again never", None, None),
        ("nunca más vuelvo", None, NORMAL),
        ("NUNCA MAS", None, NORMAL),  # accents are optional
        ("Ich will eine RÜCKERSTATTUNG", None, NORMAL),
        ("je veux un remboursement", None, NORMAL),
        ("返金してください", None, NORMAL),  # Japanese has no spaces: matched anywhere
        ("", None, None),
    ],
)
def test_alarming_words(comment: str, nps: int | None, expected: Severity | None) -> None:
    assert evaluate(feedback(comment=comment, nps=nps)).severity is expected


def test_alarming_words_are_configurable_and_reported_as_configured() -> None:
    decision = evaluate(
        feedback(comment="Le GÉRANT était impoli"), alarming_words=["gérant", "impoli", "sale"]
    )
    assert decision.severity is NORMAL
    assert decision.reasons == ("alarming words: gérant, impoli",)
    assert evaluate(feedback(comment="I want a refund"), alarming_words=[]).severity is None


def test_find_words_reports_each_word_once() -> None:
    assert find_words("refund refund, RUDE", ["rude", "refund", "refund", "   "]) == ["rude", "refund"]


# ---------------------------------------------------------------------------------------------
# Custom rules


def rule(name: str, text: str, severity: Severity | None, priority: int = 100) -> RuleSpec:
    return RuleSpec(name=name, condition=parse_condition(text), severity=severity, priority=priority)


def test_first_matching_rule_decides_by_priority_then_name() -> None:
    rules = [
        rule("b-north", "attr.region = north", HIGH, priority=10),
        rule("a-north", "attr.region = north", Severity.LOW, priority=10),
        rule("first-but-no-match", "attr.region = south", CRITICAL, priority=1),
        rule("later", "nps exists", CRITICAL, priority=50),
    ]
    decision = evaluate(feedback(nps=9, attributes={"region": "north"}), rules=rules)
    assert (decision.severity, decision.rule) == (Severity.LOW, "a-north")
    assert decision.reasons == ("rule 'a-north': attr.region = north",)


def test_no_matching_rule_falls_back_to_defaults() -> None:
    decision = evaluate(feedback(nps=2), rules=[rule("south", "attr.region = south", Severity.LOW)])
    assert (decision.severity, decision.rule) == (CRITICAL, DEFAULTS)


def test_a_rule_can_suppress_an_alert() -> None:
    rules = [rule("test accounts", 'customer.email matches "@example\\.test$"', None)]
    test_account = feedback(nps=0, contact_requested=True, customer=Customer(email="qa@example.test"))
    decision = evaluate(test_account, rules=rules)
    assert decision.severity is None
    assert decision.rule == "test accounts"
    assert decision.reasons[0].startswith("suppressed by rule 'test accounts'")
    real = feedback(nps=0, customer=Customer(email="dana@example.com"))
    assert evaluate(real, rules=rules).severity is CRITICAL


def test_a_rule_can_raise_what_the_defaults_ignore() -> None:
    rules = [rule("vip", "attr.tier = gold and nps <= 8", HIGH)]
    assert evaluate(feedback(nps=8, attributes={"tier": "Gold"}), rules=rules).severity is HIGH


def test_rule_sees_the_source() -> None:
    rules = [rule("typeform only", "source = typeform", CRITICAL)]
    assert evaluate(feedback(nps=9), rules=rules, source="typeform").severity is CRITICAL
    assert evaluate(feedback(nps=9), rules=rules, source="delighted").severity is None


def test_rule_condition_may_be_text_as_yaml_import_stores_it() -> None:
    rules = [RuleSpec(name="north", condition={"text": "attr.region = north"}, severity=HIGH)]
    assert evaluate(feedback(attributes={"region": "north"}), rules=rules).severity is HIGH


def test_broken_rule_raises_naming_the_rule() -> None:
    rules = [RuleSpec(name="oops", condition={"field": "nps", "op": "≈", "value": 1}, severity=HIGH)]
    with pytest.raises(RuleError, match="rule 'oops': unknown operator"):
        evaluate(feedback(nps=1), rules=rules)


def test_default_decision_ignores_custom_rules_and_source() -> None:
    assert default_decision(feedback(nps=4), alarming_words=(), source="x") == evaluate(feedback(nps=4))


# ---------------------------------------------------------------------------------------------
# Operators

SAMPLE = FeedbackIn(
    external_id="r-1",
    customer=Customer(id="c1", name="Dana Scully", email="Dana@Example.com"),
    nps=5,
    contact_requested=True,
    comment="The staff were rude, I want a refund",
    attributes={"region": "north", "location": "042", "visits": "9", "blank": "  "},
    answers=[
        scaled("Staff friendliness", 1, 1, 5, ref="q_staff"),
        scaled("Cleanliness", 5, 1, 5),
        Answer(question="Favourite dish", value="Pizza", kind="text"),
    ],
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # =, != (numbers, case-insensitive text, booleans, refs, the source)
        ("nps = 5", True),
        ("nps = 6", False),
        ("nps == 5", True),
        ("attr.region = NORTH", True),
        ("attr.location = 42", True),
        ('attr.location = "42"', True),
        ("contact_requested = true", True),
        ("contact_requested = false", False),
        ("contact_requested = yes", True),
        ('answer."favourite dish" = pizza', True),
        ("answer.q_staff = 1", True),
        ("customer.email = dana@example.com", True),
        ("customer.id = c1", True),
        ("source = typeform", True),
        ("external_id = r-1", True),
        ("nps != 5", False),
        ("attr.region != south", True),
        ("nps <> 4", True),
        ("attr.missing != x", True),
        ("customer.phone != 1", True),
        ("attr.blank != x", True),
        # ordering: numbers as numbers, text as text, mixed never
        ("nps < 6", True),
        ("nps < 5", False),
        ("nps <= 5", True),
        ("nps > 4", True),
        ("nps >= 6", False),
        ("attr.visits > 10", False),
        ("attr.visits < 10", True),
        ("attr.visits <= 9.0", True),
        ("attr.region > m", True),
        ("attr.region < 3", False),
        ("attr.missing < 3", False),
        # in
        ("attr.location in [042, 043]", True),
        ("attr.location in [41, 42]", True),
        ("attr.region in [south, east]", False),
        ("nps in 5", True),
        ("attr.missing in [x]", False),
        # contains, matches
        ("comment contains REFUND", True),
        ("customer.email contains example.com", True),
        ("comment contains lawyer", False),
        ("attr.missing contains x", False),
        ("nps contains 5", True),
        ('comment matches "(?i)REFUND|chargeback"', True),
        ('comment matches "REFUND"', False),
        ('attr.location matches "^04[0-9]$"', True),
        ('attr.missing matches ".*"', False),
        # exists
        ("customer.email exists", True),
        ("customer.phone exists", False),
        ("attr.region exists", True),
        ("attr.blank exists", False),
        ("comment exists", True),
        ("not attr.missing exists", True),
        # low
        ("any_answer low", True),
        ("answer.cleanliness low", False),
        ('answer."Staff friendliness" low', True),
        ("nps low", False),
        ('answer."favourite dish" low', False),
        ("answer.missing low", False),
        # words
        ("comment words [refund, lawyer]", True),
        ("comment words [und]", False),
        ("comment words lawyer", False),
        ('comment words ["want a"]', True),
        # any_answer
        ("any_answer <= 1", True),
        ("any_answer >= 5", True),
        ("any_answer = 3", False),
        ("any_answer exists", True),
        ("any_answer in [2, 3]", False),
        # and / or / not
        ("nps <= 6 and attr.region = north", True),
        ("nps = 1 or attr.region = north", True),
        ("not nps = 5", False),
        (
            'nps<=6 and (attr.region=north or answer."Staff friendliness"<=2) and not customer.email exists',
            False,
        ),
        ("nps = 1 and attr.region = south or attr.region = north", True),  # and binds tighter
        ("nps = 1 and (attr.region = south or attr.region = north)", False),
    ],
)
def test_operator(text: str, expected: bool) -> None:
    rules = [RuleSpec(name="r", condition=parse_condition(text), severity=Severity.LOW)]
    matched = evaluate(SAMPLE, rules=rules, source="typeform").rule == "r"
    assert matched is expected


def test_nps_low_is_the_bottom_fifth() -> None:
    rules = [rule("r", "nps low", Severity.LOW)]
    assert evaluate(feedback(nps=2), rules=rules).rule == "r"
    assert evaluate(feedback(nps=3), rules=rules).rule == DEFAULTS


def test_blank_comment_counts_as_missing() -> None:
    rules = [rule("r", "comment exists", Severity.LOW)]
    assert evaluate(feedback(comment="   "), rules=rules).rule == DEFAULTS


# ---------------------------------------------------------------------------------------------
# Text syntax


def test_parse_builds_the_tree() -> None:
    tree = parse_condition(
        'NPS<=6 AND (attr.region=north OR answer."Staff friendliness"<=2) and not customer.email exists'
    )
    assert tree == {
        "all": [
            {"field": "nps", "op": "<=", "value": 6},
            {
                "any": [
                    {"field": "attr.region", "op": "=", "value": "north"},
                    {"field": "answer.Staff friendliness", "op": "<=", "value": 2},
                ]
            },
            {"not": {"field": "customer.email", "op": "exists"}},
        ]
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("attr.x = 042", "042"),
        ("attr.x = 42", 42),
        ("attr.x = -3", -3),
        ("attr.x = 1.5", 1.5),
        ("attr.x = 1e3", 1000.0),
        ("attr.x = TRUE", True),
        ("attr.x = false", False),
        ('attr.x = "42"', "42"),
        ('attr.x = "say \\"hi\\""', 'say "hi"'),
        ('attr.x = "a\\\\b"', "a\\b"),
        ('comment matches "\\d+"', "\\d+"),
        ("attr.x = dana@example.com", "dana@example.com"),
        ("attr.x = zürich", "zürich"),
        ('attr.x = ""', ""),
        ('attr.x = "low"', "low"),
    ],
)
def test_parse_values(text: str, value: Any) -> None:
    assert parse_condition(text)["value"] == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "column 1: expected a field"),
        ("nps <=", "column 7: expected a value"),
        ("nps foo 3", "column 5: expected an operator"),
        ("nps", "column 4: expected an operator"),
        ("(nps = 1", "column 9: expected ')'"),
        ("nps = 1)", "column 8: expected 'and', 'or' or the end"),
        ("nps = 1 or", "column 11: expected a field"),
        ("nps = 1 nps = 2", "column 9: expected 'and', 'or'"),
        ('attr.x = "abc', "column 10: quoted text is never closed"),
        ("nps ! 3", "column 5: unexpected character '!'"),
        ("foo = 1", "column 1: unknown field 'foo'"),
        ("customer.age = 3", "unknown field 'customer.age'"),
        ("attr. = 3", "unknown field"),
        ("comment low", "'low' needs a scaled question"),
        ("any_answer contains 1", "any_answer compares"),
        ('comment matches "("', "invalid regular expression"),
        ('comment matches "(a+)+$"', "repeats a repeated group"),
        ("attr.x in [1, 2", "column 16: expected ',' or ']'"),
        ("attr.x in []", "expected a value"),
        ("attr.x = [1]", "expected a value"),
        ('comment words [" "]', "non-empty words"),
        ("and = 1", "expected a field"),
        ("nps <= 6 then high", "expected 'and', 'or' or the end"),
        ("(" * 1000, "nested too deeply"),
        ("not " * 1000 + "nps exists", "nested"),
    ],
)
def test_parse_errors_say_where_and_what(text: str, message: str) -> None:
    with pytest.raises(RuleError, match=None) as error:
        parse_condition(text)
    assert message in str(error.value)


def test_regex_length_is_capped() -> None:
    with pytest.raises(RuleError, match="at most 500"):
        parse_condition(f'comment matches "{"a" * 501}"')


@pytest.mark.parametrize(
    ("tree", "text"),
    [
        ({"field": "nps", "op": "<=", "value": 6}, "nps <= 6"),
        (
            {
                "all": [
                    {"field": "nps", "op": "<", "value": 7},
                    {
                        "not": {
                            "any": [
                                {"field": "attr.region", "op": "=", "value": "north"},
                                {"field": "attr.region", "op": "=", "value": "low"},
                            ]
                        }
                    },
                ]
            },
            'nps < 7 and not (attr.region = north or attr.region = "low")',
        ),
        (
            {"field": "attr.location", "op": "in", "value": ["042", 43, "1.50", True]},
            'attr.location in [042, 43, "1.50", true]',
        ),
        (
            {"field": "answer.Staff friendliness", "op": "low", "value": None},
            'answer."Staff friendliness" low',
        ),
        (
            {"field": "comment", "op": "words", "value": ["never again", "refund"]},
            'comment words ["never again", refund]',
        ),
        (
            {
                "all": [
                    {"all": [{"field": "nps", "op": "exists"}, {"field": "comment", "op": "exists"}]},
                    {"field": "source", "op": "=", "value": "a b"},
                ]
            },
            '(nps exists and comment exists) and source = "a b"',
        ),
    ],
)
def test_format_condition(tree: dict[str, Any], text: str) -> None:
    assert format_condition(tree) == text
    assert parse_condition(text) == validate_condition(tree)


# ---------------------------------------------------------------------------------------------
# Checking trees from YAML / the database


@pytest.mark.parametrize(
    ("tree", "canonical"),
    [
        ({"field": "NPS", "op": "==", "value": 3}, {"field": "nps", "op": "=", "value": 3}),
        (
            {"field": "attributes.region", "op": "<>", "value": "x"},
            {"field": "attr.region", "op": "!=", "value": "x"},
        ),
        (
            {"field": "Customer.Email", "op": "EXISTS", "value": "ignored"},
            {"field": "customer.email", "op": "exists"},
        ),
        ({"all": [{"field": "nps", "op": "exists"}]}, {"field": "nps", "op": "exists"}),
        ({"field": "attr.x", "op": "in", "value": "a"}, {"field": "attr.x", "op": "in", "value": ["a"]}),
        (
            {"field": "comment", "op": "contains", "value": 42},
            {"field": "comment", "op": "contains", "value": "42"},
        ),
        ({"text": "nps <= 3"}, {"field": "nps", "op": "<=", "value": 3}),
        (
            {"any": ({"field": "nps", "op": "exists"}, {"text": "comment exists"})},
            {"any": [{"field": "nps", "op": "exists"}, {"field": "comment", "op": "exists"}]},
        ),
    ],
)
def test_validate_normalizes(tree: Any, canonical: dict[str, Any]) -> None:
    assert validate_condition(tree) == canonical


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ("nps <= 3", "must be a mapping"),
        ({}, "needs all, any, not, text or field+op"),
        ({"all": []}, "at least one condition"),
        ({"all": "nps"}, "needs a list"),
        ({"all": [1]}, "must be a mapping"),
        ({"field": "nps"}, "needs both 'field' and 'op'"),
        ({"field": "nps", "op": "=", "value": 1, "extra": 2}, "unknown key(s) in a condition: extra"),
        ({"field": "nps", "op": "~", "value": 1}, "unknown operator '~'"),
        ({"field": 3, "op": "=", "value": 1}, "a field name must be text"),
        ({"field": "nps", "op": "="}, "'nps =' needs a value"),
        ({"field": "nps", "op": "=", "value": None}, "a value must be text, a number or true/false"),
        ({"field": "nps", "op": "=", "value": [1]}, "not list"),
        ({"field": "nps", "op": "=", "value": float("nan")}, "must be finite"),
        ({"field": "nps", "op": "=", "value": 10**200}, "too large"),
        ({"field": "nps", "op": "in", "value": []}, "at least one value"),
        ({"field": "comment", "op": "matches", "value": 3}, "regular expression written as text"),
        ({"field": "comment", "op": "contains", "value": ""}, "some text"),
        ({"field": "comment", "op": "words", "value": [1]}, "non-empty words"),
        ({"text": 3}, "'text' must hold"),
        ({"text": "nps <="}, "expected a value"),
        ({"not": {"not": {"not": {}}}}, "needs all, any"),
    ],
)
def test_validate_rejects(tree: Any, message: str) -> None:
    with pytest.raises(RuleError) as error:
        validate_condition(tree)
    assert message in str(error.value)


def test_validate_limits_depth() -> None:
    tree: dict[str, Any] = {"field": "nps", "op": "exists"}
    for _ in range(60):
        tree = {"not": tree}
    with pytest.raises(RuleError, match="nested more than 50"):
        validate_condition(tree)


# ---------------------------------------------------------------------------------------------
# Rule text and explanations


@pytest.mark.parametrize(
    ("text", "severity"),
    [
        ("nps<=6 and attr.region=north then high", HIGH),
        ("customer.email contains @example.test then none", None),
        ("any_answer low then LOW", Severity.LOW),
        ("source = typeform then critical", CRITICAL),
    ],
)
def test_parse_rule_text(text: str, severity: Severity | None) -> None:
    tree, parsed = parse_rule_text(text)
    assert parsed is severity
    assert tree == parse_condition(text.rsplit(" then ", 1)[0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nps <= 6", "column 9: expected 'and', 'or' or 'then'"),
        ("nps <= 6 then", "expected one of low, normal, high, critical, none after 'then'"),
        ("nps <= 6 then urgent", "column 15: expected one of"),
        ("nps <= 6 then high now", "column 20: expected the end of the rule"),
        ("then high", "expected a field"),
    ],
)
def test_parse_rule_text_errors(text: str, message: str) -> None:
    with pytest.raises(RuleError) as error:
        parse_rule_text(text)
    assert message in str(error.value)


def test_explain_an_alert() -> None:
    text = explain(evaluate(feedback(nps=2, contact_requested=True)))
    assert text.splitlines() == [
        "Outcome: alert, severity critical",
        "Decided by: the default rules",
        "Because:",
        "  - NPS 2 (0–3 ⇒ critical)",
        "  - asked to be contacted",
    ]


def test_explain_no_alert_and_custom_rules() -> None:
    assert "no alert" in explain(evaluate(feedback(nps=9)))
    assert "nothing in this response" in explain(evaluate(feedback(nps=9)))
    suppressed = evaluate(feedback(nps=0), rules=[rule("qa", "nps exists", None)])
    assert "Decided by: custom rule 'qa'" in explain(suppressed)
