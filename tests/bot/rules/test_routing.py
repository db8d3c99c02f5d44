"""Routing: first match by priority, severity comparisons, and the default team for everything else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import FeedbackIn, Severity
from bot.rules.routing import RouteError, RouteSpec, choose_team, format_match, parse_match, route_matches

ITEM = FeedbackIn(external_id="x", attributes={"location": "042", "region": "North"})


def test_first_match_by_priority_wins() -> None:
    routes = [
        RouteSpec(id=1, priority=50, match={"region": "north"}, team_id=2),
        RouteSpec(id=2, priority=10, match={"location": "042"}, team_id=3),
    ]
    decision = choose_team(
        routes=routes, default_team_id=1, feedback=ITEM, severity=Severity.HIGH, source="web"
    )
    assert (decision.team_id, decision.route_id, decision.by_default) == (3, 2, False)


def test_unmatched_alerts_fall_through_to_the_default_team_and_are_flagged() -> None:
    routes = [RouteSpec(id=1, priority=1, match={"location": "999"}, team_id=2)]
    decision = choose_team(
        routes=routes, default_team_id=7, feedback=ITEM, severity=Severity.LOW, source="web"
    )
    assert decision.team_id == 7 and decision.by_default


@pytest.mark.parametrize(
    ("match", "severity", "expected"),
    [
        ({"severity": ">=high"}, Severity.CRITICAL, True),
        ({"severity": ">=high"}, Severity.NORMAL, False),
        ({"severity": "high"}, Severity.HIGH, True),
        ({"severity": "<normal"}, Severity.LOW, True),
        ({"source": "typeform"}, Severity.LOW, False),
        ({"source": "WEB"}, Severity.LOW, True),
        ({"region": ["south", "north"]}, Severity.LOW, True),
        ({"location": "042", "region": "south"}, Severity.LOW, False),
        ({"attr.location": "042"}, Severity.LOW, True),
        ({"employee": "*"}, Severity.LOW, False),
        ({"location": "*"}, Severity.LOW, True),
    ],
)
def test_match_semantics(match: dict[str, object], severity: Severity, expected: bool) -> None:
    assert route_matches(match, feedback=ITEM, severity=severity, source="web") is expected


def test_parse_match_reads_the_command_syntax() -> None:
    assert parse_match("location=042 severity>=high region=north,south") == {
        "location": "042",
        "severity": ">=high",
        "region": ["north", "south"],
    }
    for bad in ("", "location", "region>=north", "severity>=urgent", 'a="unterminated'):
        with pytest.raises(RouteError):
            parse_match(bad)


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(lambda k: k != "severity"),
        st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True),
        min_size=1,
        max_size=4,
    )
)
def test_format_then_parse_round_trips(match: dict[str, str]) -> None:
    assert parse_match(format_match(match)) == match
