"""One team's day of figures, as `figureday` keeps it: for the team, and for each location and employee
seen that day, the sums (alerts, responded, breached, follow-ups answered, confirmed, systemic issues) and
the durations themselves (whole seconds, sorted, packed as base64 of 32-bit integers) — medians and 90th
percentiles of several days or teams together are exact only from the durations, not from per-day ones.
Locations and employees keep the time to first contact only (the one duration their charts show), in
columns (names; every sum; how many durations each; the durations one after another): a dashboard reads
hundreds of these, and a few long strings parse far faster than thousands of small JSON lists.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import SessionFactory, transaction
from storage.queries import weekly as weekly_queries
from storage.queries.weekly import DAY, Window

FORMAT = "2"  # part of every fingerprint: a day kept in an older shape is computed again
TEAM, LOCATION, EMPLOYEE = "team", "location", "employee"
ALERTS, RESPONDED, BREACHED, ANSWERED, CONFIRMED, SYSTEMIC = range(6)
SUMS = 6
SAVE_BATCH = 14  # days (every team's) computed and kept per transaction: a first build holds no lock long


def pack(values: Iterable[int], *, ordered: bool = True) -> str:
    packed = array("i", sorted(values) if ordered else values)
    if _BIG_ENDIAN:  # kept little-endian whatever the machine
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def unpack(text: str) -> array[int]:
    """An array, not a list: merged by `extend` (a copy of bytes) and sorted once, when a median is asked."""
    packed = array("i", base64.b64decode(text))
    if _BIG_ENDIAN:
        packed.byteswap()
    return packed


_BIG_ENDIAN = sys.byteorder == "big"


def _durations() -> array[int]:
    return array("i")


@dataclass
class Tally:
    """One group's sums and durations (seconds) over one or more days and teams."""

    counts: list[int] = field(default_factory=lambda: [0] * SUMS)
    contact: array[int] = field(default_factory=_durations)
    claim: array[int] = field(default_factory=_durations)
    resolve: array[int] = field(default_factory=_durations)

    def add(self, other: Tally) -> None:
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.contact.extend(other.contact)
        self.claim.extend(other.claim)
        self.resolve.extend(other.resolve)

    def dump(self) -> list[Any]:
        return [self.counts, pack(self.contact), pack(self.claim), pack(self.resolve)]

    @classmethod
    def load(cls, raw: list[Any]) -> Tally:
        return cls(counts=list(raw[0]), contact=unpack(raw[1]), claim=unpack(raw[2]), resolve=unpack(raw[3]))



Groups = dict[tuple[str, str], Tally]


def _tally_alerts(groups: Groups, rows: Iterable[weekly_queries.AlertTimes], employees: bool) -> None:
    for claim, resolve, contact, breached, responded, location, employee in rows:
        keys = [(TEAM, "")]
        if location:
            keys.append((LOCATION, location))
        if employee and employees:
            keys.append((EMPLOYEE, employee))
        for key in keys:
            tally = groups.get(key) or groups.setdefault(key, Tally())
            tally.counts[ALERTS] += 1
            tally.counts[RESPONDED] += responded
            tally.counts[BREACHED] += breached
            if contact is not None:
                tally.contact.append(round(contact))
        team = groups[(TEAM, "")]
        if claim is not None:
            team.claim.append(round(claim))
        if resolve is not None:
            team.resolve.append(round(resolve))


def _tally_answers(groups: Groups, answers: Iterable[weekly_queries.FollowUpAnswer], employees: bool) -> None:
    for confirmed, location, employee in answers:
        keys = [(TEAM, ""), (LOCATION, location or ""), (EMPLOYEE, (employee if employees else None) or "")]
        for key in keys:
            if key[0] == TEAM or key[1]:
                tally = groups.setdefault(key, Tally())
                tally.counts[ANSWERED] += 1
                tally.counts[CONFIRMED] += int(confirmed)


def _dump_named(groups: Groups, dimension: str) -> dict[str, Any]:
    tallies = sorted((name, tally) for (dim, name), tally in groups.items() if dim == dimension)
    return {"names": [name for name, _ in tallies],
            "counts": pack([v for _, tally in tallies for v in tally.counts], ordered=False),
            "sizes": pack([len(tally.contact) for _, tally in tallies], ordered=False),
            "contact": pack([v for _, tally in tallies for v in sorted(tally.contact)], ordered=False)}


@dataclass
class Named:
    """One kept day's locations (or employees), as `_dump_named` wrote them; durations unpacked on use."""

    names: list[str]
    counts: array[int]  # SUMS per name, one after another
    offsets: list[int]  # name i's durations are contact[offsets[i]:offsets[i + 1]]
    packed: str
    unpacked: array[int] | None = None
    positions: dict[str, int] | None = None  # name → index, built when first asked

    @classmethod
    def load(cls, raw: dict[str, Any] | None) -> Named:
        if not raw:
            return cls([], array("i"), [0], "")
        offsets = list(accumulate(unpack(raw["sizes"]), initial=0))
        return cls(list(raw["names"]), unpack(raw["counts"]), offsets, raw["contact"])

    def add_to(self, name: str, tally: Tally) -> None:
        """Add this day's figures of `name` (if it has any) to `tally`."""
        if self.positions is None:
            self.positions = {known: i for i, known in enumerate(self.names)}
        index = self.positions.get(name)
        if index is None:
            return
        if self.unpacked is None:
            self.unpacked = unpack(self.packed)
        counts = tally.counts
        for k, value in enumerate(self.counts[SUMS * index:SUMS * (index + 1)]):
            counts[k] += value
        tally.contact.extend(self.unpacked[self.offsets[index]:self.offsets[index + 1]])


def fingerprint(counted: str, *, employees: bool) -> str:
    """What a kept day is checked against: its shape (and whether it holds per-person figures: where they
    are turned off, HOTLOOP_EMPLOYEE_FIGURES, none are kept at all) and its alerts' count and versions."""
    return f"{FORMAT}{'e' if employees else ''}:{counted}"


async def compute_days(
    session: AsyncSession, *, start: datetime, team_ids: Collection[int], now: datetime, employees: bool
) -> dict[int, tuple[dict[str, Any], datetime | None]]:
    """Team id → (what `figureday` keeps for the team and this day, when it must be computed again at
    the latest), for several teams' same day at once (three queries, not three a team)."""
    window = Window(since=start, count=1)
    groups: dict[int, Groups] = {team: {(TEAM, ""): Tally()} for team in team_ids}
    rows = await weekly_queries.alert_times(session, window=window, now=now, team_ids=team_ids)
    by_team: dict[int, list[weekly_queries.AlertTimes]] = {}
    for row in rows:
        by_team.setdefault(row[0], []).append(row[1:])
    for team, alerts in by_team.items():
        _tally_alerts(groups[team], alerts, employees)
    for team, answers in (await weekly_queries.follow_up_answers(session, window=window,
                                                                 team_ids=team_ids)).items():
        _tally_answers(groups[team], answers, employees)
    systemic = await weekly_queries.systemic_and_next_deadline(session, window=window, now=now,
                                                               team_ids=team_ids)
    computed = {}
    for team, found in groups.items():
        found[(TEAM, "")].counts[SYSTEMIC], expires = systemic.get(team, (0, None))
        computed[team] = ({"format": FORMAT, TEAM: found[(TEAM, "")].dump(),
                           LOCATION: _dump_named(found, LOCATION), EMPLOYEE: _dump_named(found, EMPLOYEE)},
                          expires)
    return computed


@dataclass(frozen=True)
class Day:
    """One kept (day, team), parsed: the team's tally, and its locations' and employees'."""

    team: Tally
    named: dict[str, Named]

    @classmethod
    def load(cls, data: dict[str, Any]) -> Day:
        team = Tally.load(data[TEAM]) if TEAM in data else Tally()
        return cls(team, {dimension: Named.load(data.get(dimension)) for dimension in (LOCATION, EMPLOYEE)})


@dataclass(frozen=True)
class DayState:
    """A (day, team) of a window with alerts, as kept now. `marker` changes whenever its kept figures do
    (fingerprint and when computed): what a process may hold the parsed day under. `data` only when it
    was computed by this call."""

    index: int  # the day's position in the window
    day: str  # "YYYY-MM-DD"
    team: int
    marker: str
    data: dict[str, Any] | None = None


async def _stale_days(
    session: AsyncSession, *, window: Window, now: datetime, team_ids: Collection[int] | None,
    employees: bool,
) -> tuple[list[DayState], list[tuple[int, int, str]]]:
    """(the days kept as they are, the (index, team, fingerprint) of those to compute again)."""
    names = [day.since.date().isoformat() for day in window.slices()]
    current = await weekly_queries.day_fingerprints(session, window=window, team_ids=team_ids)
    stored = {(day, team): (fingerprint, expires, computed) for day, team, fingerprint, expires, computed
              in await weekly_queries.day_markers(session, days=names, team_ids=team_ids)}
    kept: list[DayState] = []
    stale: list[tuple[int, int, str]] = []
    for (index, team), counted in sorted(current.items()):
        wanted = fingerprint(counted, employees=employees)
        found = stored.get((names[index], team))
        if found is not None and found[0] == wanted and (found[1] is None or found[1] > now):
            kept.append(DayState(index, names[index], team, f"{wanted}@{found[2].isoformat()}"))
        else:
            stale.append((index, team, wanted))
    return kept, stale


async def kept_states(
    sessions: SessionFactory, *, since: datetime, days: int, now: datetime, employees: bool,
) -> list[DayState]:
    """The (day, team)s of the `days` days from `since` whose kept figures are current, every team;
    nothing computed or written (a page or the warm-up job computes the others)."""
    window = Window(since=since, count=days, step=DAY)
    async with sessions() as session:
        kept, _ = await _stale_days(session, window=window, now=now, team_ids=None, employees=employees)
    return kept


async def refresh_days(
    sessions: SessionFactory, *, since: datetime, days: int, now: datetime,
    team_ids: Collection[int] | None, employees: bool,
) -> list[DayState]:
    """Every (day, team) with alerts of the `days` days from `since`: those whose alerts changed (or whose
    next deadline passed) since they were kept computed again and kept — by the page, or ahead of it by
    the warm-up job (jobs/figures.py), which leaves a page only what changed since its last run."""
    window = Window(since=since, count=days, step=DAY)
    async with sessions() as session:
        states, stale = await _stale_days(session, window=window, now=now, team_ids=team_ids,
                                          employees=employees)
    by_day: dict[int, list[tuple[int, str]]] = {}
    for index, team, wanted in stale:
        by_day.setdefault(index, []).append((team, wanted))
    for first in range(0, len(by_day), SAVE_BATCH):
        computed: list[tuple[DayState, str, datetime | None]] = []
        async with sessions() as session:
            for index in sorted(by_day)[first:first + SAVE_BATCH]:
                start = window.since + DAY * index
                fingerprints = dict(by_day[index])
                day = start.date().isoformat()
                found = await compute_days(session, start=start, team_ids=fingerprints, now=now,
                                           employees=employees)
                computed += [(DayState(index, day, team, f"{fingerprints[team]}@{now.isoformat()}", data),
                              fingerprints[team], expires) for team, (data, expires) in found.items()]
        async with transaction(sessions) as session:
            for state, wanted, expires in computed:
                await weekly_queries.save_day(session, day=state.day, team_id=state.team, fingerprint=wanted,
                                              expires_at=expires, data=state.data or {}, now=now)
        states += [state for state, _, _ in computed]
    return states
