"""Ingest throughput and latency of `POST /webhooks/{source}`, against a bare FastAPI+INSERT baseline.

    /work/venv/bin/python bench/ingest.py [--db sqlite|postgres|both] [--seconds 10] [--concurrency 32]
                                          [--quick] [--profile]

For each database kind, three servers are started one after another as subprocesses on a free
loopback port, each on a fresh database (a temp SQLite file, or a new PostgreSQL database
`hotloop_bench_<rand>` dropped afterwards):

- baseline     bench/baseline_app.py: read the raw body, ONE INSERT, commit, 202 (same engine settings);
- hotloop-web  `hotloop serve --role web`: HTTP only, so the figure is pure ingest;
- hotloop-all  `hotloop serve --role all`: the delivery worker also runs (cards go to the log chat).

The load generator (this process, bench/loadgen.py: raw keep-alive HTTP/1.1, `--concurrency` connections)
sends signed generic webhooks, each with a unique id, in a realistic mix: 60% detractors with a
comment and answers (alert), 20% promoters asking to be contacted (alert), 20% happy (no alert).
It warms up for 2 s, then measures for `--seconds`; it stops by itself (time and request caps).

Results: a table on stdout, bench/results/ingest.json and bench/results/ingest.md (`--quick`
writes ingest-quick.* instead, so a smoke run never overwrites the real figures).

`--profile` adds one more hotloop-web run (`--profile-role all`: hotloop-all) per database under
py-spy (`pip install py-spy`), and writes the collapsed stacks and a top-functions summary to
bench/results/ingest-profile-<db>[-all].*.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil


def _fast_httpcore() -> bool:
    """httpcore runs `import sniffio` on every lock it creates; without the package installed, each
    failed import walks sys.path (~0.6 ms of CPU per request here), which made this load generator
    slower than the servers it measures. A stub that answers "asyncio" (what this benchmark runs on)
    removes that. Returns True when the stub was installed. Only this process is affected."""
    import importlib.util
    import types

    if "sniffio" in sys.modules or importlib.util.find_spec("sniffio") is not None:
        return False
    stub = types.ModuleType("sniffio")
    stub.current_async_library = lambda: "asyncio"  # type: ignore[attr-defined]
    sys.modules["sniffio"] = stub
    return True


SNIFFIO_STUBBED = _fast_httpcore()

import httpx  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from loadgen import (  # noqa: E402  (bench/loadgen.py, beside this file)
    SOURCE,
    SOURCE_SECRET,
    LoadResult,
    percentile,
    run_load,
)

RESULTS = REPO / "bench" / "results"
SECRET_KEY = "bench-secret-key-0123456789abcdef"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
GOAL_RATE = 1000.0  # accepted webhooks/s on SQLite
GOAL_RATIO = 0.5  # of the baseline
STARTUP_TIMEOUT = 60.0


# ---------------------------------------------------------------------------------------------
# Databases and servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def fresh_database(kind: str, workdir: Path, pg_admin_url: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        path = workdir / f"bench-{secrets.token_hex(4)}.db"
        try:
            yield f"sqlite+aiosqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import asyncpg  # a hotloop dependency

    name = f"hotloop_bench_{secrets.token_hex(4)}"
    admin = pg_admin_url.replace("postgresql+asyncpg://", "postgresql://")

    async def admin_sql(sql: str) -> None:
        conn = await asyncpg.connect(admin, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await admin_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    finally:
        await admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLOOP_")}
    env.update(
        HOTLOOP_DATABASE_URL=database_url,
        HOTLOOP_SECRET_KEY=SECRET_KEY,
        HOTLOOP_LOG_LEVEL="warning",
        HOTLOOP_MODE="production",
        PYTHONUNBUFFERED="1",
    )
    return env


def hotloop_command() -> list[str]:
    script = Path(sys.executable).parent / "hotloop"
    fallback = [sys.executable, "-c", "from hotloop.cli import main; main()"]
    return [str(script)] if script.exists() else fallback


@dataclass
class Variant:
    name: str
    role: str | None  # None = the baseline app

    def command(self, port: int) -> list[str]:
        if self.role is None:
            return [
                sys.executable,
                str(REPO / "bench" / "baseline_app.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]
        return [*hotloop_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--role", self.role]


VARIANTS = [Variant("baseline", None), Variant("hotloop-web", "web"), Variant("hotloop-all", "all")]


def prepare_hotloop(env: dict[str, str], log: Path) -> None:
    """`hotloop source add` also migrates the fresh database."""
    with log.open("ab") as out:
        subprocess.run(
            [*hotloop_command(), "source", "add", SOURCE, "--kind", "generic", "--secret", SOURCE_SECRET],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=True,
        )


@contextlib.asynccontextmanager
async def running_server(
    command: list[str], env: dict[str, str], port: int, log: Path
) -> AsyncIterator[subprocess.Popen[bytes]]:
    out = log.open("ab")
    proc = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        await wait_ready(proc, f"http://127.0.0.1:{port}/healthz", log)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        out.close()


async def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server not ready after {STARTUP_TIMEOUT:.0f}s:\n{tail(log)}")


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


async def database_counts(database_url: str, hotloop: bool) -> dict[str, Any]:
    """Rows written, read straight from the database (checks the load really landed)."""
    from sqlalchemy import text

    from storage.db import create_engine_for

    engine = create_engine_for(database_url)
    try:
        async with engine.connect() as conn:
            if not hotloop:
                return {
                    "rows": (await conn.execute(text("SELECT count(*) FROM bench_raw_webhook"))).scalar_one()
                }
            counts: dict[str, Any] = {}
            for table in ("feedback", "alert", "alertevent", "outbox"):
                counts[table] = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            rows = await conn.execute(text("SELECT status, count(*) FROM outbox GROUP BY status"))
            counts["outbox_by_status"] = {status: n for status, n in rows.all()}
            return counts
    except Exception as exc:  # a count is a nice-to-have, never a reason to lose the figures
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        await engine.dispose()


@dataclass
class RunFigures:
    db: str
    variant: str
    role: str | None
    accepted_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    accepted: int
    errors: int
    statuses: dict[str, int]
    window_s: float
    warmup_sent: int
    server_peak_rss_mb: float
    server_cpu_per_req_ms: float
    server_cpu_util: float  # cores used by the server during the window
    client_cpu_util: float  # cores used by the load generator
    other_cpu_util: float  # cores used by anything else on the machine during the window
    mix: dict[str, int]
    rows: dict[str, Any]
    rounds_accepted_per_s: list[float] = field(default_factory=list)  # every round; this row is the median


def figures(db: str, variant: Variant, result: LoadResult, rows: dict[str, Any]) -> RunFigures:
    lat = sorted(result.latencies_ms)
    return RunFigures(
        db=db,
        variant=variant.name,
        role=variant.role,
        accepted_per_s=result.accepted / result.window_s,
        p50_ms=percentile(lat, 50),
        p90_ms=percentile(lat, 90),
        p99_ms=percentile(lat, 99),
        max_ms=lat[-1] if lat else float("nan"),
        accepted=result.accepted,
        errors=result.errors,
        statuses=result.statuses,
        window_s=result.window_s,
        warmup_sent=result.warmup_sent,
        server_peak_rss_mb=result.server_peak_rss_mb,
        server_cpu_per_req_ms=1000 * result.server_cpu_s / max(result.sent, 1),
        server_cpu_util=result.server_cpu_s / result.window_s,
        client_cpu_util=result.client_cpu_s / result.window_s,
        other_cpu_util=max(0.0, result.machine_busy_s - result.server_cpu_s - result.client_cpu_s)
        / result.window_s,
        mix=asdict(result.mix),
        rows=rows,
    )


async def bench_variant(
    db: str, variant: Variant, args: argparse.Namespace, workdir: Path, profile_to: Path | None = None
) -> RunFigures:
    async with fresh_database(db, workdir, args.pg_admin_url) as url:
        env = server_env(url)
        log = workdir / f"{db}-{variant.name}{'-profile' if profile_to else ''}.log"
        if variant.role is not None:
            prepare_hotloop(env, log)
        port = free_port()
        async with running_server(variant.command(port), env, port, log) as proc:
            spy = start_py_spy(proc.pid, args, profile_to) if profile_to else None
            try:
                result = await run_load(
                    f"http://127.0.0.1:{port}",
                    psutil.Process(proc.pid),
                    seconds=args.seconds,
                    warmup=args.warmup,
                    concurrency=args.concurrency,
                    tag=f"{db}-{variant.name}-{secrets.token_hex(3)}",
                )
            finally:
                if spy is not None:
                    stop_py_spy(spy)
            rows = await database_counts(url, hotloop=variant.role is not None)
        return figures(db, variant, result, rows)


# ---------------------------------------------------------------------------------------------
# Profiling (py-spy, attached to the running server)


def start_py_spy(pid: int, args: argparse.Namespace, out: Path | None) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    # a little longer than warm-up + window; --gil: only the thread running Python code (on-CPU time)
    duration = int(args.warmup + args.seconds + 1)
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "200",
            "--format",
            "raw",
            "--gil",
            "--duration",
            str(duration),
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_py_spy(spy: subprocess.Popen[bytes]) -> None:
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=10)


def summarize_profile(collapsed: Path, top: int = 25) -> dict[str, list[tuple[str, float]]]:
    """Self and inclusive share of samples per function, from py-spy's collapsed stacks."""
    total = 0
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    buckets: defaultdict[str, int] = defaultdict(int)
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f.strip() for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += count
        self_time[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
        buckets[_bucket(frames)] += count
    if not total:
        return {"self": [], "inclusive": [], "buckets": []}

    def share(counter: Any) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {
        "self": share(self_time),
        "inclusive": share(inclusive),
        "buckets": share(Counter(buckets)),
        "samples": [("total", float(total))],
    }


_BUCKETS = [  # first match from the leaf up decides where a sample's time goes
    ("json / encoding", ("json/", "jsonable_encoder", "_json_serializer", "orjson")),
    ("pydantic validation", ("pydantic", "model_validate", "model_dump")),
    ("structlog / prometheus", ("structlog", "prometheus_client")),
    ("sqlite driver (aiosqlite thread)", ("aiosqlite", "sqlite3")),
    ("asyncpg driver", ("asyncpg",)),
    ("sqlalchemy ORM (session, unit of work)", ("sqlalchemy/orm",)),
    ("sqlalchemy core / compile / pool", ("sqlalchemy",)),
    ("sqlmodel", ("sqlmodel",)),
    ("hotloop code", ("bot/", "adapters/", "storage/", "jobs/")),
    ("http server (uvicorn/starlette/fastapi)", ("uvicorn", "starlette", "fastapi", "httptools", "h11")),
    ("asyncio / uvloop", ("asyncio", "uvloop", "threading", "concurrent/futures", "queue.py")),
]


def _bucket(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, markers in _BUCKETS:
            if any(marker in frame for marker in markers):
                return name
    return "other"


# ---------------------------------------------------------------------------------------------
# Report


def machine_info(dbs: list[str], pg_admin_url: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
    }
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:  # the machine's, not the repo's
        for line in cpuinfo.read().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    info["loadavg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    if "postgres" in dbs:
        import asyncpg

        async def version() -> str:
            conn = await asyncpg.connect(
                pg_admin_url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10
            )
            try:
                return str(await conn.fetchval("SHOW server_version"))
            finally:
                await conn.close()

        with contextlib.suppress(Exception):
            info["postgresql"] = asyncio.run(version())
    return info


def table(rows: list[RunFigures]) -> str:
    head = (
        f"{'db':<9}{'variant':<13}{'accepted/s':>11}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'RSS MB':>8}{'srv CPU':>9}{'ms CPU/req':>11}{'vs base':>9}"
    )
    lines = [head, "-" * len(head)]
    base = {r.db: r for r in rows if r.role is None}
    for r in rows:
        ratio = (
            r.accepted_per_s / base[r.db].accepted_per_s
            if r.db in base and base[r.db].accepted_per_s
            else None
        )
        lines.append(
            f"{r.db:<9}{r.variant:<13}{r.accepted_per_s:>11.0f}{r.p50_ms:>9.1f}{r.p90_ms:>9.1f}"
            f"{r.p99_ms:>9.1f}{r.errors:>8}{r.server_peak_rss_mb:>8.0f}{r.server_cpu_util:>9.2f}"
            f"{r.server_cpu_per_req_ms:>11.2f}{'' if ratio is None else f'{ratio:.2f}':>9}"
        )
    return "\n".join(lines)


def markdown(
    rows: list[RunFigures],
    machine: dict[str, Any],
    args: argparse.Namespace,
    command: str,
    profiles: dict[str, dict[str, Any]],
) -> str:
    base = {r.db: r for r in rows if r.role is None}
    out = [
        "# Ingest benchmark",
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine.get('nproc')} CPUs ({machine.get('cpu', '?')}), "
        f"{machine.get('memory_gb')} GB RAM, {machine.get('platform')}; "
        f"load average at start {machine.get('loadavg_at_start')}",
        f"- python {machine.get('python')}; SQLite {machine.get('sqlite')}"
        + (f"; PostgreSQL {machine['postgresql']}" if "postgresql" in machine else ""),
        f"- command: `{command}`",
        f"- {args.repeat} round(s) per variant, interleaved; each row is its variant's median round",
        f"- load: {args.concurrency} keep-alive HTTP/1.1 connections (bench/loadgen.py), "
        f"{args.warmup:g} s warm-up then {args.seconds:g} s measured; mix 60% detractors (alert), "
        "20% promoters asking contact (alert), 20% happy (no alert); every id unique",
        "- the load generator runs on the same machine and competes with the server for the CPUs "
        "(see `client CPU`); `other CPU` is everything else the machine ran during the window "
        "(other processes' load makes every figure lower and noisier)",
        "",
        "| db | variant | accepted/s | p50 ms | p90 ms | p99 ms | errors | server peak RSS MB "
        "| server CPU (cores) | server CPU ms/req | client CPU (cores) | other CPU (cores) | × baseline |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        b = base.get(r.db)
        ratio = f"{r.accepted_per_s / b.accepted_per_s:.2f}" if b and b.accepted_per_s else "–"
        out.append(
            f"| {r.db} | {r.variant} | {r.accepted_per_s:,.0f} | {r.p50_ms:.1f} | {r.p90_ms:.1f} | "
            f"{r.p99_ms:.1f} | {r.errors} | {r.server_peak_rss_mb:.0f} | {r.server_cpu_util:.2f} | "
            f"{r.server_cpu_per_req_ms:.2f} | {r.client_cpu_util:.2f} | {r.other_cpu_util:.2f} | {ratio} |"
        )
    out += ["", "## Against the goals", ""]
    for r in rows:
        if r.role is None:
            continue
        b = base.get(r.db)
        factor = r.accepted_per_s / b.accepted_per_s if b and b.accepted_per_s else float("nan")
        rate_goal = (
            f"{'meets' if r.accepted_per_s >= GOAL_RATE else 'MISSES'} ≥ {GOAL_RATE:,.0f}/s"
            if r.db == "sqlite"
            else "no absolute goal on PostgreSQL"
        )
        out.append(
            f"- {r.db} {r.variant}: {r.accepted_per_s:,.0f}/s — {rate_goal}; "
            f"{factor:.2f} × baseline — {'meets' if factor >= GOAL_RATIO else 'MISSES'} ≥ {GOAL_RATIO}"
            f" (rounds: {', '.join(f'{x:,.0f}' for x in r.rounds_accepted_per_s)}/s)"
        )
    out += [
        "",
        "Why hotloop can beat its baseline: the baseline commits once per webhook, as the issue defines",
        "it; hotloop's group commit (bot/ingest/queue.py) puts every webhook waiting at that moment into",
        "one transaction with one INSERT per table (bot/ingest/batch.py), and answers each only after",
        "that commit. `hotloop-all` also delivers every card (to the log chat) in the same process:",
        "`outbox_by_status` below shows how much of it kept up.",
    ]
    out += ["", "## Rows written (checked in the database after the run)", ""]
    for r in rows:
        out.append(
            f"- {r.db} {r.variant}: {json.dumps(r.rows)}; statuses {json.dumps(r.statuses)}; "
            f"mix sent {json.dumps(r.mix)}"
        )
    for db, summary in profiles.items():
        out += ["", f"## Profile: hotloop-{args.profile_role} on {db} (py-spy, share of on-CPU samples)", ""]
        out += ["| where the time goes | % |", "|---|---:|"]
        out += [f"| {name} | {pct} |" for name, pct in summary.get("buckets", [])]
        out += ["", "| top functions, inclusive | % |", "|---|---:|"]
        out += [f"| `{name}` | {pct} |" for name, pct in summary.get("inclusive", [])[:20]]
        out += ["", "| top functions, self | % |", "|---|---:|"]
        out += [f"| `{name}` | {pct} |" for name, pct in summary.get("self", [])[:15]]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per server")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--repeat", type=int, default=None,
        help="rounds of every variant, interleaved; the median round is reported (default 3, --quick 1)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="3 s windows, 1 s warm-up; writes ingest-quick.*"
    )
    parser.add_argument(
        "--profile", action="store_true", help="one extra hotloop run per db under py-spy"
    )
    parser.add_argument(
        "--profile-role", choices=["web", "all"], default="web", help="the role profiled by --profile"
    )
    parser.add_argument(
        "--variants",
        default="baseline,hotloop-web,hotloop-all",
        help="comma-separated subset of baseline,hotloop-web,hotloop-all",
    )
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("BENCH_PG_ADMIN_URL", PG_ADMIN_URL),
        help="a PostgreSQL URL allowed to CREATE/DROP DATABASE",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup = min(args.seconds, 3.0), 1.0
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if not 1 <= args.repeat <= 9:
        parser.error("--repeat in [1, 9]")
    if not 0 < args.seconds <= 600 or not 0 <= args.warmup <= 60 or not 1 <= args.concurrency <= 1024:
        parser.error("--seconds in (0, 600], --warmup in [0, 60], --concurrency in [1, 1024]")
    return args


async def _median_rounds(
    db: str, variants: list[Variant], args: argparse.Namespace, workdir: Path
) -> list[RunFigures]:
    """Rounds interleave the variants (baseline, web, all, baseline, …) so a slow spell of this shared
    machine hits every variant alike; each variant's median round is its figure."""
    runs: dict[str, list[RunFigures]] = {v.name: [] for v in variants}
    for round_no in range(1, args.repeat + 1):
        for variant in variants:
            print(f"[{db}] {variant.name} round {round_no}/{args.repeat}: {args.warmup:g}s warm-up + "
                  f"{args.seconds:g}s ...", flush=True)
            figs = await bench_variant(db, variant, args, workdir)
            print(f"[{db}] {variant.name}: {figs.accepted_per_s:,.0f} accepted/s, p99 {figs.p99_ms:.1f} ms, "
                  f"{figs.errors} errors", flush=True)
            runs[variant.name].append(figs)
    medians = []
    for done in runs.values():
        ranked = sorted(done, key=lambda r: r.accepted_per_s)
        median = ranked[len(ranked) // 2]
        median.rounds_accepted_per_s = [round(r.accepted_per_s, 1) for r in done]
        medians.append(median)
    return medians


async def main_async(
    args: argparse.Namespace, workdir: Path
) -> tuple[list[RunFigures], dict[str, dict[str, Any]]]:
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    wanted = {v.strip() for v in args.variants.split(",") if v.strip()}
    rows: list[RunFigures] = []
    profiles: dict[str, dict[str, Any]] = {}
    for db in dbs:
        rows += await _median_rounds(db, [v for v in VARIANTS if v.name in wanted], args, workdir)
        if args.profile:
            suffix = "-quick" if args.quick else ""
            role = args.profile_role
            collapsed = RESULTS / f"ingest-profile-{db}{'' if role == 'web' else '-' + role}{suffix}.txt"
            print(f"[{db}] hotloop-{role} under py-spy ...", flush=True)
            await bench_variant(db, Variant(f"hotloop-{role}", role), args, workdir, profile_to=collapsed)
            if collapsed.exists():
                profiles[db] = summarize_profile(collapsed)
                collapsed.with_suffix(".json").write_text(
                    json.dumps(profiles[db], indent=2) + "\n"
                )
            else:
                print(f"[{db}] py-spy wrote nothing (is it installed? `pip install py-spy`)", flush=True)
    return rows, profiles


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    command = "python bench/ingest.py " + " ".join(sys.argv[1:] if argv is None else argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    machine = machine_info(dbs, args.pg_admin_url)
    with tempfile.TemporaryDirectory(prefix="hotloop-bench-") as tmp:
        try:
            rows, profiles = asyncio.run(main_async(args, Path(tmp)))
        except Exception:
            for log in sorted(Path(tmp).glob("*.log")):
                print(f"--- {log.name}\n{tail(log)}", file=sys.stderr)
            raise
    print()
    print(table(rows))
    stem = "ingest-quick" if args.quick else "ingest"
    doc = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine,
        "settings": {
            "seconds": args.seconds,
            "warmup": args.warmup,
            "concurrency": args.concurrency,
            "dbs": dbs,
        },
        "goals": {"sqlite_accepted_per_s": GOAL_RATE, "ratio_to_baseline": GOAL_RATIO},
        "results": [asdict(r) for r in rows],
        "profiles": profiles,
    }
    (RESULTS / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(rows, machine, args, command, profiles))
    print(f"\nwrote {RESULTS / (stem + '.json')} and {RESULTS / (stem + '.md')}")


if __name__ == "__main__":
    main()
