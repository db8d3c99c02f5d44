"""The systemic detector's cost per alert with 100,000 alerts in the 28-day baseline (issue 15: ≤ 1 ms).

Seeds a fresh database with 100,000 alerts spread over 28 days — their feedback and alert rows, and the
signals and signal days the detector would have written for them (bulk-loaded through the driver) —
then, per batch size, writes new alerts at the baseline's rate (a burst of 40 from location 042 about
late deliveries among them) and times the detector over them (`bot.systemic.detector.detect_batch`, each
batch its own transaction as in the job, from BEGIN to COMMIT).

Batch sizes: the job (jobs/systemic.py) reads every alert that arrived since its last tick, every 2 s,
in transactions of up to 500. At this baseline's rate (~0.04 alerts/s) a tick finds 0–1 alerts; a
batch of 10 is an ingest peak of 5 alerts/s, 50 one of 25/s, 100 one of 50/s, and 500 a backlog (after
a restart, or a peak the detector fell behind on). A transaction has a fixed cost (about 8 round trips
to the database) that small batches do not spread: batch 1 shows it.

    python bench/systemic.py              # SQLite, and PostgreSQL if HOTLOOP_TEST_DATABASE_URL is set
    python bench/systemic.py --database-url postgresql://postgres@127.0.0.1:5432/test
                                          # PostgreSQL too: a throw-away database next to that one
    python bench/systemic.py --quick      # fewer new alerts; writes systemic-quick.{md,json}

Prints the figures and the machine load (os.getloadavg) and writes bench/results/systemic.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config.snapshot import ConfigCache, ConfigSnapshot, ensure_defaults
from bot.systemic.detector import CURSOR, DetectResult, detect_batch
from bot.systemic.signals import dimension_values
from storage.db import (
    SessionFactory,
    create_all,
    create_engine_for,
    normalize_url,
    session_factory,
    transaction,
)
from storage.models import Alert, AlertSignal, Feedback, JobCursor, SignalDay, Source

BASELINE_ALERTS = 100_000
BASELINE_DAYS = 28
# (batch size, new alerts measured): full run and --quick
RUNS = ((500, 3_000), (100, 2_000), (50, 2_000), (10, 2_000), (1, 300))
QUICK_RUNS = ((500, 1_000), (10, 500), (1, 100))
BURST = 40  # alerts from location 042 about late deliveries, 90 s apart, in the middle of each run
WORDS = ["rude", "refund", "never again"]
RESULTS = Path(__file__).resolve().parent / "results"
START = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
NOUNS = ["delivery", "driver", "food", "order", "staff", "manager", "checkout", "parking", "app", "price",
         "queue", "table", "coffee", "bread", "receipt", "website", "payment", "packaging", "store", "toilet"]
ADJECTIVES = ["late", "cold", "rude", "slow", "wrong", "dirty", "broken", "missing", "expensive", "noisy"]
CHUNK = 20_000
PROFILE = cProfile.Profile()  # --profile: the detection loops only
PROFILING = "--profile" in sys.argv


@dataclass
class Alerts:
    feedback: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    signals: list[dict[str, Any]]
    days: Counter[tuple[int, str, str, str]]


def comment(rng: random.Random) -> str:
    parts = [f"the {rng.choice(NOUNS)} was {rng.choice(ADJECTIVES)}" for _ in range(rng.randint(1, 3))]
    return ", and ".join(parts)


def make_alerts(rng: random.Random, *, first_id: int, times: Sequence[datetime], team_id: int,
                burst: set[int] | None = None, with_signals: bool = True) -> Alerts:
    """Rows for len(times) alerts with ids from first_id; `burst`: indexes that come from location 042
    about late deliveries."""
    out = Alerts([], [], [], Counter())
    for n, at in enumerate(times):
        row_id = first_id + n
        in_burst = burst is not None and n in burst
        attributes = {"location": "042" if in_burst else f"{rng.randint(1, 60):03d}",
                      "region": f"r{rng.randint(1, 6)}", "product": f"p{rng.randint(1, 25)}",
                      "employee": f"e{rng.randint(1, 300)}"}
        text_ = "the delivery was late again" if in_burst else comment(rng)
        source = "web" if rng.random() < 0.7 else "kiosk"
        out.feedback.append({
            "id": row_id, "source_id": 1 if source == "web" else 2, "external_id": f"b-{row_id}",
            "received_at": at, "nps": rng.randint(0, 6), "comment": text_, "answers": [],
            "attributes": attributes, "contact_requested": False, "partial": False})
        out.alerts.append({
            "id": row_id, "key": f"HA-{1000 + row_id}", "feedback_id": row_id, "severity": "high",
            "status": "open", "team_id": team_id, "reasons": [], "created_at": at, "updated_at": at,
            "version": 1, "kind": "response", "escalation_level": 0, "nag_count": 0,
            "routed_by_default": False, "ack_status": "none"})
        if not with_signals:
            continue
        day = at.strftime("%Y-%m-%d")
        for dimension, value in dimension_values(attributes=attributes, source=source, comment=text_,
                                                 alarming_words=WORDS):
            out.signals.append({"alert_id": row_id, "team_id": team_id, "dimension": dimension,
                                "value": value, "at": at})
            out.days[(team_id, dimension, value, day)] += 1
    return out


async def bulk(sessions: SessionFactory, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Rows through the driver (sqlite3 executemany, asyncpg COPY), each value bound as SQLAlchemy binds
    it: 1M signal rows in seconds rather than minutes."""
    table = model.__table__
    columns = list(rows[0]) if rows else []
    for start in range(0, len(rows), CHUNK):
        async with transaction(sessions) as session:
            conn = await session.connection()
            processors = [table.c[name].type.bind_processor(conn.dialect) for name in columns]
            bound = list(zip(columns, processors, strict=True))
            records = [tuple(p(row[name]) if p else row[name] for name, p in bound)
                       for row in rows[start:start + CHUNK]]
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            if conn.dialect.name == "postgresql":
                await driver.copy_records_to_table(table.name, records=records, columns=columns)
            else:
                marks = ", ".join("?" * len(columns))
                names = ", ".join(f'"{name}"' for name in columns)
                await driver.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', records)


async def write(sessions: SessionFactory, batch: Alerts) -> None:
    await bulk(sessions, Feedback, batch.feedback)
    await bulk(sessions, Alert, batch.alerts)
    await bulk(sessions, AlertSignal, batch.signals)
    await bulk(sessions, SignalDay, [{"team_id": t, "dimension": d, "value": v, "day": day, "count": n}
                                     for (t, d, v, day), n in batch.days.items()])


async def settle(engine: AsyncEngine, *, vacuum: bool) -> None:
    """After a bulk load, what a running system would have: SQLite's write-ahead log checkpointed (a
    long log slows every read); on PostgreSQL the sequences past the explicit ids and (`vacuum`) the
    visibility map and planner statistics autovacuum would make."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        if conn.dialect.name != "postgresql":
            await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            return
        for table in ("source", "feedback", "alert"):
            await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                    f"(SELECT max(id) FROM {table}))"))
        await conn.execute(text("VACUUM ANALYZE" if vacuum else "ANALYZE"))


async def seed(engine: AsyncEngine, sessions: SessionFactory, rng: random.Random
               ) -> tuple[ConfigSnapshot, datetime]:
    """The baseline; → (config, the end of the baseline)."""
    await ensure_defaults(sessions, default_team="support", admins=["U0ADMIN"])
    async with transaction(sessions) as session:
        session.add(Source(id=1, name="web", kind="generic", secret_encrypted="x"))
        session.add(Source(id=2, name="kiosk", kind="generic", secret_encrypted="x"))
    config = await ConfigCache(sessions).get()
    span = BASELINE_DAYS * 86400
    times = sorted(START + timedelta(seconds=rng.uniform(0, span)) for _ in range(BASELINE_ALERTS))
    baseline = make_alerts(rng, first_id=1, times=times, team_id=config.default_team_id)
    began = time.perf_counter()
    await write(sessions, baseline)
    async with transaction(sessions) as session:
        await session.merge(JobCursor(name=CURSOR, last_id=BASELINE_ALERTS))  # create_all seeded it at 0
    await settle(engine, vacuum=True)
    print(f"seeded {BASELINE_ALERTS:,} alerts, {len(baseline.signals):,} signals, {len(baseline.days):,} "
          f"signal days in {time.perf_counter() - began:.0f} s")
    return config, START + timedelta(seconds=span)


def new_times(start: datetime, count: int) -> tuple[list[datetime], set[int]]:
    """`count` alert times at the baseline's rate after `start`, BURST of them (90 s apart) in the
    middle; → (times in order, the burst's indexes)."""
    rate = BASELINE_ALERTS / (BASELINE_DAYS * 86400)  # alerts per second
    times = [start + timedelta(seconds=(n + 1) / rate) for n in range(count)]
    burst_at = count // 2
    burst = set(range(burst_at, burst_at + min(BURST, count - burst_at)))
    for n in burst:
        times[n] = times[burst_at] + timedelta(seconds=90 * (n - burst_at))
    order = sorted(range(count), key=lambda n: times[n])
    return [times[n] for n in order], {i for i, n in enumerate(order) if n in burst}


async def measure(engine: AsyncEngine, config: ConfigSnapshot, rng: random.Random, *, start: datetime,
                  batch: int, count: int) -> tuple[list[float], DetectResult, datetime]:
    """`count` new alerts read in batches of `batch`: → seconds per batch, the totals, the last time."""
    sessions = session_factory(engine)
    times, burst = new_times(start, count)
    await write(sessions, make_alerts(rng, first_id=await next_free_id(sessions), times=times,
                                      team_id=config.default_team_id, burst=burst, with_signals=False))
    await settle(engine, vacuum=False)
    now = times[-1] + timedelta(seconds=5)
    seconds: list[float] = []
    total = DetectResult()
    if PROFILING:
        PROFILE.enable()
    while True:
        began = time.perf_counter()
        async with transaction(sessions) as session:
            result = await detect_batch(session, config=config, alarming_words=WORDS, now=now, batch=batch)
        if not result.alerts:
            break
        seconds.append(time.perf_counter() - began)
        total.add(result)
    PROFILE.disable()
    return seconds, total, times[-1]


async def floors(engine: AsyncEngine, config: ConfigSnapshot, now: datetime) -> dict[str, float]:
    """The fixed costs under any tick (p50 of 200): a transaction with one trivial statement — the least
    any separate transaction costs on this driver — and the detector's tick when nothing is new."""
    sessions = session_factory(engine)

    async def p50(step: Any) -> float:
        seconds = []
        for _ in range(200):
            began = time.perf_counter()
            async with transaction(sessions) as session:
                await step(session)
            seconds.append(time.perf_counter() - began)
        return round(quantile(seconds, 0.5) * 1000, 3)

    async def one_statement(session: Any) -> None:
        await session.execute(text("SELECT 1"))

    async def idle_tick(session: Any) -> None:
        await detect_batch(session, config=config, alarming_words=WORDS, now=now, batch=1)

    return {"one_statement_ms": await p50(one_statement), "idle_tick_ms": await p50(idle_tick)}


async def next_free_id(sessions: SessionFactory) -> int:
    """Above every feedback and alert id (the parents opened took some)."""
    async with sessions() as session:
        highest = [(await session.execute(text(f"SELECT max(id) FROM {table}"))).scalar_one()
                   for table in ("feedback", "alert")]
    return max(int(h or 0) for h in highest) + 1


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def figures(name: str, batch: int, seconds: Sequence[float], total: DetectResult) -> dict[str, Any]:
    return {"database": name, "batch": batch, "alerts": total.alerts, "batches": len(seconds),
            "ms_per_alert": round(sum(seconds) * 1000 / total.alerts, 3),
            "p50_batch_ms": round(quantile(seconds, 0.5) * 1000, 2),
            "p99_batch_ms": round(quantile(seconds, 0.99) * 1000, 2), "signals": total.signals,
            "parents_opened": len(total.created), "children_joined": total.joined,
            "load_1m": round(os.getloadavg()[0], 2)}


async def run(database_url: str, name: str, runs: Sequence[tuple[int, int]]) -> list[dict[str, Any]]:
    engine = create_engine_for(database_url)
    try:
        await create_all(engine)
        sessions = session_factory(engine)
        rng = random.Random(15)
        config, end = await seed(engine, sessions, rng)
        rows = []
        for batch, count in runs:  # a day apart: each run's burst makes its own parents
            seconds, total, end = await measure(engine, config, rng, start=end + timedelta(days=1),
                                                batch=batch, count=count)
            rows.append(figures(name, batch, seconds, total))
            print(json.dumps(rows[-1]))
        rows[-1]["floors"] = await floors(engine, config, end + timedelta(days=1))
        print(json.dumps(rows[-1]["floors"]))
        async with sessions() as session:  # what opened: the bursts, or a chance spike of a value
            opened = (await session.execute(text(
                "SELECT dimension, value, child_count, baseline_per_window FROM systemicissue "
                "ORDER BY id"))).all()
        print(f"{name} parents: " + "; ".join(f"{d}={v} ({n} children, {b:.2f} per window expected)"
                                            for d, v, n, b in opened))
        rows[-1]["parents"] = [f"{d}={v}:{n}" for d, v, n, _ in opened]
        if PROFILING:
            out = io.StringIO()
            pstats.Stats(PROFILE, stream=out).sort_stats("tottime").print_stats(40)
            (RESULTS / f"systemic-profile-{name.lower()}.txt").write_text(out.getvalue())
            PROFILE.clear()
        return rows
    finally:
        await engine.dispose()


async def pg_database(base: str, sql: str) -> None:
    engine = create_async_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


def run_pg(base_url: str, runs: Sequence[tuple[int, int]]) -> list[dict[str, Any]]:
    name = f"bench_systemic_{uuid.uuid4().hex[:8]}"
    asyncio.run(pg_database(base_url, f'CREATE DATABASE "{name}"'))
    try:
        return asyncio.run(run(normalize_url(base_url).rsplit("/", 1)[0] + f"/{name}", "PostgreSQL", runs))
    finally:
        asyncio.run(pg_database(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def report(rows: Sequence[dict[str, Any]], load: Sequence[float], command: str, seconds: float) -> str:
    lines = ["# Systemic detector: cost per alert", "",
             f"{BASELINE_ALERTS:,} alerts over {BASELINE_DAYS} days in the baseline; new alerts at the "
             f"baseline's rate with a burst of {BURST} from location 042 in each run. Goal: ≤ 1 ms per alert "
             "(issue 15). Time per batch: BEGIN to COMMIT of `detect_batch`.", "",
             f"`{command}` — {seconds:.0f} s. Machine load (1/5/15 min) at the end: "
             f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} on {os.cpu_count()} CPUs (other work was "
             "running: the figures are upper bounds).", "",
             "| database | batch | alerts | ms per alert | p50 batch ms | p99 batch ms | parents opened | "
             "children joined | load 1 min |", "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['database']} | {r['batch']} | {r['alerts']} | {r['ms_per_alert']:.3f} | "
              f"{r['p50_batch_ms']:.1f} | {r['p99_batch_ms']:.1f} | {r['parents_opened']} | "
              f"{r['children_joined']} | {r['load_1m']:.2f} |" for r in rows]
    lines += ["", "ms per alert = the batches' time / alerts. Batch 1 is the fixed cost of one tick's "
              "transaction (~8 round trips); larger batches spread it. *children joined*: alerts added to "
              "a parent opened in an earlier batch (the burst's later alerts).", ""]
    lines += [f"Fixed costs on {r['database']} (p50 of 200): a transaction of one `SELECT 1` "
              f"{r['floors']['one_statement_ms']:.2f} ms — no separate transaction costs less on this "
              f"driver, so no tick of one alert can cost under it; the detector's tick with nothing new "
              f"{r['floors']['idle_tick_ms']:.2f} ms." for r in rows if r.get("floors")]
    lines += [""]
    lines += [f"Parents opened on {r['database']} (dimension=value:children): {', '.join(r['parents'])}."
              for r in rows if r.get("parents")]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("HOTLOOP_TEST_DATABASE_URL"),
                        help="PostgreSQL server to make a throw-away database on (also measured)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer new alerts (one minute or less)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the detection; top functions to results/systemic-profile-<db>.txt")
    args = parser.parse_args()
    runs = QUICK_RUNS if args.quick else RUNS
    began = time.perf_counter()
    rows: list[dict[str, Any]] = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            rows += asyncio.run(run(f"sqlite:///{tmp}/bench-systemic.db", "SQLite", runs))
    if args.database_url:
        rows += run_pg(args.database_url, runs)
    load = os.getloadavg()
    command = "python " + " ".join(["bench/systemic.py", *sys.argv[1:]])
    markdown = report(rows, load, command, time.perf_counter() - began)
    print(markdown)
    stem = "systemic-quick" if args.quick else "systemic"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.md").write_text(markdown)
    (RESULTS / f"{stem}.json").write_text(json.dumps(
        {"command": command, "load_average": [round(x, 2) for x in load], "cpus": os.cpu_count(),
         "baseline_alerts": BASELINE_ALERTS, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
