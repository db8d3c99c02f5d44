"""An in-memory sliding-window simulation of the systemic detector, for the property tests and the bench.

It mirrors how bot/systemic/detector.py uses `is_spike`: at each arrival of a (dimension, value) it counts
that value's alerts in the window ending now, this one included. While the value's parent is current (its
last child less than a window ago) the arrival joins it if that count is still a spike, else nothing;
otherwise a spike opens a new parent holding the window's alerts that are in no parent of that dimension
yet — only if those alone are a spike, and less than COVERED_SHARE of the window is in a parent of any
dimension (one burst, one parent) — counting only alerts a window after the previous parent's last
child. Source and region open nothing without a baseline (expected None). `arrive_alert` tries an
alert's values most specific first, as the detector does. Time is in windows (window = 1.0).
Deterministic: every random draw comes from the caller's `random.Random`.

`StationaryRun.episodes` counts every rise of the count to the threshold, the false-spike figure whatever
the parents' rule; a new parent needs such a rise, so parents ≤ episodes.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.systemic.detect import SystemicSettings, spike_threshold
from bot.systemic.signals import COVERED_SHARE, NEEDS_BASELINE, by_specificity

Key = tuple[str, str]  # (dimension, value)


@dataclass
class Parent:
    number: int
    key: Key
    opened_at: float
    members: list[int] = field(default_factory=list)


@dataclass
class _Track:
    recent: deque[tuple[float, int]] = field(default_factory=deque)  # (time, alert id) in the window
    parent: Parent | None = None
    parent_last: float = float("-inf")  # the time of the parent's last child


class MembershipError(AssertionError):
    """An alert joined a second parent for the same dimension: the detector's invariant is broken."""


class SlidingWindowSimulator:
    """One team's detector state; `expected` maps a key to its baseline per window (None: no history).
    `threshold` (the count that makes a spike) defaults to the detector's; the bench swaps in others."""

    def __init__(
        self,
        *,
        settings: SystemicSettings,
        expected: dict[Key, float | None],
        threshold: Callable[[float | None], int] | None = None,
    ) -> None:
        self.settings = settings
        self.expected = expected
        self.threshold = threshold or (lambda expected: spike_threshold(expected, settings))
        self.parents: list[Parent] = []
        self.parent_of: dict[tuple[int, str], int] = {}  # (alert id, dimension) → parent number
        self.shown: set[int] = set()  # alert ids in a parent, any dimension
        self._tracks: dict[Key, _Track] = {}

    def _join(self, parent: Parent, alert_id: int, dimension: str) -> None:
        if (alert_id, dimension) in self.parent_of:
            raise MembershipError(f"alert {alert_id} is already in a {dimension} parent")
        self.parent_of[(alert_id, dimension)] = parent.number
        self.shown.add(alert_id)
        parent.members.append(alert_id)

    def count(self, key: Key) -> int:
        """The value's count in the window ending at its last arrival."""
        track = self._tracks.get(key)
        return len(track.recent) if track else 0

    def arrive(self, *, key: Key, at: float, alert_id: int) -> Parent | None:
        """Count one alert; the parent it belongs to now (new or open), or None."""
        track = self._tracks.setdefault(key, _Track())
        start = at - 1.0  # the window is (start, at]
        track.recent.append((at, alert_id))
        while track.recent[0][0] <= start:
            track.recent.popleft()
        expected = self.expected.get(key)
        dimension, needed = key[0], self.threshold(expected)
        since = start
        if track.parent is not None and track.parent_last > start:  # current: joined while still a spike
            if len(track.recent) < needed:
                return None
            if (alert_id, dimension) not in self.parent_of:  # else another value's parent has it
                self._join(track.parent, alert_id, dimension)
                track.parent_last = at
            return track.parent
        if track.parent is not None:  # one parent per value and window: count from a window after it
            since = max(start, track.parent_last + 1.0)
        window = [member for time, member in track.recent if time > since]
        if len(window) < needed or (expected is None and dimension in NEEDS_BASELINE):
            return None
        free = [(time, member) for time, member in track.recent
                if time > since and (member, dimension) not in self.parent_of]
        if len(free) < needed:  # the same burst, already a parent under another value
            return None
        if sum(member in self.shown for member in window) >= COVERED_SHARE * len(window):
            return None  # mostly on another parent's card already: one burst, one parent
        parent = Parent(number=len(self.parents) + 1, key=key, opened_at=at)
        self.parents.append(parent)
        for _, member in free:
            self._join(parent, member, dimension)
        track.parent, track.parent_last = parent, free[-1][0]
        return parent

    def arrive_alert(self, *, keys: Sequence[Key], at: float, alert_id: int) -> list[Parent]:
        """Count one alert under each of its values, most specific first; the parents it is in now."""
        found = [self.arrive(key=key, at=at, alert_id=alert_id) for key in by_specificity(keys)]
        return [parent for parent in found if parent is not None]


def poisson_times(rng: random.Random, *, rate: float, start: float, end: float) -> list[float]:
    """Arrival times of a Poisson stream of `rate` per window in [start, end) (exponential gaps)."""
    times: list[float] = []
    at = start + rng.expovariate(rate)
    while at < end:
        times.append(at)
        at += rng.expovariate(rate)
    return times


@dataclass(frozen=True)
class StationaryRun:
    windows: int
    parents: int  # opened as the detector opens them
    episodes: int  # arrivals at which the count reached the threshold from below

    @property
    def parents_per_1000(self) -> float:
        return self.parents * 1000 / self.windows

    @property
    def episodes_per_1000(self) -> float:
        return self.episodes * 1000 / self.windows


def stationary_run(
    rng: random.Random,
    *,
    rate: float,
    windows: int,
    settings: SystemicSettings,
    threshold: Callable[[float | None], int] | None = None,
) -> StationaryRun:
    """One value's stationary Poisson stream of `rate` per window, its baseline set to the true rate:
    every parent it opens, and every excursion of its count to the threshold, is a false spike."""
    key = ("topic", "x")
    simulator = SlidingWindowSimulator(settings=settings, expected={key: rate}, threshold=threshold)
    needed = simulator.threshold(rate)
    episodes, previous = 0, 0
    for alert_id, at in enumerate(poisson_times(rng, rate=rate, start=0.0, end=float(windows))):
        simulator.arrive(key=key, at=at, alert_id=alert_id)
        count = simulator.count(key)
        episodes += previous < needed <= count
        previous = count
    return StationaryRun(windows=windows, parents=len(simulator.parents), episodes=episodes)


def detection_delay(
    background: Sequence[float], burst: Sequence[float], *, expected: float, settings: SystemicSettings
) -> int | None:
    """How many of the burst's alerts (from its start, background ones included) arrived when the first
    burst alert joined a parent; None if none did."""
    start = min(burst)
    burst_ids = set(range(len(background), len(background) + len(burst)))
    stream = sorted([*((at, i) for i, at in enumerate(background)),
                     *((at, len(background) + i) for i, at in enumerate(burst))])
    simulator = SlidingWindowSimulator(settings=settings, expected={("topic", "x"): expected})
    since_start = 0
    for at, alert_id in stream:
        since_start += at >= start
        parent = simulator.arrive(key=("topic", "x"), at=at, alert_id=alert_id)
        if parent is not None and burst_ids.intersection(parent.members):
            return since_start
    return None
