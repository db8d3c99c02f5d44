"""Business-hours SLA clock: concrete time-travel cases, then hypothesis properties."""

from __future__ import annotations

import time as perf
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.business_hours import (
    DEFAULT_SLA,
    BusinessHours,
    BusinessHoursError,
    add_business_seconds,
    business_seconds_between,
    deadline_fraction_at,
    in_quiet_hours,
    is_open,
    next_open,
)
from bot.domain import Severity

H = 3600
WEEKDAYS = frozenset(range(5))
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def office(tz: str = "UTC", holidays: frozenset[date] = frozenset()) -> BusinessHours:
    return BusinessHours(tz, WEEKDAYS, time(9), time(18), holidays)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


# --- concrete cases -------------------------------------------------------------------------------


def test_default_sla() -> None:
    assert DEFAULT_SLA[Severity.CRITICAL] == (15 * 60, 4 * H)
    assert DEFAULT_SLA[Severity.HIGH] == (H, 24 * H)
    assert DEFAULT_SLA[Severity.NORMAL] == (4 * H, 2 * 24 * H)
    assert DEFAULT_SLA[Severity.LOW] == (24 * H, 5 * 24 * H)


def test_friday_evening_rolls_to_monday() -> None:
    friday = utc(2026, 1, 9, 17, 30)
    assert friday.weekday() == 4
    assert add_business_seconds(friday, H, office()) == utc(2026, 1, 12, 9, 30)


def test_ends_exactly_at_closing() -> None:
    assert add_business_seconds(utc(2026, 1, 9, 17, 30), 1800, office()) == utc(2026, 1, 9, 18)


def test_start_on_saturday_begins_at_monday_opening() -> None:
    saturday = utc(2026, 1, 10, 11, 0)
    assert add_business_seconds(saturday, 2 * H, office()) == utc(2026, 1, 12, 11)
    assert next_open(saturday, office()) == utc(2026, 1, 12, 9)
    assert not is_open(saturday, office())


def test_start_before_opening_and_after_closing() -> None:
    assert add_business_seconds(utc(2026, 1, 13, 6), 60, office()) == utc(2026, 1, 13, 9, 1)
    assert add_business_seconds(utc(2026, 1, 13, 20), 60, office()) == utc(2026, 1, 14, 9, 1)


def test_holiday_monday_skipped() -> None:
    hours = office(holidays=frozenset({date(2026, 1, 12)}))
    assert add_business_seconds(utc(2026, 1, 9, 17, 30), H, hours) == utc(2026, 1, 13, 9, 30)
    assert not is_open(utc(2026, 1, 12, 10), hours)


def test_multi_day_duration() -> None:
    # 2 days of a 9h business day = 18h: Monday 09:00 → Tuesday 18:00 (closing boundary).
    assert add_business_seconds(utc(2026, 1, 12, 9), 18 * H, office()) == utc(2026, 1, 13, 18)
    # A 5-day SLA (120h of business time = 13⅓ business days).
    due = add_business_seconds(utc(2026, 1, 12, 9), 5 * 24 * H, office())
    assert due == utc(2026, 1, 29, 12)


def test_paris_spring_forward_opens_at_nine_local_on_both_sides() -> None:
    hours = office("Europe/Paris")
    # Friday 27 March 2026 is CET (+1); Monday 30 March is CEST (+2): the last Sunday is the 29th.
    assert next_open(local(PARIS, 2026, 3, 27, 7), hours) == utc(2026, 3, 27, 8)
    assert next_open(local(PARIS, 2026, 3, 28, 12), hours) == utc(2026, 3, 30, 7)
    due = add_business_seconds(local(PARIS, 2026, 3, 27, 17), 2 * H, hours)
    assert due == local(PARIS, 2026, 3, 30, 10) == utc(2026, 3, 30, 8)
    assert business_seconds_between(local(PARIS, 2026, 3, 27, 17), due, hours) == 2 * H


def test_paris_fall_back_opens_at_nine_local_on_both_sides() -> None:
    hours = office("Europe/Paris")
    assert next_open(local(PARIS, 2026, 10, 23, 7), hours) == utc(2026, 10, 23, 7)
    due = add_business_seconds(local(PARIS, 2026, 10, 23, 17), 2 * H, hours)
    assert due == local(PARIS, 2026, 10, 26, 10) == utc(2026, 10, 26, 9)


def test_all_day_hours_count_the_short_and_long_dst_days() -> None:
    hours = BusinessHours("Europe/Paris", frozenset(range(7)), time(0), time(0))
    spring = business_seconds_between(local(PARIS, 2026, 3, 28), local(PARIS, 2026, 3, 30), hours)
    autumn = business_seconds_between(local(PARIS, 2026, 10, 24), local(PARIS, 2026, 10, 26), hours)
    assert (spring, autumn) == (47 * H, 49 * H)
    assert is_open(local(PARIS, 2026, 3, 29, 3), hours)


def test_new_york_spring_forward() -> None:
    hours = office("America/New_York")
    due = add_business_seconds(local(NEW_YORK, 2026, 3, 6, 17, 30), H, hours)
    assert due == local(NEW_YORK, 2026, 3, 9, 9, 30) == utc(2026, 3, 9, 13, 30)
    assert is_open(utc(2026, 3, 6, 14, 30), hours)  # 09:30 EST
    assert not is_open(utc(2026, 3, 9, 13, 30) - timedelta(hours=1), hours)  # 08:30 EDT


def test_team_timezone_change_same_instant_different_schedule() -> None:
    instant = utc(2026, 1, 12, 8)  # 09:00 in Paris, 03:00 in New York
    paris, new_york = office("Europe/Paris"), office("America/New_York")
    assert is_open(instant, paris) and not is_open(instant, new_york)
    assert add_business_seconds(instant, H, paris) == utc(2026, 1, 12, 9)
    assert add_business_seconds(instant, H, new_york) == utc(2026, 1, 12, 15)


def test_no_hours_is_plain_addition() -> None:
    start = utc(2026, 3, 29, 0, 30)  # 01:30 in Paris, half an hour before the spring-forward jump
    assert add_business_seconds(start, 90 * 60, None) == utc(2026, 3, 29, 2)
    assert add_business_seconds(start.astimezone(PARIS), 0, None).tzinfo is UTC
    # Elapsed real time, not wall-clock difference: Paris 01:30 → 06:30 on that day is 4h.
    assert business_seconds_between(start, local(PARIS, 2026, 3, 29, 6, 30), None) == 4 * H
    assert is_open(start, None)
    assert deadline_fraction_at(start, start + timedelta(hours=4), 0.75, None) == start + timedelta(hours=3)


def test_between_is_inverse_and_clamps() -> None:
    start = utc(2026, 1, 9, 17, 30)
    due = add_business_seconds(start, 3 * H, office())
    assert business_seconds_between(start, due, office()) == 3 * H
    assert business_seconds_between(due, start, office()) == 0
    assert business_seconds_between(utc(2026, 1, 10), utc(2026, 1, 11), office()) == 0


def test_deadline_fraction_for_heads_up() -> None:
    start = utc(2026, 1, 9, 17)
    due = add_business_seconds(start, 4 * H, office())
    assert due == utc(2026, 1, 12, 12)
    assert deadline_fraction_at(start, due, 0.75, office()) == utc(2026, 1, 12, 11)
    assert deadline_fraction_at(start, due, 0.0, office()) == start
    with pytest.raises(ValueError):
        deadline_fraction_at(start, due, -0.1, office())


def test_quiet_hours_wrapping_midnight() -> None:
    quiet = (time(22), time(7))
    assert in_quiet_hours(local(PARIS, 2026, 1, 12, 23, 30), quiet, "Europe/Paris")
    assert in_quiet_hours(local(PARIS, 2026, 1, 13, 6, 59), quiet, "Europe/Paris")
    assert not in_quiet_hours(local(PARIS, 2026, 1, 13, 7), quiet, "Europe/Paris")
    assert not in_quiet_hours(local(PARIS, 2026, 1, 13, 12), quiet, "Europe/Paris")
    # 21:30 UTC is 22:30 in Paris but 16:30 in New York.
    assert in_quiet_hours(utc(2026, 1, 12, 21, 30), quiet, "Europe/Paris")
    assert not in_quiet_hours(utc(2026, 1, 12, 21, 30), quiet, "America/New_York")


def test_quiet_hours_plain_window_and_none() -> None:
    lunch = (time(12), time(14))
    assert in_quiet_hours(utc(2026, 1, 12, 13), lunch, "UTC")
    assert not in_quiet_hours(utc(2026, 1, 12, 14), lunch, "UTC")
    assert not in_quiet_hours(utc(2026, 1, 12, 13), None, "UTC")
    assert not in_quiet_hours(utc(2026, 1, 12, 13), (time(9), time(9)), "UTC")


def test_config_round_trip() -> None:
    data = {"days": ["mon", "Tuesday", 2], "start": "08:30", "end": "24:00", "holidays": ["2026-12-25"]}
    hours = BusinessHours.from_config(data, timezone="Europe/Paris")
    assert hours == BusinessHours(
        "Europe/Paris", frozenset({0, 1, 2}), time(8, 30), time(0), frozenset({date(2026, 12, 25)})
    )
    assert hours.to_config() == {
        "timezone": "Europe/Paris",
        "days": ["mon", "tue", "wed"],
        "start": "08:30",
        "end": "24:00",
        "holidays": ["2026-12-25"],
    }
    assert BusinessHours.from_config(hours.to_config()) == hours
    assert BusinessHours.from_config(None) is None


def test_config_defaults_and_yaml_values() -> None:
    hours = BusinessHours.from_config({"start": time(9), "end": "18:00", "holidays": [date(2026, 5, 1)]})
    assert hours == BusinessHours("UTC", WEEKDAYS, time(9), time(18), frozenset({date(2026, 5, 1)}))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"days": [], "start": "09:00", "end": "18:00"}, "at least one open day"),
        ({"start": "22:00", "end": "06:00"}, "overnight"),
        ({"start": "09:00", "end": "09:00"}, "overnight"),
        ({"start": "09:00"}, "'end'"),
        ({"start": 540, "end": "18:00"}, "quoted"),
        ({"start": "9h", "end": "18:00"}, "not a time"),
        ({"days": ["funday"], "start": "09:00", "end": "18:00"}, "not a day"),
        ({"days": "mon", "start": "09:00", "end": "18:00"}, "must be a list"),
        ({"start": "09:00", "end": "18:00", "holidays": ["25/12"]}, "not a date"),
        ({"start": "09:00", "end": "18:00", "hollidays": []}, "unknown business-hours keys"),
        ({"start": "09:00", "end": "18:00", "timezone": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_config_errors_are_clear(data: dict[str, object], message: str) -> None:
    with pytest.raises(BusinessHoursError, match=message):
        BusinessHours.from_config(data)


def test_constructor_rejects_bad_days() -> None:
    with pytest.raises(BusinessHoursError, match="at least one"):
        BusinessHours("UTC", frozenset(), time(9), time(18))
    with pytest.raises(BusinessHoursError, match="0 \\(Monday\\)"):
        BusinessHours("UTC", frozenset({7}), time(9), time(18))


def test_rejects_naive_and_negative() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_business_seconds(datetime(2026, 1, 12, 9), 60, office())
    with pytest.raises(ValueError, match=">= 0"):
        add_business_seconds(utc(2026, 1, 12, 9), -1, office())


def test_long_durations_are_fast() -> None:
    hours = BusinessHours("Europe/Paris", frozenset({0}), time(9), time(10), frozenset({date(2026, 1, 12)}))
    began = perf.perf_counter()
    for _ in range(200):
        due = add_business_seconds(utc(2026, 1, 9, 17, 30), 5 * 24 * H, hours)  # 120 one-hour Mondays
    elapsed = perf.perf_counter() - began
    assert business_seconds_between(utc(2026, 1, 9, 17, 30), due, hours) == 5 * 24 * H
    assert elapsed / 200 < 0.01  # ~2.4 years of days walked: well under 10 ms per call


# --- properties -----------------------------------------------------------------------------------

# Zones with odd offsets, 30-minute DST (Lord Howe), DST at midnight (Sao Paulo, Beirut) and none.
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
         "America/Sao_Paulo", "Asia/Beirut", "Pacific/Chatham"]  # fmt: skip


@st.composite
def schedules(draw: st.DrawFn, quarter_hours: tuple[int, int] = (0, 96)) -> BusinessHours:
    low, high = quarter_hours
    first = draw(st.integers(low, high - 1))
    last = draw(st.integers(first + 1, high))
    holidays = draw(st.frozensets(st.dates(date(2010, 1, 1), date(2012, 12, 31)), max_size=30))
    return BusinessHours(
        timezone=draw(st.sampled_from(ZONES)),
        days=draw(st.frozensets(st.integers(0, 6), min_size=1)),
        start=time(first // 4, first % 4 * 15),
        end=time(0) if last == 96 else time(last // 4, last % 4 * 15),
        holidays=holidays,
    )


starts = st.datetimes(datetime(2010, 1, 1), datetime(2012, 12, 31), timezones=st.just(UTC))
durations = st.integers(0, 30 * 24 * H)


@given(schedules(), starts, durations)
def test_between_inverts_add(hours: BusinessHours, start: datetime, seconds: int) -> None:
    assert business_seconds_between(start, add_business_seconds(start, seconds, hours), hours) == seconds


@given(schedules(), starts, durations, durations)
def test_add_is_monotone(hours: BusinessHours, start: datetime, d1: int, d2: int) -> None:
    d1, d2 = sorted((d1, d2))
    assert start <= add_business_seconds(start, d1, hours) <= add_business_seconds(start, d2, hours)


@given(schedules(), starts, st.integers(1, 30 * 24 * H))
def test_result_is_inside_hours_or_on_a_closing(hours: BusinessHours, start: datetime, seconds: int) -> None:
    due = add_business_seconds(start, seconds, hours)
    # Open just before `due`: it lies in (opening, closing], so on a closing boundary at worst.
    assert is_open(due - timedelta(microseconds=1), hours)


@given(schedules(), starts, starts, starts)
def test_between_is_additive(hours: BusinessHours, a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a.replace(microsecond=0), b.replace(microsecond=0), c.replace(microsecond=0)))
    total = business_seconds_between(a, c, hours)
    assert business_seconds_between(a, b, hours) + business_seconds_between(b, c, hours) == total


@given(schedules(), starts)
def test_next_open_is_open_and_not_earlier(hours: BusinessHours, at: datetime) -> None:
    opening = next_open(at, hours)
    assert opening >= at and is_open(opening, hours)
    assert business_seconds_between(at, opening, hours) == 0


@settings(max_examples=60, deadline=None)
@given(schedules(quarter_hours=(16, 92)), starts.map(lambda d: d.replace(second=0, microsecond=0)))
def test_matches_minute_by_minute_wall_clock_oracle(hours: BusinessHours, start: datetime) -> None:
    # Independent definition: a minute counts when its local wall time is inside the schedule.
    # Boundaries stay within 04:00–23:00 so no opening or closing falls in a DST transition hour.
    zone = ZoneInfo(hours.timezone)
    counted = 0
    for minute in range(4 * 24 * 60):
        wall = (start + timedelta(minutes=minute)).astimezone(zone)
        open_day = wall.weekday() in hours.days and wall.date() not in hours.holidays
        counted += open_day and hours.start <= wall.time() < hours.end
    assert business_seconds_between(start, start + timedelta(days=4), hours) == counted * 60
