"""One incident, one card (SQLite and PostgreSQL): a burst that spikes its topic, location, employee and
source at once opens one parent, its most specific value; a distinct incident still gets its own; source
and region need a baseline; HOTLOOP_EMPLOYEE_FIGURES=off keeps employees out of detection."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.config.snapshot import ConfigSnapshot
from storage.db import SessionFactory
from storage.models import Alert, AlertSignal, Feedback, SystemicIssue
from storage.queries.systemic import parents_of
from tests.bot.systemic.test_detector import T0, detect, parents, prepare, raise_at, seed_baseline

BURST = "the delivery was late, again"
# no two share a word: together they are no topic's spike
ODD_ONES = ["cold soup", "broken chair", "noisy music", "dirty table", "wrong bill", "long queue",
            "missing fork", "sticky floor"]


async def live(sessions: SessionFactory, config: ConfigSnapshot, minute: int, *, comment: str,
               location: str = "042", employee_figures: bool = True, **attributes: str) -> str:
    """One alert `minute` after T0, then the detector's tick."""
    at = T0 + timedelta(minutes=minute)
    key = await raise_at(sessions, config, at, location=location, comment=comment, nps=2, **attributes)
    await detect(sessions, config, at, employee_figures=employee_figures)
    return key


def shape(found: list[SystemicIssue]) -> list[tuple[str, str, int]]:
    return [(p.dimension, p.value, p.child_count) for p in found]


async def ids_of(sessions: SessionFactory, keys: list[str]) -> list[int]:
    async with sessions() as session:
        found = await session.execute(select(col(Alert.id)).where(col(Alert.key).in_(keys)))
        return [i for i in found.scalars() if i is not None]


async def test_a_burst_spiking_four_dimensions_at_once_opens_one_parent(sessions: SessionFactory) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM", managers_channel="C0MGR")
    # history: every value below is new (min_count decides), the source is a spike too at 4 in 2 h
    await seed_baseline(sessions, team_id=config.default_team_id, per_day={("source", "web"): 1})
    keys = [await live(sessions, config, 10 * n, comment=BURST, employee="Anna") for n in range(4)]

    found = await parents(sessions)
    assert shape(found) == [("topic", "delivery late", 4)], "not also location, employee and source"
    async with sessions() as session:
        linked = await parents_of(session, alert_ids=await ids_of(sessions, keys))
        summary = (await session.execute(select(col(Feedback.comment)).join(
            Alert, col(Alert.feedback_id) == col(Feedback.id)).where(col(Alert.id) == found[0].alert_id))
        ).scalar_one()
    assert len(linked) == 4 and all(len(sys_keys) == 1 for sys_keys in linked.values())
    assert summary is not None and summary.startswith("4 detractors mention *delivery late* at location 042")


async def test_distinct_incidents_at_one_location_get_their_own_parents(sessions: SessionFactory) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM")
    for n in range(3):
        await live(sessions, config, n, comment=BURST)
    for n in range(3):
        await live(sessions, config, 5 + n, comment="rude staff at the desk")
    # two incidents, two cards; the location's 6 alerts are all on them: no third card
    assert shape(await parents(sessions)) == [("topic", "delivery late", 3), ("topic", "group:rude", 3)]

    for n, comment in enumerate(ODD_ONES[:6]):
        await live(sessions, config, 10 + n, comment=comment)
    assert len(await parents(sessions)) == 2, "6 of 12 alerts at location 042 are on a card: covered"
    await live(sessions, config, 20, comment=ODD_ONES[6])
    # 7 of 13 on no card: location 042 is no longer mostly those incidents
    assert shape(await parents(sessions)) == [("topic", "delivery late", 3), ("topic", "group:rude", 3),
                                              ("location", "042", 13)]


async def test_without_history_a_source_or_region_alone_opens_nothing(sessions: SessionFactory) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM")
    for n, comment in enumerate(ODD_ONES):  # 8 through the web form from one region, 8 locations
        await live(sessions, config, 10 * n, comment=comment, location=f"{100 + n}", region="north")
    assert await parents(sessions) == [], "a fresh install's busy morning is not an incident"


async def test_with_a_baseline_a_region_spike_opens_one_parent(sessions: SessionFactory) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM")
    await seed_baseline(sessions, team_id=config.default_team_id, per_day={
        ("source", "web"): 2, ("region", "north"): 2})
    for n, comment in enumerate(ODD_ONES):
        await live(sessions, config, 10 * n, comment=comment, location=f"{100 + n}", region="north")
    found = shape(await parents(sessions))
    assert [(dimension, value) for dimension, value, _ in found] == [("region", "north")], found


@pytest.mark.parametrize("employee_figures", [True, False])
async def test_employee_figures_off_keeps_employees_out_of_detection(
    sessions: SessionFactory, employee_figures: bool
) -> None:
    config = await prepare(sessions, slack_channel="C0TEAM")
    for n, comment in enumerate(ODD_ONES[:4]):  # one employee, four locations, nothing else shared
        await live(sessions, config, 10 * n, comment=comment, location=f"{100 + n}", employee="Anna",
                   employee_figures=employee_figures)
    async with sessions() as session:
        signals = (await session.execute(select(func.count()).select_from(AlertSignal).where(
            col(AlertSignal.dimension) == "employee"))).scalar_one()
    if employee_figures:
        assert (signals, shape(await parents(sessions))) == (4, [("employee", "Anna", 4)])
    else:
        assert (signals, await parents(sessions)) == (0, []), "no per-person figure, counted or shown"
