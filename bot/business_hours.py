"""SLA clocks that only tick inside a team's business hours. Pure: no I/O, no "now".

Every instant going in or out is an aware datetime, returned in UTC. The schedule itself lives in
local wall-clock time: each open local date yields one interval [opening, closing) that is
converted to UTC on its own, so a desk opening at 09:00 opens at 09:00 local on both sides of a
DST change. Arithmetic walks these intervals a whole day at a time, never second by second.

Conventions for the rare boundary that falls in a DST transition hour: a local time that does not
exist (spring-forward gap) is read with the offset in force before the jump (zoneinfo `fold=0`,
so 02:30 becomes 03:30 summer time); an ambiguous one (fall-back) means its first occurrence.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain import Severity

_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR

DEFAULT_SLA: dict[Severity, tuple[int, int]] = {
    Severity.CRITICAL: (15 * _MINUTE, 4 * _HOUR),
    Severity.HIGH: (1 * _HOUR, 24 * _HOUR),
    Severity.NORMAL: (4 * _HOUR, 2 * _DAY),
    Severity.LOW: (1 * _DAY, 5 * _DAY),
}

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAYS = frozenset(range(5))
_CONFIG_KEYS = frozenset({"timezone", "days", "start", "end", "holidays"})
_ONE_SECOND = timedelta(seconds=1)

Interval = tuple[datetime, datetime]


class BusinessHoursError(ValueError):
    """A schedule that cannot be used; the message says what to write instead."""


@dataclass(frozen=True)
class BusinessHours:
    """When a team's SLA clocks run. `end == time(0)` means midnight at the end of the day."""

    timezone: str
    days: frozenset[int]
    start: time
    end: time
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        _zone(self.timezone)  # fail at configuration time, not on the first alert
        if not self.days:
            raise BusinessHoursError("business hours need at least one open day (e.g. days: [mon, tue])")
        if not all(isinstance(d, int) and 0 <= d <= 6 for d in self.days):
            raise BusinessHoursError(f"days must be 0 (Monday) … 6 (Sunday), got {sorted(self.days)}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise BusinessHoursError("start and end are local wall-clock times: give them without a zone")
        if self.end != time(0) and self.end <= self.start:
            raise BusinessHoursError(
                f"end {self.end:%H:%M} must be after start {self.start:%H:%M}: overnight shifts are not "
                "supported (split them into two days' hours, or use end 24:00 for midnight)"
            )

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None, *, timezone: str = "UTC") -> BusinessHours | None:
        """Parse `{days: [mon, ...], start: "09:00", end: "18:00", holidays: ["2026-12-25"]}`.

        None means the clock runs 24/7. A `timezone` key in `data` wins over the keyword, so that
        `to_config` round-trips. Days default to Monday–Friday.
        """
        if data is None:
            return None
        unknown = set(data) - _CONFIG_KEYS
        if unknown:
            known = sorted(_CONFIG_KEYS)
            raise BusinessHoursError(f"unknown business-hours keys {sorted(unknown)}; use {known}")
        for key in ("start", "end"):
            if key not in data:
                raise BusinessHoursError(f"business hours need {key!r}, e.g. start: '09:00', end: '18:00'")
        days = data.get("days")
        return cls(
            timezone=str(data.get("timezone", timezone)),
            days=_WEEKDAYS if days is None else frozenset(_parse_day(d) for d in _as_list(days, "days")),
            start=_parse_time(data["start"], "start"),
            end=_parse_time(data["end"], "end"),
            holidays=frozenset(_parse_date(d) for d in _as_list(data.get("holidays") or [], "holidays")),
        )

    def to_config(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "days": [_DAY_NAMES[d] for d in sorted(self.days)],
            "start": _format_time(self.start),
            "end": "24:00" if self.end == time(0) else _format_time(self.end),
            "holidays": [d.isoformat() for d in sorted(self.holidays)],
        }

    def local_interval(self, day: date) -> Interval | None:
        """The UTC interval this local date is open for, or None when closed all day."""
        if day.weekday() not in self.days or day in self.holidays:
            return None
        zone = self.zone
        opening = datetime.combine(day, self.start, tzinfo=zone)
        close_day = day + timedelta(days=1) if self.end == time(0) else day
        closing = datetime.combine(close_day, self.end, tzinfo=zone)
        return opening.astimezone(UTC), closing.astimezone(UTC)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        hint = "use an IANA name like 'Europe/Paris'"
        raise BusinessHoursError(f"unknown time zone {name!r} ({hint})") from exc


def _as_list(value: Any, key: str) -> list[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple | set | frozenset):
        raise BusinessHoursError(f"{key} must be a list, got {value!r}")
    return list(value)


def _parse_day(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    if isinstance(value, str) and value.strip().lower()[:3] in _DAY_NAMES:
        return _DAY_NAMES.index(value.strip().lower()[:3])
    raise BusinessHoursError(f"not a day: {value!r} (write mon, tue, … sun)")


def _parse_time(value: Any, key: str) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 9:30 as the base-60 number 570: refuse rather than guess.
        raise BusinessHoursError(f"{key}: write the time quoted, e.g. '09:30' (got the number {value})")
    text = str(value).strip()
    if key == "end" and text in ("24:00", "24:00:00"):
        return time(0)
    try:
        return time.fromisoformat(text)
    except ValueError as exc:
        raise BusinessHoursError(f"{key}: not a time of day: {value!r} (write e.g. '09:00')") from exc


def _parse_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value  # YAML already turns an unquoted 2026-12-25 into a date
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise BusinessHoursError(f"holidays: not a date: {value!r} (write e.g. '2026-12-25')") from exc


def _format_time(value: time) -> str:
    return value.strftime("%H:%M:%S" if value.second or value.microsecond else "%H:%M")


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got naive {at!r}")
    return at.astimezone(UTC)


def _intervals(hours: BusinessHours, since: datetime) -> Iterator[Interval]:
    """Open intervals in UTC, sorted and disjoint, from the local day before `since` onwards.

    Starting a day early is cheap and covers an interval of yesterday still open at `since`.
    Intervals are clamped against the previous one because a DST jump at midnight can make
    adjacent days overlap in UTC. Infinite: callers stop when they have what they need.
    """
    day = since.astimezone(hours.zone).date() - timedelta(days=1)
    previous_end: datetime | None = None
    # Each holiday can close at most one open day, so a closed run longer than a week per holiday
    # (plus slack for a DST-emptied day) means nothing will ever open.
    max_closed_run = 7 * (len(hours.holidays) + 2)
    closed_run = 0
    while True:
        interval = hours.local_interval(day)
        day += timedelta(days=1)
        if interval is not None and previous_end is not None:
            interval = (max(interval[0], previous_end), interval[1])
        if interval is None or interval[1] <= interval[0]:
            closed_run += 1
            if closed_run > max_closed_run:
                raise BusinessHoursError("these business hours never open")
            continue
        closed_run = 0
        previous_end = interval[1]
        yield interval


def add_business_seconds(start: datetime, seconds: int, hours: BusinessHours | None) -> datetime:
    """The instant when `seconds` of open time have elapsed from `start` (UTC).

    A start outside hours begins counting at the next opening. A result landing exactly on a
    closing time is returned as that closing time, not as the next opening.
    """
    start = _utc(start)
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    remaining = timedelta(seconds=seconds)
    if hours is None or seconds == 0:
        return start + remaining
    for opening, closing in _intervals(hours, start):
        if closing <= start:
            continue
        opening = max(opening, start)
        if remaining <= closing - opening:
            return opening + remaining
        remaining -= closing - opening
    raise AssertionError("unreachable: _intervals is infinite")


def business_seconds_between(a: datetime, b: datetime, hours: BusinessHours | None) -> int:
    """Whole seconds of open time in [a, b); 0 when b is not after a."""
    a, b = _utc(a), _utc(b)
    if b <= a:
        return 0
    if hours is None:
        return (b - a) // _ONE_SECOND
    total = timedelta(0)
    for opening, closing in _intervals(hours, a):
        if opening >= b:
            break
        if closing > a:
            total += min(closing, b) - max(opening, a)
    return total // _ONE_SECOND


def is_open(at: datetime, hours: BusinessHours | None) -> bool:
    """Whether the clock runs at `at` (openings inclusive, closings exclusive)."""
    if hours is None:
        return True
    return next_open(at, hours) == _utc(at)


def next_open(at: datetime, hours: BusinessHours) -> datetime:
    """`at` itself (in UTC) when open, else the next opening."""
    at = _utc(at)
    for opening, closing in _intervals(hours, at):
        if closing > at:
            return max(opening, at)
    raise AssertionError("unreachable: _intervals is infinite")


def deadline_fraction_at(
    start: datetime, due: datetime, fraction: float, hours: BusinessHours | None
) -> datetime:
    """When `fraction` of the open time between `start` and `due` has elapsed (e.g. 0.75 for a nag)."""
    if fraction < 0:
        raise ValueError(f"fraction must be >= 0, got {fraction}")
    total = business_seconds_between(start, due, hours)
    return add_business_seconds(start, int(total * fraction), hours)


def in_quiet_hours(at: datetime, quiet: tuple[time, time] | None, timezone: str) -> bool:
    """Whether local `at` falls in [quiet_start, quiet_end); the window may wrap midnight."""
    if quiet is None:
        return False
    begin, end = quiet
    local = _utc(at).astimezone(_zone(timezone)).time()
    if begin <= end:
        return begin <= local < end  # equal bounds: an empty window
    return local >= begin or local < end
