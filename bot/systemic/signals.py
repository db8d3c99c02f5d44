"""The (dimension, value) pairs one alert is counted under for systemic spikes, and how the detector
ranks the dimensions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.systemic.topics import topics

ATTRIBUTE_DIMENSIONS = ("location", "region", "product", "employee")
SOURCE_DIMENSION = "source"
TOPIC_DIMENSION = "topic"
DIMENSIONS = (*ATTRIBUTE_DIMENSIONS, SOURCE_DIMENSION, TOPIC_DIMENSION)
MAX_VALUE_LENGTH = 255  # the column size of AlertSignal.value / SignalDay.value
EMPLOYEE_DIMENSION = "employee"
# Most specific first: when one alert makes several of its values spike, the first opens the parent and
# the others find most of their window in it (bot/systemic/detector.py) — "mention *delivery late* at
# location 042" says more than "from web", and the card names the shared location itself.
SPECIFICITY = (TOPIC_DIMENSION, EMPLOYEE_DIMENSION, "product", "location", "region", SOURCE_DIMENSION)
# Too broad to judge by min_count alone: without a baseline, 3 alerts in 2 h through one source (or one
# region's many locations) is an ordinary morning, not an incident. They need the team's history.
NEEDS_BASELINE = frozenset({SOURCE_DIMENSION, "region"})
# A spike whose window is at least this share children of parents already (any dimension) opens none:
# those cards show the incident (bot/systemic/detector.py says why half).
COVERED_SHARE = 0.5
_RANK = {dimension: rank for rank, dimension in enumerate(SPECIFICITY)}


def clean_value(raw: object) -> str:
    """Whitespace collapsed and cut to MAX_VALUE_LENGTH; case kept, as values are shown ("Store 042")."""
    return " ".join(str(raw).split())[:MAX_VALUE_LENGTH].rstrip()


def dimension_values(
    *, attributes: Mapping[str, str], source: str, comment: str | None, alarming_words: Sequence[str],
    employees: bool = True,
) -> list[tuple[str, str]]:
    """(dimension, value) pairs in DIMENSIONS order, topics in `topics` order; none empty or twice.
    `employees` False (HOTLOOP_EMPLOYEE_FIGURES=off): no employee value — "N detractors served by X" is
    a per-person figure a works council may forbid, so it is neither counted nor a parent."""
    pairs: list[tuple[str, str]] = []
    for dimension in ATTRIBUTE_DIMENSIONS:
        if dimension == EMPLOYEE_DIMENSION and not employees:
            continue
        raw = attributes.get(dimension)
        if raw is not None:
            pairs.append((dimension, clean_value(raw)))
    pairs.append((SOURCE_DIMENSION, clean_value(source)))
    found = topics(comment, alarming_words=alarming_words)
    pairs.extend((TOPIC_DIMENSION, clean_value(topic)) for topic in found)
    unique = dict.fromkeys(pair for pair in pairs if pair[1])
    return list(unique)


def by_specificity(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs most specific dimension first (SPECIFICITY); a dimension's values keep their order."""
    return sorted(pairs, key=lambda pair: _RANK.get(pair[0], len(SPECIFICITY)))
