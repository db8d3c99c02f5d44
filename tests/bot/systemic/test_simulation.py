"""Seeded simulations of the detector as bot/systemic/detector.py uses it (bot/systemic/simulate.py).

Time is counted in windows. The figures these assert are the ones bench/systemic_false_spikes.py prints.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.systemic.detect import SystemicSettings, spike_threshold
from bot.systemic.simulate import (
    Key,
    SlidingWindowSimulator,
    detection_delay,
    poisson_times,
    stationary_run,
)

DEFAULT = SystemicSettings()
WINDOWS = 20_000


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 20.0])
def test_stationary_stream_raises_at_most_one_false_spike_per_1000_windows(rate: float) -> None:
    run = stationary_run(random.Random(15), rate=rate, windows=WINDOWS, settings=DEFAULT)
    assert run.parents_per_1000 <= 1.0, f"{run.parents} false parents in {WINDOWS} windows at {rate}"
    # a busy value's parent rarely sees a quiet window and absorbs later excursions: count those too
    assert run.episodes_per_1000 <= 1.0, f"{run.episodes} false excursions in {WINDOWS} windows at {rate}"


@pytest.mark.parametrize("rate", [0.2, 1.0, 5.0])
def test_the_same_check_catches_a_lax_detector(rate: float) -> None:
    # sensitivity 0.2 allows 1 false spike per 100 windows: the check above must see the difference
    lax = SystemicSettings(sensitivity=0.2)
    run = stationary_run(random.Random(15), rate=rate, windows=WINDOWS, settings=lax)
    assert run.episodes_per_1000 > 1.0


def _background_and_burst(rng: random.Random, rate: float) -> tuple[list[float], list[float]]:
    background = poisson_times(rng, rate=rate, start=0.0, end=6.0)
    burst = sorted(3.0 + rng.random() for _ in range(5))  # 5 alerts within one window from t = 3
    return background, burst


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.2, 0.3])
def test_burst_of_five_in_a_window_is_found_within_its_first_five_alerts(rate: float) -> None:
    # 5 in one window is ≥ 4× the expected count up to 1.25 per window; it is enough for the scan-corrected
    # threshold up to 0.3 per window (spike_threshold ≤ 5), where it must always be found by alert 5
    assert spike_threshold(rate, DEFAULT) <= 5
    rng = random.Random(4)
    delays = [detection_delay(*_background_and_burst(rng, rate), expected=rate, settings=DEFAULT)
              for _ in range(300)]
    assert all(delay is not None and delay <= 5 for delay in delays), Counter(delays)


@pytest.mark.parametrize("rate", [5.0, 20.0])
def test_rate_four_times_the_baseline_is_found_within_two_windows(rate: float) -> None:
    rng = random.Random(9)
    found = 0
    for _ in range(100):
        background = poisson_times(rng, rate=rate, start=0.0, end=5.0)
        extra = poisson_times(rng, rate=3 * rate, start=3.0, end=5.0)  # rate × 4 from t = 3
        found += detection_delay(background, extra, expected=rate, settings=DEFAULT) is not None
    assert found == 100


def _check_parents(simulator: SlidingWindowSimulator, keys_of: dict[int, list[Key]]) -> None:
    parents = simulator.parents
    per_dimension = Counter((alert_id, parent.key[0]) for parent in parents for alert_id in parent.members)
    assert all(count == 1 for count in per_dimension.values())
    for parent in simulator.parents:
        assert all(parent.key in keys_of[alert_id] for alert_id in parent.members)


def test_each_alert_belongs_to_at_most_one_parent_per_dimension() -> None:
    rng = random.Random(21)
    rates = {("location", "042"): 1.0, ("location", "007"): 0.2, ("topic", "delivery late"): 0.5,
             ("topic", "group:legal"): 0.05, ("source", "typeform"): 2.0}
    arrivals: list[tuple[float, Key]] = [(at, key) for key, rate in rates.items()
                                         for at in poisson_times(rng, rate=rate, start=0.0, end=2000.0)]
    arrivals += [(100.0 + rng.random() / 4, ("location", "042")) for _ in range(12)]  # a burst
    arrivals.sort()
    # an alert carries one value per dimension: group arrivals that are close into multi-value alerts
    simulator = SlidingWindowSimulator(settings=DEFAULT, expected=dict(rates))
    keys_of: dict[int, list[Key]] = {}
    for alert_id, (at, key) in enumerate(arrivals):
        keys = [key, ("source", "typeform")] if key[0] != "source" else [key]
        keys_of[alert_id] = keys
        for each in keys:
            simulator.arrive(key=each, at=at, alert_id=alert_id)
    burst = [p for p in simulator.parents if p.key == ("location", "042") and 100 <= p.opened_at < 101]
    assert burst
    _check_parents(simulator, keys_of)


def test_one_burst_seen_through_several_topics_opens_one_topic_parent() -> None:
    simulator = SlidingWindowSimulator(settings=DEFAULT, expected={})
    for alert_id in range(6):
        for topic in ("delivery late", "delivery", "late"):
            simulator.arrive(key=("topic", topic), at=alert_id / 10, alert_id=alert_id)
    assert [(parent.key, parent.members) for parent in simulator.parents] == [
        (("topic", "delivery late"), [0, 1, 2, 3, 4, 5])]


ARRIVALS = st.lists(
    st.tuples(st.floats(min_value=0.0, max_value=20.0), st.sampled_from(["a", "b"]),
              st.sets(st.sampled_from(["x", "y", "z"]), max_size=3)),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(arrivals=ARRIVALS, expected=st.none() | st.floats(min_value=0.0, max_value=3.0),
       min_count=st.integers(min_value=1, max_value=4))
def test_parents_never_overlap_and_never_share_an_alert(
    arrivals: list[tuple[float, str, set[str]]], expected: float | None, min_count: int
) -> None:
    chosen = SystemicSettings(min_count=min_count)
    keys = [("location", "a"), ("location", "b"), ("topic", "x"), ("topic", "y"), ("topic", "z")]
    simulator = SlidingWindowSimulator(settings=chosen, expected=dict.fromkeys(keys, expected))
    ordered = sorted(arrivals, key=lambda arrival: arrival[0])
    keys_of: dict[int, list[Key]] = {}
    for alert_id, (at, location, topics) in enumerate(ordered):
        keys_of[alert_id] = [("location", location), *(("topic", topic) for topic in sorted(topics))]
        for key in keys_of[alert_id]:
            simulator.arrive(key=key, at=at, alert_id=alert_id)
    _check_parents(simulator, keys_of)
    times = {alert_id: at for alert_id, (at, _, _) in enumerate(ordered)}
    last_close: dict[Key, float] = {}
    for parent in simulator.parents:  # in opening order
        first = min(times[alert_id] for alert_id in parent.members)
        assert first >= last_close.get(parent.key, float("-inf")) + 1.0  # never a second parent in a window
        last_close[parent.key] = max(times[alert_id] for alert_id in parent.members)


def test_one_burst_through_its_topic_location_and_source_opens_one_parent() -> None:
    keys: list[Key] = [("source", "web"), ("location", "042"), ("topic", "delivery late")]
    simulator = SlidingWindowSimulator(settings=DEFAULT, expected=dict.fromkeys(keys, 0.01))
    for alert_id in range(6):
        simulator.arrive_alert(keys=keys, at=alert_id / 10, alert_id=alert_id)
    assert [(parent.key, parent.members) for parent in simulator.parents] == [
        (("topic", "delivery late"), [0, 1, 2, 3, 4, 5])], "most specific first, the others covered"


def test_without_a_baseline_source_and_region_open_nothing_but_a_location_does() -> None:
    keys: list[Key] = [("source", "web"), ("region", "north"), ("location", "042")]
    simulator = SlidingWindowSimulator(settings=DEFAULT, expected=dict.fromkeys(keys, None))
    for alert_id in range(6):
        simulator.arrive_alert(keys=keys[:2], at=alert_id / 10, alert_id=alert_id)
    assert simulator.parents == []
    for alert_id in range(6, 9):
        simulator.arrive_alert(keys=keys, at=1 + alert_id / 10, alert_id=alert_id)
    assert [parent.key for parent in simulator.parents] == [("location", "042")]
