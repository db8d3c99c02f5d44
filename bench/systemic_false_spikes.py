"""Benchmark: false spikes and detection delay of the systemic detector (bot/systemic/detect.py).

    python bench/systemic_false_spikes.py            # 100,000 windows per base rate
    python bench/systemic_false_spikes.py --quick    # 20,000 windows

A seeded simulation (bot/systemic/simulate.py) of one value's stream, checked at every arrival like the
detection job: a stationary Poisson stream at each base rate (expected alerts per window, the baseline
set to the true rate) counts the parents it opens — all false. Compared with two laxer rules: the naive
per-check tail P[Pois(μ) ≥ N] < 0.01, and that tail Bonferroni-corrected by the (1 + μ) checks per window.
Detection: (a) a burst of 5 alerts within one window on top of the stream — how often the first burst
alert is in a parent by the 5th burst alert; (b) the rate × 4 for two windows — how often it is found at
all, within its first 5 alerts, and after how many alerts. Results: stdout,
bench/results/systemic-false-spikes.md and .json, with the machine's load average (os.getloadavg).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.systemic.detect import SystemicSettings, false_spike_bound, poisson_tail, spike_threshold  # noqa: E402
from bot.systemic.simulate import detection_delay, poisson_times, stationary_run  # noqa: E402

RESULTS = ROOT / "bench" / "results"
RATES = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
DEFAULT = SystemicSettings()
TRIALS = 1000


def _first_count(accept: Callable[[int, float], bool], expected: float) -> int:
    count = DEFAULT.min_count
    while not accept(count, expected):
        count += 1
    return count


def naive(expected: float | None) -> int:
    assert expected is not None
    return _first_count(lambda n, mu: poisson_tail(n, mu) < DEFAULT.sensitivity, expected)


def bonferroni(expected: float | None) -> int:
    assert expected is not None
    return _first_count(lambda n, mu: (1 + mu) * poisson_tail(n, mu) < DEFAULT.sensitivity, expected)


def _detection(rng: random.Random, rate: float) -> dict[str, float]:
    cluster, rate_x4 = [], []
    for _ in range(TRIALS):
        background = poisson_times(rng, rate=rate, start=0.0, end=6.0)
        burst = sorted(3.0 + rng.random() for _ in range(5))
        cluster.append(detection_delay(background, burst, expected=rate, settings=DEFAULT))
        extra = poisson_times(rng, rate=3 * rate, start=3.0, end=5.0)
        background = [at for at in background if at < 5.0]
        rate_x4.append(detection_delay(background, extra, expected=rate, settings=DEFAULT) if extra else None)
    found = [delay for delay in rate_x4 if delay is not None]
    return {
        "cluster_within_5": 100 * sum(d is not None and d <= 5 for d in cluster) / TRIALS,
        "x4_found": 100 * len(found) / TRIALS,
        "x4_within_5": 100 * sum(d <= 5 for d in found) / TRIALS,
        "x4_median": statistics.median(found) if found else float("nan"),
    }


def measure(rate: float, windows: int, seed: int) -> dict[str, float]:
    threshold = spike_threshold(rate, DEFAULT)
    row: dict[str, float] = {"rate": rate, "threshold": threshold,
                             "bound": 1000 * false_spike_bound(threshold, rate)}
    for name, rule in (("hotloop", None), ("naive", naive), ("bonferroni", bonferroni)):
        run = stationary_run(random.Random(seed), rate=rate, windows=windows, settings=DEFAULT,
                             threshold=rule)
        row[name + "_parents"] = run.parents
        row[name + "_episodes"] = run.episodes
        row[name] = run.episodes_per_1000
    row["parents"] = row["hotloop_parents"] * 1000 / windows
    row.update(_detection(random.Random(seed + 1), rate))
    return row


HEADER = ("| base rate (per window) | spike at count ≥ | bound /1000 w | parents /1000 w (n) "
          "| excursions /1000 w (n) | naive tail: excursions /1000 w | (1+μ)·tail: excursions /1000 w "
          "| 5-in-a-window found by alert 5 | ×4 rate found in 2 w | ×4 found by alert 5 "
          "| ×4 median alerts to detection |")


def _line(row: dict[str, float]) -> str:
    return (f"| {row['rate']:g} | {row['threshold']:.0f} | {row['bound']:.2f} | "
            f"{row['parents']:.2f} ({row['hotloop_parents']:.0f}) | "
            f"{row['hotloop']:.2f} ({row['hotloop_episodes']:.0f}) | "
            f"{row['naive']:.2f} | {row['bonferroni']:.2f} | "
            f"{row['cluster_within_5']:.0f} % | {row['x4_found']:.0f} % | {row['x4_within_5']:.0f} % | "
            f"{row['x4_median']:g} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="20,000 windows per base rate")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    windows = 20_000 if args.quick else args.windows
    started = time.perf_counter()
    rows = [measure(rate, windows, args.seed) for rate in RATES]
    seconds = time.perf_counter() - started
    load = os.getloadavg()
    table = "\n".join([HEADER, "|" + "---|" * 11, *(_line(row) for row in rows)])
    report = f"""# Systemic spikes: false-spike rate and detection delay

`python bench/systemic_false_spikes.py{' --quick' if args.quick else ''}` — {windows:,} windows per base rate,
seed {args.seed}, default settings (min_count {DEFAULT.min_count}, sensitivity {DEFAULT.sensitivity}),
{TRIALS} burst trials per base rate, {seconds:.0f} s. Machine load (1/5/15 min) at the end:
{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} on {os.cpu_count()} CPUs (a seeded simulation: load changes
the time, not the figures).

{table}

- **parents**: parents a stationary Poisson stream opens per 1,000 windows, checked at every arrival as
  the detection job does (a parent takes an arrival only while the window ending at it is still a
  spike, and takes no more once a full window has passed without a child; the value's next parent
  counts only alerts after that). The promise: ≤ 1.
- **excursions**: every rise of the window count to the threshold, whether or not a parent was open. A
  rise within a window of a parent's last child joins that parent instead of opening a second one (one
  parent per value and window), so *parents* can understate the rises: this column counts them all.
  *bound*: the detector's guarantee μ·P[Pois(μ) ≥ k − 1] per window (expected arrivals reaching k).
- *naive tail* and *(1+μ)·tail*: excursions of the same stream with P[Pois(μ) ≥ N] < 0.01 (and N ≥ 3),
  without and with a Bonferroni factor for the (1 + μ) checks per window — why the scan correction
  and its margin are needed.
- **5-in-a-window**: 5 alerts at random times within one window on top of the stream (≥ 4× the expected
  count up to 1.25 per window): % found by its 5th alert (always, where the threshold is ≤ 5).
- **×4 rate**: the value's rate × 4 for two windows: % found in those 2 windows, % found within the
  first 5 alerts after the rise, and the median number of alerts after the rise until detection.
  Within 5 alerts is out of reach for a window count at ≤ 1 false spike per 1,000 windows: 5 alerts at
  4 μ per window take 1.25/μ windows, and a count of 5 + μ is below the threshold from μ ≈ 0.3 up.
"""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "systemic-false-spikes.md").write_text(report)
    command = "python bench/systemic_false_spikes.py" + (" --quick" if args.quick else "")
    (RESULTS / "systemic-false-spikes.json").write_text(json.dumps(
        {"command": command, "windows": windows, "seed": args.seed, "seconds": round(seconds, 1),
         "load_average": [round(x, 2) for x in load], "cpus": os.cpu_count(), "rows": rows}, indent=2) + "\n")
    print(report)


if __name__ == "__main__":
    main()
