"""`hotloop stats --by location|product|topic|employee [--json] [--since] [--team] [--weekly]`
(hotloop/cli_stats.py, bot/breakdown.py, bot/breakdown_text.py, storage/queries/breakdown.py): figures
per value and per ISO week, systemic summaries left out, per-person figures refused when turned off. The
command runs in-process (typer's CliRunner) on a migrated SQLite file and, with HOTLOOP_TEST_DATABASE_URL,
a throw-away PostgreSQL database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.breakdown import week_label, week_start
from bot.domain import utcnow
from bot.settings import DEFAULT_ALARMING_WORDS
from bot.systemic.topics import topics
from hotloop.cli import app
from storage.db import create_engine_for, session_factory
from storage.migrate import upgrade
from tests.appserver import TEST_SECRET_KEY
from tests.databases import throwaway_pg_database
from tests.responses import add_response

LATE = "The delivery was late"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def cli_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/stats.db"
    else:
        yield from throwaway_pg_database("hotloop_statsby")


async def _seed(url: str) -> None:
    await upgrade(url)
    engine = create_engine_for(url)
    sessions = session_factory(engine)
    now = utcnow()
    at = now - timedelta(days=2)
    resolved = {"status": "resolved", "claimed_at": at + timedelta(minutes=10),
                "resolved_at": at + timedelta(hours=2), "outcome": "recovered"}
    await add_response(sessions, at=at, nps=2, comment=LATE, team="store-042", alert=resolved,
                       attributes={"location": "042", "employee": "Jessica C", "product": "sofa"})
    await add_response(sessions, at=at, nps=3, comment=LATE, team="store-042", alert={"status": "open"},
                       attributes={"location": "042", "employee": "jessica c "})  # past its claim deadline
    await add_response(sessions, at=at, nps=9, attributes={"location": "042", "employee": "Jessica C"})
    await add_response(sessions, at=at, nps=10, attributes={"location": "043", "employee": "Omar B"})
    await add_response(sessions, at=at, nps=7)
    await add_response(sessions, at=at, nps=None, source="hotloop-systemic", comment=LATE,
                       attributes={"location": "042"}, alert={"kind": "systemic", "key": "SYS-1"})
    await add_response(sessions, at=now - timedelta(days=40), nps=0, attributes={"location": "042"})
    await engine.dispose()


def run(url: str, *args: str, **env: str) -> Any:
    environment = {"HOTLOOP_DATABASE_URL": url, "HOTLOOP_SECRET_KEY": TEST_SECRET_KEY,
                   "HOTLOOP_LOG_LEVEL": "warning", "HOTLOOP_ENV_FILE": "", **env}
    return CliRunner().invoke(app, ["stats", *args], env=environment)


def test_by_location_json_and_text(cli_database: str) -> None:
    asyncio.run(_seed(cli_database))
    result = run(cli_database, "--by", "location", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["by"] == "location" and document["team"] is None
    assert document["without_value"] == 1  # the NPS 7 response names no location
    rows = {row["value"]: row for row in document["rows"]}
    assert list(rows) == ["042", "043"]  # most alerts first
    store = rows["042"]  # the systemic summary and the 40-day-old response are not counted
    assert (store["responses"], store["alerts"], store["open"]) == (3, 2, 1)
    assert store["median_claim_seconds"] == 600.0 and store["median_resolve_seconds"] == 7200.0
    assert store["breach_rate"] == 0.5 and store["recovery_rate"] == 1.0
    assert store["nps_mean"] == pytest.approx(4.67) and store["nps_median"] == 3
    assert (store["detractors"], store["passives"], store["promoters"]) == (2, 0, 1)
    assert rows["043"]["alerts"] == 0 and rows["043"]["recovery_rate"] is None

    longer = json.loads(run(cli_database, "--by", "location", "--json", "--since", "60d").output)
    assert {r["value"]: r["responses"] for r in longer["rows"]}["042"] == 4

    text = run(cli_database, "--by", "location")
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].startswith("Figures by location, responses since")  # one line per value by default
    assert lines[1].split()[:3] == ["location", "resp", "alerts"]
    assert lines[2].split()[:4] == ["042", "3", "2", "1"] and "50 %" in lines[2] and "100 %" in lines[2]
    assert lines[-1] == "1 response(s) had no location"


def test_by_employee_topic_and_team(cli_database: str) -> None:
    asyncio.run(_seed(cli_database))
    people = json.loads(run(cli_database, "--by", "employee", "--json").output)
    by_person = {row["value"]: row for row in people["rows"]}
    assert set(by_person) == {"Jessica C", "Omar B"}  # "jessica c " is the same person
    assert by_person["Jessica C"]["responses"] == 3 and by_person["Jessica C"]["nps_max"] == 9

    found = json.loads(run(cli_database, "--by", "topic", "--json").output)
    by_topic = {row["value"]: row for row in found["rows"]}
    for topic in topics(LATE, alarming_words=DEFAULT_ALARMING_WORDS):
        assert (by_topic[topic]["responses"], by_topic[topic]["alerts"]) == (2, 2)
    assert found["without_value"] == 3

    team = json.loads(run(cli_database, "--by", "product", "--json", "--team", "store-042").output)
    assert team["team"] == "store-042" and [(r["value"], r["alerts"]) for r in team["rows"]] == [("sofa", 1)]
    top = json.loads(run(cli_database, "--by", "location", "--json", "--top", "1").output)
    assert [r["value"] for r in top["rows"]] == ["042"]


def test_refusals(cli_database: str) -> None:
    asyncio.run(_seed(cli_database))
    for extra in ((), ("--json",), ("--no-weekly",)):
        off = run(cli_database, "--by", " Employee ", *extra, HOTLOOP_EMPLOYEE_FIGURES="off")
        assert off.exit_code == 2  # like every setting that stops a command
        assert off.output == "per-person figures are turned off here (HOTLOOP_EMPLOYEE_FIGURES=off)\n"
    assert run(cli_database, "--by", "location", HOTLOOP_EMPLOYEE_FIGURES="off").exit_code == 0
    bad = run(cli_database, "--by", "colour")
    assert bad.exit_code == 2 and "--by must be one of location, region, product" in bad.output
    assert run(cli_database, "--by", "location", "--since", "soon").exit_code == 2
    assert run(cli_database, "--by", "location", "--since", "0s").exit_code == 2
    unknown = run(cli_database, "--by", "location", "--team", "nosuchteam")
    assert unknown.exit_code == 1 and "no team named 'nosuchteam'" in unknown.output


async def _seed_weeks(url: str) -> None:
    """Jessica C this week (alerts with three outcomes, one still open, a promoter) and two weeks ago (a
    promoter whose comment carries control characters); Omar B last week."""
    await upgrade(url)
    engine = create_engine_for(url)
    sessions = session_factory(engine)
    this_week = week_start(utcnow())
    jess = {"employee": "Jessica C", "location": "042"}
    for nps, outcome in ((2, "recovered"), (3, "contacted_not_recovered"), (4, "unreachable")):
        await add_response(sessions, at=this_week, nps=nps, attributes=jess, team="store-042", comment=LATE,
                           alert={"status": "resolved", "outcome": outcome,
                                  "resolved_at": this_week + timedelta(minutes=30)})
    await add_response(sessions, at=this_week, nps=5, attributes=jess, team="store-042",
                       alert={"status": "open"})
    await add_response(sessions, at=this_week, nps=10, attributes=jess, comment="Jessica was  wonderful")
    await add_response(sessions, at=this_week - timedelta(days=10), nps=9, attributes=jess,
                       comment="Quick\x1b[31m and kind\x07")
    await add_response(sessions, at=this_week - timedelta(days=5), nps=6,
                       attributes={"employee": "Omar B", "location": "043"})
    await engine.dispose()


def test_by_employee_is_weekly(cli_database: str) -> None:
    asyncio.run(_seed_weeks(cli_database))
    this_week = week_start(utcnow())
    labels = [week_label(this_week - timedelta(weeks=n)) for n in (2, 1, 0)]
    document = json.loads(run(cli_database, "--by", "employee", "--json", "--since", "14d").output)
    assert document["since"] == (this_week - timedelta(weeks=2)).isoformat()  # whole ISO weeks
    jessica = document["rows"][0]
    assert jessica["value"] == "Jessica C" and (jessica["responses"], jessica["alerts"]) == (6, 4)
    assert [week["week"] for week in jessica["weeks"]] == labels  # oldest first, empty weeks too
    assert jessica["weeks"][0]["starts"] == (this_week - timedelta(weeks=2)).date().isoformat()
    older, empty, current = jessica["weeks"]
    assert (older["responses"], older["alerts"], older["promoters"], older["nps_min"]) == (1, 0, 1, 9)
    assert (empty["responses"], empty["alerts"], empty["nps_median"], empty["outcomes"]) == (0, 0, None, {})
    assert (current["responses"], current["alerts"], current["open"]) == (5, 4, 1)
    assert current["outcomes"] == {"contacted_not_recovered": 1, "recovered": 1, "unreachable": 1}
    assert current["recovery_rate"] == 0.5 and jessica["recovery_rate"] == 0.5
    assert (current["nps_min"], current["nps_median"], current["nps_max"]) == (2, 4, 10)
    assert jessica["promoters"] == 2  # the promoters who named them, newest comment first
    assert jessica["promoter_comments"] == ["Jessica was wonderful", "Quick[31m and kind"]
    keys = set(jessica) - {"value", "weeks", "promoter_comments"}
    assert all(set(week) - {"week", "starts"} == keys for week in jessica["weeks"])  # one shape
    assert "Dana" not in json.dumps(document) and "555" not in json.dumps(document)  # no contact details

    text = run(cli_database, "--by", "employee", "--since", "14d")
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].startswith("Figures by employee, by ISO week, responses since")
    start = lines.index("Jessica C")
    block = {line.split()[0]: line for line in lines[start + 2 : start + 6]}
    assert list(block) == [*labels, "total"]  # the coaching view's table
    assert block[labels[2]].split()[1:4] == ["5", "4", "50"] and "2/4/10" in block[labels[2]]
    assert "1 recovered, 1 not recovered, 1 unreachable, 1 open" in block[labels[2]]
    assert block["total"].split()[1:3] == ["6", "4"]
    assert lines[start + 6] == "  Promoters who named them: 2"
    assert "“Quick[31m and kind”" in text.output and "\x1b" not in text.output
    assert "Omar B" in lines and "Dana" not in text.output

    flat = run(cli_database, "--by", "employee", "--since", "14d", "--no-weekly").output.splitlines()
    assert flat[1].split()[:2] == ["employee", "resp"] and flat[2].split()[:3] == ["Jessica", "C", "6"]
    located = run(cli_database, "--by", "location", "--since", "14d", "--weekly").output
    assert "\n042\n" in located and labels[0] in located and "Promoters who named them" not in located
