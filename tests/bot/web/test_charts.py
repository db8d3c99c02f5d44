"""The figures behind the charts, against a small history whose medians and 90th percentiles are worked
out by hand (SQLite and PostgreSQL); the weeks kept in `figureday` computed again when an alert changes
or a deadline passes; and the pictures: the digest's PNG and the page's SVG."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select, update
from sqlmodel import col

from bot.web.charts import PALETTE, bar_chart, count, line_chart, render_week_png
from bot.web.figures import FigureSeries, Spread, WeekFigures, percentile, weekly_figures
from storage.db import SessionFactory, transaction
from storage.models import Alert, Feedback, FigureDay, FollowUp, Source, Team

NOW = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)  # a Wednesday: ISO week 2026-W50 began Monday 7 Dec
LAST_WEEK = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # Tuesday of 2026-W49
THIS_WEEK = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class History:
    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions
        self.count = 0

    async def setup(self) -> tuple[int, int]:
        async with transaction(self.sessions) as session:
            session.add(Source(name="web", kind="generic", secret_encrypted="x", mapping={}))
            north, south = Team(name="north"), Team(name="south")
            session.add_all([north, south])
            await session.flush()
            assert north.id is not None and south.id is not None
            return north.id, south.id

    async def alert(self, team: int, created: datetime, *, location: str, employee: str = "Employee Ana",
                    contact: int | None = None, claim: int | None = None, resolve: int | None = None,
                    claim_due: int = 1000, kind: str = "response") -> int:
        """An alert `created`, contacted / claimed / resolved that many seconds after it."""
        def after(seconds: int | None) -> datetime | None:
            return None if seconds is None else created + timedelta(seconds=seconds)

        self.count += 1
        async with transaction(self.sessions) as session:
            feedback = Feedback(source_id=1, external_id=f"r{self.count}", received_at=created,
                                attributes={"location": location, "employee": employee})
            session.add(feedback)
            await session.flush()
            assert feedback.id is not None
            status = "resolved" if resolve is not None else "claimed" if claim is not None else "open"
            alert = Alert(key=f"HA-{self.count}", feedback_id=feedback.id, severity="high", status=status,
                          team_id=team, created_at=created, first_contact_at=after(contact),
                          claimed_at=after(claim), resolved_at=after(resolve), claim_due_at=after(claim_due),
                          resolve_due_at=created + timedelta(days=10), kind=kind)
            session.add(alert)
            await session.flush()
            assert alert.id is not None
            return alert.id

    async def answer(self, alert_id: int, *, resolved: bool | None, score: int | None = None) -> None:
        at = NOW - timedelta(days=1)
        async with transaction(self.sessions) as session:
            session.add(FollowUp(alert_id=alert_id, nonce=f"n{alert_id}", address_hash="0" * 64,
                                 language="en", created_at=at, expires_at=at + timedelta(days=30), sent_at=at,
                                 answered_at=None if resolved is None else at, resolved=resolved,
                                 score=score))


@pytest.fixture
async def history(sessions: SessionFactory) -> dict[str, Any]:
    """north, week 49: contacts after 60, 120, 180 and 1200 s; claims after 300, 600, 900 and 1200 s (the
    last one past its 1000 s deadline), one alert never claimed (breached by now); resolves after 3600 and
    7200 s; two follow-ups answered (yes; yes but a score of 5: not confirmed), one unanswered.
    south, week 49: one alert contacted after 3600 s. north, week 50: one alert contacted after 30 s, and a
    systemic issue."""
    made = History(sessions)
    north, south = await made.setup()
    ids = []
    for i, (contact, claim, resolve) in enumerate([(60, 300, 3600), (120, 600, 7200), (180, 900, None),
                                                   (1200, 1200, None), (None, None, None)]):
        ids.append(await made.alert(north, LAST_WEEK + timedelta(minutes=i), location="L1",
                                    contact=contact, claim=claim, resolve=resolve))
    await made.answer(ids[0], resolved=True)
    await made.answer(ids[1], resolved=True, score=5)
    await made.answer(ids[2], resolved=None)
    await made.alert(south, LAST_WEEK, location="L2", employee="Employee Bo", contact=3600, claim=3600,
                     resolve=4000, claim_due=7200)
    await made.alert(north, THIS_WEEK, location="L2", contact=30, claim=40)
    await made.alert(north, THIS_WEEK, location="L2", kind="systemic")
    return {"north": north, "south": south, "never_claimed": ids[4],
            "names": {north: "north", south: "south"}}


def _both(spread: Spread) -> tuple[float | None, float | None]:
    """(median, p90) rounded to the microsecond: the hand-worked values are exact."""
    return tuple(None if v is None else round(v, 6) for v in (spread.median, spread.p90))  # type: ignore[return-value]


def _week(series: FigureSeries, label: str) -> WeekFigures:
    return next(w for w in series.weeks if w.label == label)


async def test_figures_by_week_team_and_location_match_the_hand_worked_values(
    sessions: SessionFactory, history: dict[str, Any]
) -> None:
    figures = await weekly_figures(sessions, now=NOW, team_names=history["names"], weeks=2)
    assert figures.week_labels == ("2026-W49", "2026-W50")
    north = next(t for t in figures.teams if t.name == "north")
    week = _week(north, "2026-W49")
    assert (week.alerts, week.responded, week.breached) == (5, 4, 2)
    assert week.response_rate == pytest.approx(0.8) and week.breach_rate == pytest.approx(0.4)
    # contacts 60, 120, 180, 1200: median between 120 and 180; p90 at rank 2.7 → 180 + 0.7 × 1020
    assert _both(week.first_contact) == (150, 894)
    # claims 300, 600, 900, 1200: median 750; p90 at rank 2.7 → 900 + 0.7 × 300
    assert _both(week.claim) == (750, 1110)
    # resolves 3600, 7200: median 5400; p90 at rank 0.9 → 3600 + 0.9 × 3600
    assert _both(week.resolve) == (5400, 6840)
    assert (week.follow_ups_answered, week.confirmed, week.confirmed_recovery_rate) == (2, 1, 0.5)
    assert _week(north, "2026-W50").systemic == 1 and _week(north, "2026-W50").alerts == 1
    overall = _week(figures.overall, "2026-W49")  # north and south together: 60 … 1200 and 3600
    assert overall.alerts == 6 and overall.responses_received == 6
    assert _both(overall.first_contact) == (180, 2640)
    locations = {s.name: s.total for s in figures.locations}
    assert list(locations) == ["L1", "L2"]  # busiest first
    assert locations["L2"] is not None and locations["L2"].alerts == 2
    assert locations["L2"].first_contact.median == pytest.approx(1815)  # 30 and 3600
    assert {s.name for s in figures.employees} == {"Employee Ana", "Employee Bo"}
    hidden = await weekly_figures(sessions, now=NOW, team_names=history["names"], weeks=2,
                                  employee_figures=False)
    assert hidden.employees == () and hidden.teams == figures.teams
    async with sessions() as session:  # where per-person figures are off, none are kept either
        kept = [json.dumps(data) for data in (await session.execute(select(col(FigureDay.data)))).scalars()]
    assert kept and not any("Employee " in data for data in kept)  # no space in base64: a name's only


async def test_a_team_alone_and_an_empty_window(sessions: SessionFactory, history: dict[str, Any]) -> None:
    south = await weekly_figures(sessions, now=NOW, team_names=history["names"], team_ids=[history["south"]],
                                 weeks=2)
    assert [t.name for t in south.teams] == ["south"]
    assert _week(south.overall, "2026-W49").alerts == 1
    assert _week(south.overall, "2026-W49").responses_received is None  # feedback has no team
    empty = await weekly_figures(sessions, now=NOW + timedelta(weeks=60), team_names=history["names"])
    assert all(w.alerts == 0 and w.first_contact.median is None for w in empty.overall.weeks)
    assert empty.locations == ()


async def test_kept_weeks_are_computed_again_when_an_alert_changes_or_a_deadline_passes(
    sessions: SessionFactory, history: dict[str, Any]
) -> None:
    names = history["names"]
    first = await weekly_figures(sessions, now=NOW, team_names=names, weeks=2)
    async with sessions() as session:
        kept = (await session.execute(select(func.count()).select_from(FigureDay))).scalar_one()
    assert kept == 3  # north on 1 and 8 December, south on 1 December
    assert _week(first.overall, "2026-W50").breached == 0
    # north's W50 alert (claimed at 40 s) has 10 days to be resolved: after that, breached without a write
    later = await weekly_figures(sessions, now=THIS_WEEK + timedelta(days=11), team_names=names, weeks=2)
    assert _week(later.overall, "2026-W50").alerts == 1 and _week(later.overall, "2026-W50").breached == 1
    # the never-claimed alert is claimed (a write bumps its version): W49 is computed again
    async with transaction(sessions) as session:
        await session.execute(update(Alert).where(col(Alert.id) == history["never_claimed"]).values(
            claimed_at=LAST_WEEK + timedelta(seconds=100), version=col(Alert.version) + 1))
    again = await weekly_figures(sessions, now=NOW, team_names=names, weeks=2)
    north = next(t for t in again.teams if t.name == "north")
    assert _week(north, "2026-W49").responded == 5
    assert _week(north, "2026-W49").claim.median == 600  # 100, 300, 600, 900, 1200


def test_percentile_is_linear_between_closest_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0], 0.9) == pytest.approx(91)


def _series(weeks: list[WeekFigures], name: str = "north") -> FigureSeries:
    return FigureSeries(dimension="team", name=name, weeks=tuple(weeks))


def test_the_digest_png_is_a_valid_800_by_400_picture_of_the_weeks() -> None:
    weeks = [WeekFigures(label=f"2026-W{40 + i}", start=date(2026, 9, 28) + timedelta(weeks=i),
                         alerts=10 * i, first_contact=Spread(count=3, median=1800.0 * i, p90=3600.0 * i))
             for i in range(1, 9)]
    png = render_week_png(_series(weeks))
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG" and image.size == (800, 400)
    colours = {colour for _, colour in image.convert("RGB").getcolors(maxcolors=1 << 16) or []}
    bars = tuple(int(PALETTE[0][i:i + 2], 16) for i in (1, 3, 5))
    assert bars in colours  # the alerts' bars are drawn, not only the frame


@pytest.mark.parametrize("weeks", [[], [WeekFigures(label="2026-W49", start=date(2026, 11, 30))]])
def test_the_png_of_no_data_is_still_a_picture(weeks: list[WeekFigures]) -> None:
    image = Image.open(io.BytesIO(render_week_png(_series(weeks))))
    image.load()
    assert image.size == (800, 400)


def test_svg_charts_are_well_formed_accessible_and_escape_names() -> None:
    hostile = '<script>alert(1)</script> & "Bo"'
    line = line_chart(chart_id="c", title="Time to first contact", labels=["2026-W49", "2026-W50"],
                      series=[(hostile, [None, None])], fmt=count)
    bars = bar_chart(chart_id="b", title="Alerts", labels=[hostile], series=[("alerts", [3.0])])
    for chart in (line, bars):
        root = ET.fromstring(chart.svg)  # well-formed: nothing of the name became markup
        assert root.get("role") == "img" and root.get("aria-label")
        assert "<script>" not in chart.svg and "&lt;script&gt;" in chart.svg
    assert not list(ET.fromstring(line.svg).iter("{http://www.w3.org/2000/svg}script"))
    assert line.table.rows == (("2026-W49", "—"), ("2026-W50", "—"))
    assert "No data" not in line.svg and "2026-W50: " in line.svg


def test_a_count_axis_up_to_one_labels_only_its_ends() -> None:
    """All-zero counts draw an axis of 0 to 1: its middle line must not be labelled "0" a second time."""
    chart = bar_chart(chart_id="s", title="Systemic issues", labels=["2026-W49", "2026-W50"],
                      series=[("systemic issues", [0.0, 0.0])])
    ticks = [t.text for t in ET.fromstring(chart.svg).iter("{http://www.w3.org/2000/svg}text")
             if t.get("class") == "tick" and t.get("text-anchor") == "end"]
    assert ticks == ["0", "1"]
