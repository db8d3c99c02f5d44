"""Is a window count a systemic spike? Pure maths, no I/O.

At every new alert the detector counts the alerts of each (dimension, value) in the window ending now,
this one included, and compares that count N with the value's expected count per window μ (from a
trailing baseline). Checking at every arrival is a scan statistic: a naive "P[Pois(μ) ≥ N] < 0.01" is
tested about (1 + μ) times per window and a stationary stream crosses it tens of times per 1,000
windows. What is exact instead (Palm/Slivnyak): at an arrival of a stationary Poisson stream the OTHER
alerts in its window are Pois(μ), so the expected number of arrivals per window whose count reaches N is
  μ · P[Pois(μ) ≥ N − 1],
which bounds the probability that a window holds any false check (and so any false parent) from above.
A spike is N ≥ min_count with that bound below sensitivity × FALSE_SPIKES_PER_WINDOW_PER_SENSITIVITY:
the default 0.01 allows at most 1 false spike per 1,000 windows whatever the base rate. Parents absorb
the later arrivals of a burst, so the measured rate stays well under the bound
(bench/systemic_false_spikes.py).
The price: a burst must beat the baseline's own scan maximum (count needed: `spike_threshold`).
"""

from __future__ import annotations

import math
from functools import lru_cache

from bot.config.systemic import SystemicSettings  # the configuration owns the shape; maths reads it

__all__ = ["BASELINE_DAYS", "SystemicSettings", "expected_per_window", "is_spike", "spike_threshold"]

BASELINE_DAYS = 28
# sensitivity 0.01 → at most 0.001 false spikes per window (1 per 1,000 windows, issue 15's promise)
FALSE_SPIKES_PER_WINDOW_PER_SENSITIVITY = 0.05
# Baseline smoothing: half an alert added to every value's history (a Jeffreys-style prior), so a value
# never seen in 28 days expects 0.5 × window / 28 d ≈ 0.0015 per 2 h, never 0 — a first burst still needs
# min_count, and one stray alert in 28 days does not make the next one look routine.
PRIOR_ALERTS = 0.5
_EPSILON = 1e-16
_MAX_ITERATIONS = 100_000


def _lower_gamma_series(a: float, x: float) -> float:
    """Regularized lower incomplete gamma P(a, x) by its series; converges quickly for x < a + 1."""
    term = total = 1.0 / a
    denominator = a
    for _ in range(_MAX_ITERATIONS):
        denominator += 1.0
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPSILON:
            break
    return total * math.exp(a * math.log(x) - x - math.lgamma(a))


def _upper_gamma_fraction(a: float, x: float) -> float:
    """Regularized upper incomplete gamma Q(a, x) by its continued fraction (modified Lentz), x ≥ a + 1."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPSILON:
            break
    return h * math.exp(a * math.log(x) - x - math.lgamma(a))


def poisson_tail(k: int, mean: float) -> float:
    """P[X ≥ k] for X ~ Poisson(mean), accurate in the far tail (no 1 − Σ cancellation, no overflow)."""
    if not math.isfinite(mean) or mean < 0:
        raise ValueError(f"a Poisson mean must be finite and ≥ 0, not {mean!r}")
    if k <= 0:
        return 1.0
    if mean == 0:
        return 0.0
    # P[X ≥ k] = P(k, mean), the regularized lower incomplete gamma function
    if mean < k + 1:
        return min(1.0, _lower_gamma_series(float(k), mean))
    return max(0.0, 1.0 - _upper_gamma_fraction(float(k), mean))


def expected_per_window(*, baseline_count: int, covered_seconds: float, window_seconds: int) -> float:
    """Expected alerts per window from `baseline_count` alerts seen over `covered_seconds` (smoothed).

    `covered_seconds` is the history actually available (at most BASELINE_DAYS); it is taken as at least
    one window so a young history gives a cautious (high) estimate rather than a division by ~0.
    """
    if window_seconds <= 0:
        raise ValueError("window_seconds must be > 0")
    if baseline_count < 0:
        raise ValueError("baseline_count must be ≥ 0")
    covered = max(float(covered_seconds), float(window_seconds))
    return (baseline_count + PRIOR_ALERTS) * window_seconds / covered


def false_spike_bound(count: int, expected: float) -> float:
    """Expected arrivals per window whose count reaches `count`, in a stationary stream of `expected`."""
    return expected * poisson_tail(count - 1, expected)


def _budget(settings: SystemicSettings) -> float:
    return settings.sensitivity * FALSE_SPIKES_PER_WINDOW_PER_SENSITIVITY


def is_spike(*, count: int, expected: float | None, settings: SystemicSettings) -> bool:
    """Is `count` alerts in the window ending now (this one included) a spike? None = no history."""
    if not settings.enabled or count < max(1, settings.min_count):
        return False
    if expected is None:
        return True
    return false_spike_bound(count, expected) < _budget(settings)


@lru_cache(maxsize=4096)
def spike_threshold(expected: float | None, settings: SystemicSettings) -> int:
    """The smallest count `is_spike` accepts for this expectation (the bound falls as the count grows)."""
    count = max(1, settings.min_count)
    if expected is None or expected <= 0:
        return count
    count = max(count, math.floor(expected) + 1)
    while not is_spike(count=count, expected=expected, settings=settings):
        count += 1
    return count
