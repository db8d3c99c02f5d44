"""The (dimension, value) pairs an alert is counted under."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.settings import DEFAULT_ALARMING_WORDS
from bot.systemic.signals import DIMENSIONS, MAX_VALUE_LENGTH, by_specificity, dimension_values

WORDS = DEFAULT_ALARMING_WORDS


def test_attributes_source_then_topics_in_a_stable_order() -> None:
    pairs = dimension_values(
        attributes={"product": "Menu A", "location": " 042 ", "colour": "red", "employee": "Anna  B."},
        source="typeform-paris",
        comment="Delivery late, I want a refund",
        alarming_words=WORDS,
    )
    assert pairs == [
        ("location", "042"),
        ("product", "Menu A"),
        ("employee", "Anna B."),
        ("source", "typeform-paris"),
        ("topic", "group:refund"),
        ("topic", "delivery late"),
        ("topic", "delivery"),
        ("topic", "late"),  # "want" is a Dutch stop word ("because"), and says little in English
    ]


def test_empty_values_are_skipped_and_long_ones_cut() -> None:
    pairs = dimension_values(
        attributes={"location": "   ", "region": "x" * 300}, source="s", comment=None, alarming_words=WORDS
    )
    assert pairs == [("region", "x" * MAX_VALUE_LENGTH), ("source", "s")]


VALUES = st.text(max_size=300)


@settings(max_examples=100, deadline=None)
@given(
    attributes=st.dictionaries(st.sampled_from(["location", "region", "employee", "other"]), VALUES),
    source=VALUES,
    comment=st.none() | st.text(max_size=200),
)
def test_pairs_are_unique_clean_and_known(
    attributes: dict[str, str], source: str, comment: str | None
) -> None:
    pairs = dimension_values(attributes=attributes, source=source, comment=comment, alarming_words=WORDS)
    assert len(pairs) == len(set(pairs))
    order = [DIMENSIONS.index(dimension) for dimension, _ in pairs]
    assert order == sorted(order)
    for _, value in pairs:
        assert value and value == value.strip() and len(value) <= MAX_VALUE_LENGTH


def test_employee_figures_off_leaves_the_employee_out() -> None:
    attributes = {"location": "042", "employee": "Anna"}
    on = dimension_values(attributes=attributes, source="web", comment=None, alarming_words=WORDS)
    off = dimension_values(attributes=attributes, source="web", comment=None, alarming_words=WORDS,
                           employees=False)
    assert ("employee", "Anna") in on
    assert off == [pair for pair in on if pair[0] != "employee"]


def test_values_rank_most_specific_first() -> None:
    pairs = dimension_values(attributes={"location": "042", "region": "north", "employee": "Anna",
                                         "product": "box"},
                             source="web", comment="late delivery", alarming_words=WORDS)
    assert [dimension for dimension, _ in by_specificity(pairs)] == [
        "topic", "topic", "topic", "employee", "product", "location", "region", "source"]
