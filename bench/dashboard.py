"""Benchmark: the dashboard's pages with a real history (issue 16: under 200 ms of server time each).

    python bench/dashboard.py                      # 100,000 alerts on SQLite (+ PostgreSQL when
                                                   # HOTLOOP_TEST_DATABASE_URL or --database-url is given)
    python bench/dashboard.py --quick              # a short run: 10,000 alerts, 5 requests a page
                                                   # (written to bench/results/dashboard-quick.*)

The history (bench/dashboard_seed.py) is bulk-loaded; then the real app runs in this process (lifespan
included, no workers) and each page is requested ~30 times through httpx.ASGITransport with a session
cookie: the time measured is the server's own (routing, queries, templates), no network.

The figures are measured
- the warm-up job once on the fresh history (jobs/figures.py, in the worker, not a page): every (day,
  team) of 52 weeks computed and kept in `figureday` (a one-off after the upgrade); then
- after a restart: the process's memo of parsed days and merged weeks emptied, then filled again by the
  web process's start-up preload (adapters/web/figures_routes.py `preload_figures`, read-only) before the
  request; and at once after a start (the preload started, not finished: the page waits for it);
- after new data: before each request the newest alert of each team is written (its version bumped, as
  every claim, contact or resolve does): those teams' days are counted again and their week merged again;
- data unchanged: the change check, then everything from the memo.
Results: bench/results/dashboard.md and .json, with the machine's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from dashboard_seed import load_postgres, load_sqlite  # noqa: E402  (bench/dashboard_seed.py, beside this file)
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from adapters.web.figures_routes import preload_figures, start_preload  # noqa: E402
from bot.settings import Role, build_settings  # noqa: E402
from bot.web.chart_links import signed_chart_url  # noqa: E402
from bot.web.figures import MAX_WEEKS, refresh_window  # noqa: E402
from bot.web.signin import hash_session_token  # noqa: E402
from hotloop.app import create_app  # noqa: E402
from storage.db import create_all, create_engine_for, normalize_url, transaction  # noqa: E402
from storage.queries import web as web_queries  # noqa: E402

RESULTS = ROOT / "bench" / "results"
BUDGET_MS = 200.0
SECRET = "bench-secret-key-0123456789abcdef"
NEXT = re.compile(r'<a href="([^"]+)" rel="next">')
DEEP_PAGES = 20


async def _prepare(url: str, n: int, now: datetime) -> float:
    engine = create_engine_for(url)
    await create_all(engine)
    await engine.dispose()
    started = time.perf_counter()
    if url.startswith("sqlite"):
        load_sqlite(url.split("///", 1)[1], n, now)
    else:
        await load_postgres(normalize_url(url), n, now)
    return time.perf_counter() - started


Before = Callable[[], Awaitable[None]] | None


async def _timed(client: httpx.AsyncClient, path: str, runs: int, before: Before = None) -> dict[str, Any]:
    times: list[float] = []
    cpu: list[float] = []
    status = 0
    for _ in range(runs):
        if before is not None:
            await before()
        started, started_cpu = time.perf_counter(), time.process_time()
        reply = await client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        status = reply.status_code
    ordered = sorted(times)
    return {"path": path, "status": status, "p50": statistics.median(ordered),
            "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], "max": ordered[-1],
            "cpu_p50": statistics.median(cpu)}


async def _deep_page(client: httpx.AsyncClient) -> str | None:
    """The queue's page DEEP_PAGES "Next page" links in (a keyset cursor far into the history)."""
    path = "/app?view=all"
    for _ in range(DEEP_PAGES):
        found = NEXT.search((await client.get(path)).text)
        if found is None:
            return None
        path = found.group(1).replace("&amp;", "&")
    return path


def _pages(app: Any, alert_key: str, chart_path: str) -> list[tuple[str, str, Before]]:
    async def empty() -> None:  # the process keeps nothing: a page while the start-up preload still runs
        for name in ("figure_memo", "chart_pngs"):
            if hasattr(app.state, name):
                delattr(app.state, name)

    async def cold() -> None:  # a restart: nothing kept, then the start-up preload (hotloop/app.py)
        await empty()
        await preload_figures(app)

    async def starting() -> None:  # a restart, and the page asked for at once: the preload still runs
        await empty()
        start_preload(app)

    async def new_data() -> None:  # the newest alerts (this week), one of each team, written
        async with transaction(app.state.ctx.sessions) as session:
            await session.execute(text("UPDATE alert SET version = version + 1 WHERE id IN "
                                       "(SELECT max(id) FROM alert GROUP BY team_id)"))

    return [
        ("queue, first page", "/app", None),
        ("queue, overdue view", "/app?view=overdue", None),
        ("alert page", f"/app/alerts/{alert_key}", None),
        ("figures, after a restart", "/app/figures", cold),
        ("figures, after new data", "/app/figures", new_data),
        ("figures, data unchanged", "/app/figures", None),
        ("figures one team, after new data", "/app/figures?team=2", new_data),
        ("figures 52 weeks, after new data", "/app/figures?weeks=52", new_data),
        ("figures 52 weeks, after a restart", "/app/figures?weeks=52", cold),
        ("figures, at once after a start (the preload still running)", "/app/figures", starting),
        ("digest chart PNG, after new data", chart_path, new_data),
    ]


async def _warm_up(app: Any) -> dict[str, Any]:
    """The warm-up job's first run (jobs/figures.py; in the worker, here in line): every day of 52 weeks."""
    started, started_cpu = time.perf_counter(), time.process_time()
    states = await refresh_window(app.state.ctx.sessions, now=datetime.now(UTC), weeks=MAX_WEEKS,
                                  team_ids=None, employees=app.state.ctx.settings.employee_figures)
    build_ms = (time.perf_counter() - started) * 1000
    print(f"  warm-up job, first run ({len(states)} days)  {build_ms:7.1f} ms", flush=True)
    return {"page": f"warm-up job, first run after the upgrade ({len(states)} days, background)",
            "path": "jobs/figures.py", "status": 200, "p50": build_ms, "p95": build_ms, "max": build_ms,
            "cpu_p50": (time.process_time() - started_cpu) * 1000, "one_off": True}


async def _measure(url: str, runs: int, now: datetime, alert_key: str) -> list[dict[str, Any]]:
    settings = build_settings(mode="test", database_url=url, secret_key=SECRET, log_json=False,
                              admins=["slack:UBENCH"], public_url="https://hotloop.example.com")
    app = create_app(settings, role=Role.WEB, chats=lambda _s, _c: {})
    token = secrets.token_urlsafe(32)
    async with app.router.lifespan_context(app):
        async with transaction(app.state.ctx.sessions) as session:
            await web_queries.add_session(session, token_hash=hash_session_token(token), csrf_token="c" * 32,
                                          platform="slack", user_id="UBENCH", user_name="bench", teams=[1],
                                          now=now, expires_at=now + timedelta(hours=8))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                     cookies={"hotloop_session": token}) as client:
            chart = signed_chart_url(settings, team_id=1, now=datetime.now(UTC)) or ""
            rows = [await _warm_up(app)]
            pages = _pages(app, alert_key, chart.removeprefix("https://hotloop.example.com"))
            deep = await _deep_page(client)
            if deep is not None:
                pages.insert(1, (f"queue, page {DEEP_PAGES + 1} (keyset)", deep, None))
            for label, path, before in pages:
                await client.get(path)  # warm-up: templates compiled, connections open
                rows.append({"page": label, **await _timed(client, path, runs, before)})
                print(f"  {label:38} {rows[-1]['status']}  p50 {rows[-1]['p50']:7.1f} ms  "
                      f"p95 {rows[-1]['p95']:7.1f} ms  max {rows[-1]['max']:7.1f} ms  "
                      f"CPU p50 {rows[-1]['cpu_p50']:6.1f} ms", flush=True)
    return rows


async def _pg_database(base: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    name = f"hotloop_dash_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        engine = create_async_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    await run(f'CREATE DATABASE "{name}"')
    url = normalize_url(base).rsplit("/", 1)[0] + f"/{name}"
    return url, lambda: run(f'DROP DATABASE "{name}" WITH (FORCE)')


async def bench(backend: str, url: str, n: int, runs: int) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    print(f"{backend}: seeding {n} alerts …", flush=True)
    seed_seconds = await _prepare(url, n, now)
    load_before = os.getloadavg()
    rows = await _measure(url, runs, now, alert_key=f"HA-{1000 + n // 2 + 1}")
    return {"backend": backend, "alerts": n, "seed_s": seed_seconds, "rows": rows,
            "load_before": load_before, "load_after": os.getloadavg()}


def report(results: list[dict[str, Any]], runs: int) -> str:
    lines = ["# Dashboard: server time per page", "",
             f"`{' '.join(['python', *sys.argv])}` — {runs} requests per page, in process "
             "(httpx.ASGITransport, the "
             f"real app and its lifespan, a session cookie), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
             f"{os.cpu_count()} CPUs. Budget: {BUDGET_MS:.0f} ms. CPU: this process's CPU time per "
             "request (all its threads: SQLite runs in aiosqlite's; PostgreSQL's own work is not in it) — "
             "what the request costs whatever else the machine is doing.", ""]
    for result in results:
        load = " / ".join(f"{v:.2f}" for v in result["load_before"])
        after = " / ".join(f"{v:.2f}" for v in result["load_after"])
        lines += [f"## {result['backend']}, {result['alerts']:,} alerts (seeded in {result['seed_s']:.0f} s)",
                  "", f"Load average (1/5/15 min) before: {load}; after: {after}.", "",
                  "| page | status | p50 ms | p95 ms | max ms | CPU p50 ms | within budget (p95) |",
                  "|---|---|---|---|---|---|---|"]
        for row in result["rows"]:
            ok = "one-off" if row.get("one_off") else "yes" if row["p95"] < BUDGET_MS else "**no**"
            lines.append(f"| {row['page']} (`{row['path'][:60]}`) | {row['status']} | {row['p50']:.1f} | "
                         f"{row['p95']:.1f} | {row['max']:.1f} | {row['cpu_p50']:.1f} | {ok} |")
        lines.append("")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url", default=os.environ.get("HOTLOOP_TEST_DATABASE_URL"))
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--quick", action="store_true", help="10,000 alerts, 5 requests a page")
    parser.add_argument("--out", help="default bench/results/dashboard.md (--quick: dashboard-quick.md)")
    args = parser.parse_args()
    if args.quick:
        args.alerts, args.requests = 10_000, 5
    args.out = args.out or str(RESULTS / ("dashboard-quick.md" if args.quick else "dashboard.md"))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = f"sqlite+aiosqlite:///{tmp}/dashboard.db"
        results.append(await bench("SQLite", sqlite, args.alerts, args.requests))
    if args.database_url and not args.sqlite_only:
        url, drop = await _pg_database(args.database_url)
        try:
            results.append(await bench("PostgreSQL", url, args.alerts, args.requests))
        finally:
            await drop()
    Path(args.out).write_text(report(results, args.requests) + "\n")
    Path(args.out).with_suffix(".json").write_text(json.dumps(
        {"command": " ".join(["python", *sys.argv]), "requests": args.requests, "cpus": os.cpu_count(),
         "budget_ms": BUDGET_MS, "results": results}, indent=2) + "\n")
    print(f"wrote {args.out} and its .json")
    failed = [row["page"] for result in results for row in result["rows"] if row["status"] != 200]
    if failed:  # a page that does not render is a broken dashboard, not a figure (CI runs --quick)
        sys.exit(f"pages that did not answer 200: {', '.join(failed)}")


if __name__ == "__main__":
    asyncio.run(main())
