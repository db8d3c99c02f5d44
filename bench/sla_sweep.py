"""Benchmark: the SLA sweep over N alerts of which 10 % are past their deadline.

    python bench/sla_sweep.py            # N = 10k, 100k, 1M on SQLite
                                         # (+ PostgreSQL when HOTLOOP_TEST_DATABASE_URL is set)
    python bench/sla_sweep.py --quick    # N = 10k, 100k

Each (backend, N) runs in its own process, so peak memory (ru_maxrss) belongs to that N alone.
Rows are bulk-loaded (sqlite3 executemany / asyncpg COPY); every due alert gets its breach step
(the heaviest one: event, thread line, card update, managers' card). Reported: time per sweep
batch (500 alerts), time to drain every due row, an idle sweep once nothing is due (the index
lookup alone), and peak RSS. Results go to bench/results/sla_sweep.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bot.config.snapshot import load_snapshot  # noqa: E402
from bot.sla_sweep import sweep  # noqa: E402
from storage.db import create_all, create_engine_for, normalize_url, session_factory  # noqa: E402

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
BATCH = 500
CHUNK = 50_000
RESULTS = ROOT / "bench" / "results"


def chunks(n: int) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """(feedback, alert) rows, CHUNK at a time (setup memory stays small): every 10th alert is 1–60 min
    overdue, the rest are due 1 h – 3 days ahead."""
    for first in range(1, n + 1, CHUNK):
        feedback, alerts = [], []
        for i in range(first, min(first + CHUNK, n + 1)):
            created = NOW - timedelta(minutes=30 + i % 600)
            late = NOW - timedelta(seconds=60 + i % 3600)
            due = late if i % 10 == 0 else NOW + timedelta(hours=1, seconds=i % 200_000)
            feedback.append((i, 1, f"r-{i}", created))
            alerts.append(
                (
                    i,
                    f"HA-{1000 + i}",
                    i,
                    "critical",
                    "open",
                    1,
                    created,
                    created,
                    due,
                    due + timedelta(hours=4),
                    due,
                )
            )
        yield feedback, alerts


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def load_sqlite(path: str, n: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute(
        "INSERT INTO team (id, name, managers, timezone, is_default, created_at) "
        "VALUES (1, 'support', '[]', 'UTC', 1, ?)",
        (_iso(NOW),),
    )
    conn.execute(
        "INSERT INTO source (id, name, kind, secret_encrypted, mapping, created_at) "
        "VALUES (1, 'web', 'generic', 'x', '{}', ?)",
        (_iso(NOW),),
    )
    for feedback, alerts in chunks(n):
        conn.executemany(
            "INSERT INTO feedback (id, source_id, external_id, received_at, contact_requested, answers,"
            " attributes, partial) VALUES (?, ?, ?, ?, 0, '[]', '{}', 0)",
            [(a, b, c, _iso(d)) for a, b, c, d in feedback],
        )
        conn.executemany(
            "INSERT INTO alert (id, key, feedback_id, severity, status, team_id, created_at, updated_at,"
            " claim_due_at, resolve_due_at, next_due_at, routed_by_default, reasons, escalation_level,"
            " nag_count, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '[]', 0, 0, 1)",
            [(*r[:6], *(_iso(t) for t in r[6:])) for r in alerts],
        )
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


async def load_postgres(url: str, n: int) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute(
            "INSERT INTO team (id, name, managers, timezone, is_default, created_at) "
            "VALUES (1, 'support', '[]', 'UTC', true, $1)",
            NOW,
        )
        await raw.execute(
            "INSERT INTO source (id, name, kind, secret_encrypted, mapping, created_at) "
            "VALUES (1, 'web', 'generic', 'x', '{}', $1)",
            NOW,
        )
        for feedback, alerts in chunks(n):
            await raw.copy_records_to_table(
                "feedback",
                columns=[
                    "id",
                    "source_id",
                    "external_id",
                    "received_at",
                    "contact_requested",
                    "answers",
                    "attributes",
                    "partial",
                ],
                records=[(*f, False, "[]", "{}", False) for f in feedback],
            )
            await raw.copy_records_to_table(
                "alert",
                columns=[
                    "id",
                    "key",
                    "feedback_id",
                    "severity",
                    "status",
                    "team_id",
                    "created_at",
                    "updated_at",
                    "claim_due_at",
                    "resolve_due_at",
                    "next_due_at",
                    "routed_by_default",
                    "reasons",
                    "escalation_level",
                    "nag_count",
                    "version",
                ],
                records=[(*a, False, "[]", 0, 0, 1) for a in alerts],
            )
        for table in ("team", "source", "feedback", "alert"):
            await raw.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        await raw.execute("ANALYZE")
    await engine.dispose()


async def measure(url: str, n: int) -> dict[str, Any]:
    engine = create_engine_for(url)
    sessions = session_factory(engine)
    config = await load_snapshot(sessions)
    batches: list[float] = []
    swept = 0
    started = time.perf_counter()
    while True:
        t = time.perf_counter()
        result = await sweep(sessions, config=config, now=NOW, batch=BATCH)
        batches.append(time.perf_counter() - t)
        swept += result.breached
        if result.taken < BATCH:
            break
    drain = time.perf_counter() - started
    t = time.perf_counter()
    idle = await sweep(sessions, config=config, now=NOW, batch=BATCH)
    idle_seconds = time.perf_counter() - t
    await engine.dispose()
    assert swept == n // 10 and idle.taken == 0, (swept, idle)
    full = batches[:-1] or batches
    return {
        "n": n,
        "due": swept,
        "batches": len(batches),
        "batch_ms_mean": 1000 * statistics.mean(full),
        "batch_ms_p95": 1000 * sorted(full)[int(0.95 * (len(full) - 1))],
        "drain_s": drain,
        "alerts_per_s": swept / drain,
        "idle_sweep_ms": 1000 * idle_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


async def setup(backend: str, n: int) -> dict[str, Any]:
    """A fresh database with N alerts (its own process: the loader's memory is not the sweep's)."""
    started = time.perf_counter()
    if backend == "sqlite":
        path = f"{tempfile.mkdtemp(prefix='hotloop-bench-')}/bench.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        base = normalize_url(os.environ["HOTLOOP_TEST_DATABASE_URL"])
        name = f"hotloop_bench_{uuid.uuid4().hex[:10]}"
        await _admin(f'CREATE DATABASE "{name}"')
        url = base.rsplit("/", 1)[0] + f"/{name}"
    engine = create_engine_for(url)
    await create_all(engine)
    await engine.dispose()
    if backend == "sqlite":
        load_sqlite(url.split(":///", 1)[1], n)
    else:
        await load_postgres(url, n)
    return {"url": url, "setup_s": time.perf_counter() - started}


async def _admin(sql: str) -> None:
    admin = create_async_engine(
        normalize_url(os.environ["HOTLOOP_TEST_DATABASE_URL"]), isolation_level="AUTOCOMMIT"
    )
    async with admin.connect() as conn:
        await conn.execute(text(sql))
    await admin.dispose()


def cleanup(url: str) -> None:
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.rmdir()
    else:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))


def child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def one(backend: str, n: int) -> dict[str, Any]:
    prepared = child("--setup", backend, str(n))
    try:
        return {
            "backend": backend,
            "setup_s": prepared["setup_s"],
            **child("--measure", prepared["url"], str(n)),
        }
    finally:
        cleanup(prepared["url"])


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| backend | N | due | batches | batch mean ms | batch p95 ms | drain s | alerts/s | idle sweep ms "
        "| peak RSS MB | setup s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    body = [
        f"| {r['backend']} | {r['n']:,} | {r['due']:,} | {r['batches']} | {r['batch_ms_mean']:.0f} | "
        f"{r['batch_ms_p95']:.0f} | {r['drain_s']:.1f} | {r['alerts_per_s']:.0f} | "
        f"{r['idle_sweep_ms']:.1f} | "
        f"{r['peak_rss_mb']:.0f} | {r['setup_s']:.1f} |"
        for r in results
    ]
    return "\n".join([head, *body])


def growth(results: list[dict[str, Any]]) -> list[str]:
    out = []
    for backend in sorted({r["backend"] for r in results}):
        mine = sorted((r for r in results if r["backend"] == backend), key=lambda r: r["n"])
        if len(mine) > 1:
            small, big = mine[0], mine[-1]
            out.append(
                f"- {backend}: N ×{big['n'] // small['n']} → batch time ×"
                f"{big['batch_ms_mean'] / small['batch_ms_mean']:.2f}, idle sweep ×"
                f"{big['idle_sweep_ms'] / max(small['idle_sweep_ms'], 1e-6):.2f}, peak RSS ×"
                f"{big['peak_rss_mb'] / small['peak_rss_mb']:.2f}"
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="N = 10k and 100k only")
    parser.add_argument("--setup", nargs=2, metavar=("BACKEND", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--measure", nargs=2, metavar=("URL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        print(json.dumps(asyncio.run(setup(args.setup[0], int(args.setup[1])))))
        return
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure[0], int(args.measure[1])))))
        return
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    backends = ["sqlite"] + (["postgres"] if os.environ.get("HOTLOOP_TEST_DATABASE_URL") else [])
    results = []
    for backend in backends:
        for n in sizes:
            results.append(one(backend, n))
            print(
                f"{backend:8} N={n:>9,}  batch {results[-1]['batch_ms_mean']:.0f} ms  "
                f"drain {results[-1]['drain_s']:.1f} s  rss {results[-1]['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    report = table(results)
    lines = growth(results)
    print("\n" + report + "\n" + "\n".join(lines))
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "batch": BATCH,
        "quick": args.quick,
        "python": sys.version.split()[0],
    }
    (RESULTS / "sla_sweep.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    (RESULTS / "sla_sweep.md").write_text(
        f"# SLA sweep benchmark\n\n{meta['when']} · batch {BATCH} · 10 % of N overdue, each gets its "
        f"breach step (event + thread line + card update + managers' card)\n\n{report}\n\n"
        f"Growth from the smallest to the largest N:\n\n" + "\n".join(lines) + "\n"
    )


if __name__ == "__main__":
    main()
