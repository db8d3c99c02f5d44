"""The spike decision: the Poisson tail, the smoothed baseline, the scan-corrected threshold."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.systemic.detect import (
    BASELINE_DAYS,
    FALSE_SPIKES_PER_WINDOW_PER_SENSITIVITY,
    PRIOR_ALERTS,
    SystemicSettings,
    expected_per_window,
    false_spike_bound,
    is_spike,
    poisson_tail,
    spike_threshold,
)

DEFAULT = SystemicSettings()


def _tail_by_sum(k: int, mean: float) -> float:
    """P[X ≥ k] summed term by term from the far side (exact enough for small arguments)."""
    pmf = [math.exp(j * math.log(mean) - mean - math.lgamma(j + 1)) for j in range(k, k + 400)]
    return math.fsum(pmf)


def test_poisson_tail_known_values() -> None:
    assert poisson_tail(0, 3.0) == 1.0
    assert poisson_tail(1, 0.0) == 0.0
    assert poisson_tail(1, 2.0) == pytest.approx(1 - math.exp(-2.0), rel=1e-12)
    assert poisson_tail(3, 0.05) == pytest.approx(2.0067e-5, rel=1e-4)
    assert poisson_tail(10**6, 10**6) == pytest.approx(0.5, abs=1e-3)  # large means stay fast and finite
    assert 0 < poisson_tail(200, 10.0) < 1e-150  # far tail without underflow to a wrong value
    with pytest.raises(ValueError):
        poisson_tail(3, -1.0)


@settings(max_examples=200, deadline=None)
@given(k=st.integers(min_value=1, max_value=150), mean=st.floats(min_value=1e-3, max_value=80.0))
def test_poisson_tail_matches_the_sum_and_is_monotone(k: int, mean: float) -> None:
    tail = poisson_tail(k, mean)
    assert 0.0 <= tail <= 1.0
    reference = _tail_by_sum(k, mean)
    assert tail == pytest.approx(reference, rel=1e-9, abs=1e-300)
    assert poisson_tail(k + 1, mean) <= tail
    assert poisson_tail(k, mean * 1.1) >= tail


def test_expected_per_window_is_smoothed_and_scaled() -> None:
    days = BASELINE_DAYS * 86400
    never_seen = expected_per_window(baseline_count=0, covered_seconds=days, window_seconds=7200)
    assert never_seen == pytest.approx(PRIOR_ALERTS * 7200 / days)
    assert 0 < never_seen < 0.002
    windows = days / 7200  # 336 two-hour windows in 28 days
    busy = expected_per_window(baseline_count=67, covered_seconds=days, window_seconds=7200)
    assert busy == pytest.approx((67 + PRIOR_ALERTS) / windows)
    # a young history is stretched to one window: cautious, never a division by ~0
    assert expected_per_window(baseline_count=2, covered_seconds=10, window_seconds=7200) == 2.5
    with pytest.raises(ValueError):
        expected_per_window(baseline_count=1, covered_seconds=days, window_seconds=0)


def test_no_history_lets_min_count_decide() -> None:
    assert not is_spike(count=2, expected=None, settings=DEFAULT)
    assert is_spike(count=3, expected=None, settings=DEFAULT)
    assert not is_spike(count=99, expected=None, settings=SystemicSettings(enabled=False))


def test_rare_value_spikes_at_min_count_and_busy_value_needs_more() -> None:
    assert is_spike(count=3, expected=0.01, settings=DEFAULT)
    assert not is_spike(count=3, expected=2.0, settings=DEFAULT)
    assert spike_threshold(0.05, DEFAULT) == 3
    assert spike_threshold(1.0, DEFAULT) == 8
    assert spike_threshold(20.0, DEFAULT) > 40


def test_naive_per_check_tail_would_be_far_too_lax() -> None:
    # What the scan correction is for: at 1 alert per window, "P[Pois(1) ≥ 5] < 0.01" passes at 5, but a
    # stationary stream reaches 5 at about 1.9 % of windows' arrivals — 19 false spikes per 1,000 windows.
    assert poisson_tail(5, 1.0) < 0.01
    assert false_spike_bound(5, 1.0) > 0.015
    assert not is_spike(count=5, expected=1.0, settings=DEFAULT)


@settings(max_examples=300, deadline=None)
@given(
    expected=st.floats(min_value=1e-4, max_value=60.0),
    sensitivity=st.floats(min_value=1e-5, max_value=0.2),
    min_count=st.integers(min_value=1, max_value=10),
    count=st.integers(min_value=0, max_value=200),
)
def test_threshold_is_the_decision_and_keeps_false_spikes_within_budget(
    expected: float, sensitivity: float, min_count: int, count: int
) -> None:
    chosen = SystemicSettings(sensitivity=sensitivity, min_count=min_count)
    threshold = spike_threshold(expected, chosen)
    assert threshold >= min_count and threshold > expected
    assert is_spike(count=count, expected=expected, settings=chosen) == (count >= threshold)
    # the expected false spikes per window stay within budget: half of 1 per 1,000 at the default 0.01
    assert false_spike_bound(threshold, expected) < sensitivity * FALSE_SPIKES_PER_WINDOW_PER_SENSITIVITY
    assert FALSE_SPIKES_PER_WINDOW_PER_SENSITIVITY <= 0.1


@settings(max_examples=100, deadline=None)
@given(expected=st.floats(min_value=1e-4, max_value=60.0), count=st.integers(min_value=0, max_value=200))
def test_more_history_never_makes_the_same_count_more_alarming(expected: float, count: int) -> None:
    if is_spike(count=count, expected=expected * 1.5, settings=DEFAULT):
        assert is_spike(count=count, expected=expected, settings=DEFAULT)
