"""Crash test: `hotloop serve` killed with SIGKILL at random moments while signed webhooks pour in.

    /work/venv/bin/python bench/crash.py [--db sqlite|postgres|both] [--kills 10] [--webhooks 3000]
                                         [--concurrency 16] [--seed 7] [--skip-leases]

For each database kind, on a fresh database (a temp SQLite file, or a new PostgreSQL database
`hotloop_crash_<rand>` dropped afterwards):

1. a `FakeSlackApi` (tests/fakes/slack_api.py) runs in this process; the server gets
   HOTLOOP_SLACK_API_URL pointing at it, `hotloop source add crash --kind generic` registers the sender
   and `hotloop config import` sets the default team `support` to post in channel C0CRASH;
2. `hotloop serve --role all` runs as a SUBPROCESS; `--concurrency` senders post `--webhooks` signed
   generic webhooks with unique ids (plus ~5 % repeats of ids already sent, byte-identical bodies);
   a request that fails because the server is down is sent again later, as a real sender would;
3. `--kills` times, at a random moment, the server gets SIGKILL and is restarted at once;
4. then everything is drained: wait until no outbox row is pending (rows a killed process had leased
   come back after the worker's 30-s lease; `--skip-leases` makes only THOSE rows due at once, as if
   the clock had moved on — rows leased by the live process are never touched);
5. checks, from the database and the fake's record of every Slack call:
   - lost: an id answered 2xx without exactly one Feedback row, or that should alert without exactly
     one Alert (or whose Alert key differs from the one the server answered) — must be 0;
   - every alert's key appears in a `chat.postMessage` card or digest in C0CRASH (Slack answered ok);
   - duplicates: a key posted as a card/digest more than once. The only acceptable cause is a kill
     between Slack's answer and our commit (CardRef + outbox row); each duplicate is classified by
     whether a kill happened within `ALLOWED_WINDOW_S` after the first post was answered;
   - repairs: `chat.update` calls (nothing else updates cards here: no clicks, no SLA deadline is
     reached) = rows retaken after a kill whose CardRef was already saved, refreshed instead of re-posted;
   - 500s: must be 0.

Results: a table on stdout, bench/results/crash.json and bench/results/crash.md (`--out-dir` elsewhere).
`tests/system/test_crash.py` runs a short variant (≈300 webhooks, 2 kills) of the same code.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from adapters.sources.generic import sign  # noqa: E402
from tests.fakes.slack_api import FakeSlackApi  # noqa: E402

RESULTS = REPO / "bench" / "results"
SECRET_KEY = "crash-secret-key-0123456789abcdef"
SIGNING_SECRET = "crash-slack-signing-secret-0123456789"
SOURCE_SECRET = "crash-source-secret-0123456789abcdef"
SOURCE = "crash"
CHANNEL = "C0CRASH"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
LEASE_SECONDS = 30  # jobs/delivery.py DeliveryWorker lease_seconds
ALLOWED_WINDOW_S = 2.0  # a duplicate is "Slack answered, then we were killed before committing" if a kill
# happened within this many seconds after the first post's answer
STARTUP_TIMEOUT = 60.0
REQUEST_TIMEOUT = 20.0
KEY_RE = re.compile(r"HA-\d+")
SYS_CARD_RE = re.compile(r"^\S+ (SYS-\d+) · ")  # "🔴 SYS-3 · Open · …": a systemic issue's own card
CONFIG_YAML = f"""default_team: support
teams:
  - name: support
    slack_channel: {CHANNEL}
"""

COMPLAINTS = [
    "Waited 40 minutes and nobody came to the table. The manager was rude when I asked.",
    "Charged twice for the same order, still no refund after two weeks.",
    "The room was dirty and the air conditioning did not work.",
    "Delivery arrived cold and an hour late. Unacceptable.",
]
PRAISE = ["Great service, thank you!", "Fast and friendly, see you next time.", ""]


# ---------------------------------------------------------------------------------------------
# Payloads


def make_payload(rng: random.Random, external_id: str) -> tuple[bytes, bool]:
    """(body, should_alert): 60 % detractors, 20 % promoters asking to be contacted, 20 % happy."""
    roll = rng.random()
    body: dict[str, Any] = {
        "id": external_id,
        "submitted_at": datetime.now(UTC).isoformat(),
        "customer": {"id": f"c-{rng.randrange(100_000)}", "name": "Dana Scully", "email": "dana@example.com"},
        "attributes": {"location": rng.choice(["017", "042", "101"]), "channel": "online"},
    }
    if roll < 0.6:
        body.update(
            nps=rng.randint(0, 6),
            contact_requested=rng.random() < 0.3,
            comment=rng.choice(COMPLAINTS),
            answers=[
                {"question": "Staff friendliness", "value": rng.randint(1, 3), "scale_min": 1, "scale_max": 5}
            ],
        )
        alert = True
    elif roll < 0.8:
        body.update(nps=rng.randint(9, 10), contact_requested=True, comment=PRAISE[0])
        alert = True
    else:
        body.update(
            nps=rng.randint(9, 10),
            contact_requested=False,
            comment=rng.choice(PRAISE),
            answers=[{"question": "Staff friendliness", "value": 5, "scale_min": 1, "scale_max": 5}],
        )
        alert = False
    return json.dumps(body, separators=(",", ":")).encode(), alert


# ---------------------------------------------------------------------------------------------
# Databases and the server process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _asyncpg_admin(pg_admin_url: str) -> str:
    return pg_admin_url.replace("postgresql+asyncpg://", "postgresql://")


@contextlib.contextmanager
def fresh_database(kind: str, workdir: Path, pg_admin_url: str) -> Iterator[str]:
    if kind == "sqlite":
        path = workdir / f"crash-{secrets.token_hex(4)}.db"
        try:
            yield f"sqlite+aiosqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import asyncpg  # type: ignore[import-untyped]

    name = f"hotloop_crash_{secrets.token_hex(4)}"
    admin = _asyncpg_admin(pg_admin_url)

    async def admin_sql(sql: str) -> None:
        conn = await asyncpg.connect(admin, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    finally:
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def hotloop_command() -> list[str]:
    return [sys.executable, "-c", "from hotloop.cli import main; main()"]


def server_env(database_url: str, slack: FakeSlackApi) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLOOP_")}
    env.update(
        HOTLOOP_DATABASE_URL=database_url,
        HOTLOOP_SECRET_KEY=SECRET_KEY,
        HOTLOOP_MODE="production",
        HOTLOOP_LOG_LEVEL="warning",
        HOTLOOP_LOG_JSON="false",
        HOTLOOP_SLACK_BOT_TOKEN=slack.token,
        HOTLOOP_SLACK_SIGNING_SECRET=SIGNING_SECRET,
        HOTLOOP_SLACK_API_URL=slack.url,  # ends with "/": slack_sdk appends the method name
        HOTLOOP_DELIVERY_POLL_SECONDS="0.2",
        PYTHONUNBUFFERED="1",
    )
    return env


def prepare(env: dict[str, str], workdir: Path, log: Path) -> None:
    """`hotloop source add` (which also migrates the fresh database) and `hotloop config import`."""
    config = workdir / "crash-config.yaml"
    config.write_text(CONFIG_YAML)
    with log.open("ab") as out:
        for args in (
            ["source", "add", SOURCE, "--kind", "generic", "--secret", SOURCE_SECRET],
            ["config", "import", str(config)],
        ):
            subprocess.run(
                [*hotloop_command(), *args],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=120,
                check=True,
            )


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Server:
    """The `hotloop serve` subprocess: start, SIGKILL, restart, stop."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_wall: datetime = datetime.now(UTC)  # when the current process was started
        self.starts = 0

    async def start(self) -> None:
        self.started_wall = datetime.now(UTC)
        with self.log.open("ab") as out:
            out.write(f"\n----- start #{self.starts + 1} at {self.started_wall.isoformat()} -----\n".encode())
            self.proc = subprocess.Popen(
                [
                    *hotloop_command(),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--role",
                    "all",
                ],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        await self._wait_ready()

    async def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}:\n{tail(self.log)}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{self.port}/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise RuntimeError(f"server not ready after {STARTUP_TIMEOUT:.0f}s:\n{tail(self.log)}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# Load with kills


@dataclass
class Sent:
    external_id: str
    body: bytes
    should_alert: bool
    tries: int = 0


@dataclass
class LoadRecord:
    requests: int = 0  # HTTP attempts, retries after a connection failure included
    statuses: Counter[str] = field(default_factory=Counter)
    accepted: dict[str, list[tuple[int, str | None]]] = field(default_factory=dict)  # id → [(status, alert)]
    should_alert: dict[str, bool] = field(default_factory=dict)
    unaccepted: set[str] = field(default_factory=set)  # never got a 2xx (gave up after MAX_TRIES)
    kill_times: list[float] = field(default_factory=list)  # time.monotonic(), as in FakeSlackApi calls
    repeats: int = 0
    resends: int = 0  # sends again after a connection error / timeout


MAX_TRIES = 30


async def run_load(
    server: Server,
    *,
    webhooks: int,
    kills: int,
    concurrency: int,
    rng: random.Random,
    tag: str,
    record: LoadRecord,
) -> None:
    queue: asyncio.Queue[Sent] = asyncio.Queue()
    originals: list[Sent] = []
    plan: list[Sent] = []
    for n in range(webhooks):
        body, alert = make_payload(rng, f"{tag}-{n}")
        item = Sent(f"{tag}-{n}", body, alert)
        originals.append(item)
        plan.append(item)
        record.should_alert[item.external_id] = alert
        if n > 10 and rng.random() < 0.05:  # a repeat of an earlier id: the same bytes again
            earlier = rng.choice(originals[:-1])
            plan.append(Sent(earlier.external_id, earlier.body, earlier.should_alert))
            record.repeats += 1
    for item in plan:
        queue.put_nowait(item)
    total = len(plan)
    finished = 0  # items done for good (2xx, 4xx/5xx, or given up)
    outstanding = total
    all_done = asyncio.Event()

    def _reached(point: float) -> bool:
        return finished >= point or all_done.is_set()

    kill_points = sorted(rng.uniform(0.05, 0.95) * total for _ in range(kills))
    progress = asyncio.Condition()

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal finished, outstanding
        while True:
            item = await queue.get()
            item.tries += 1
            headers = {
                "content-type": "application/json",
                "x-hotloop-signature": sign(SOURCE_SECRET, item.body, int(time.time())),
            }
            record.requests += 1
            try:
                reply = await client.post(f"/webhooks/{SOURCE}", content=item.body, headers=headers)
            except httpx.HTTPError as exc:  # server killed/restarting: a real sender retries later
                record.statuses[type(exc).__name__] += 1
                if item.tries < MAX_TRIES:
                    record.resends += 1
                    await asyncio.sleep(0.1 + 0.2 * rng.random())
                    queue.put_nowait(item)
                    continue
                record.unaccepted.add(item.external_id)
            else:
                record.statuses[str(reply.status_code)] += 1
                if 200 <= reply.status_code < 300:
                    alert = reply.json().get("alert")
                    record.accepted.setdefault(item.external_id, []).append((reply.status_code, alert))
                elif reply.status_code >= 500 and item.tries < MAX_TRIES:  # counted; sent again like a sender
                    record.resends += 1
                    queue.put_nowait(item)
                    continue
                else:
                    record.unaccepted.add(item.external_id)
            async with progress:
                finished += 1
                outstanding -= 1
                progress.notify_all()
                if outstanding == 0:
                    all_done.set()

    async def killer() -> None:
        for point in kill_points:
            async with progress:
                await progress.wait_for(partial(_reached, point))
            await asyncio.sleep(rng.uniform(0.0, 0.4))  # a random moment, not a request boundary
            server.kill()
            record.kill_times.append(time.monotonic())
            await server.start()

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}", limits=limits, timeout=httpx.Timeout(REQUEST_TIMEOUT)
    ) as client:
        senders = [asyncio.create_task(sender(client)) for _ in range(concurrency)]
        killing = asyncio.create_task(killer())
        await all_done.wait()
        await killing  # kills left when the load ended happen during delivery of the backlog
        for task in senders:
            task.cancel()
        await asyncio.gather(*senders, return_exceptions=True)


# ---------------------------------------------------------------------------------------------
# Drain and analysis


async def pending_rows(database_url: str) -> int:
    from sqlalchemy import func, select
    from sqlmodel import col

    from storage.db import create_engine_for, session_factory
    from storage.models import Outbox

    engine = create_engine_for(database_url)
    try:
        async with session_factory(engine)() as session:
            query = select(func.count()).select_from(Outbox).where(col(Outbox.status) == "pending")
            return int((await session.execute(query)).scalar_one())
    finally:
        await engine.dispose()


async def expire_dead_leases(database_url: str, live_since: datetime) -> int:
    """Make due at once the pending rows leased by a process that was killed.

    Their lease was taken before the live process started, so next_attempt_at < live_since + lease.
    Never touches the live process's leases."""
    from sqlalchemy import update
    from sqlmodel import col

    from storage.db import create_engine_for, session_factory, transaction
    from storage.models import Outbox

    now = datetime.now(UTC)
    limit = live_since + timedelta(seconds=LEASE_SECONDS - 1)
    engine = create_engine_for(database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            result = await session.execute(
                update(Outbox)
                .where(
                    col(Outbox.status) == "pending",
                    col(Outbox.next_attempt_at) > now,
                    col(Outbox.next_attempt_at) < limit,
                )
                .values(next_attempt_at=now)
            )
            return int(getattr(result, "rowcount", 0) or 0)
    finally:
        await engine.dispose()


async def drain(database_url: str, server: Server, *, timeout: float, skip_leases: bool) -> float:
    started = time.monotonic()
    expired_once = False
    while True:
        pending = await pending_rows(database_url)
        if pending == 0:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{pending} outbox rows still pending after {timeout:.0f}s")
        if skip_leases and not expired_once:
            await expire_dead_leases(database_url, server.started_wall)
            expired_once = True
        await asyncio.sleep(0.5)


@dataclass
class DbRows:
    feedback: dict[str, int]  # external id → rows
    alerts: dict[str, list[str]]  # external id → alert keys
    outbox: dict[str, int]  # status → rows
    failed: list[dict[str, Any]]
    retaken_posts: int  # card.post rows attempted more than once


async def read_rows(database_url: str) -> DbRows:
    from sqlalchemy import select
    from sqlmodel import col

    from storage.db import create_engine_for, session_factory
    from storage.models import Alert, Feedback, Outbox, Source

    engine = create_engine_for(database_url)
    try:
        async with session_factory(engine)() as session:
            source = (await session.execute(select(Source).where(col(Source.name) == SOURCE))).scalar_one()
            feedback: Counter[str] = Counter()
            by_id: dict[int, str] = {}
            for fid, ext in (
                await session.execute(
                    select(col(Feedback.id), col(Feedback.external_id)).where(
                        col(Feedback.source_id) == source.id
                    )
                )
            ).all():
                feedback[ext] += 1
                by_id[fid or 0] = ext
            alerts: dict[str, list[str]] = defaultdict(list)
            for fid, key in (await session.execute(select(col(Alert.feedback_id), col(Alert.key)))).all():
                alerts[by_id.get(fid, f"?feedback {fid}")].append(str(key))
            outbox: Counter[str] = Counter()
            failed: list[dict[str, Any]] = []
            retaken = 0
            for row in (await session.execute(select(Outbox))).scalars():
                outbox[row.status] += 1
                if row.status == "failed":
                    failed.append(
                        {
                            "id": row.id,
                            "kind": row.kind,
                            "alert_id": row.alert_id,
                            "error": (row.last_error or "")[:300],
                        }
                    )
                if row.kind == "card.post" and row.attempts > 1:
                    retaken += 1
            return DbRows(dict(feedback), dict(alerts), dict(outbox), failed, retaken)
    finally:
        await engine.dispose()


@dataclass
class CrashResult:
    db: str
    webhooks: int  # unique ids
    sent: int  # unique ids + repeats (what a sender meant to deliver)
    requests: int  # HTTP attempts, resends after connection failures included
    repeats: int
    resends: int
    accepted: int  # unique ids that got a 2xx at least once
    unaccepted: int
    lost: int
    lost_ids: list[str]
    wrong_alerts: list[str]  # accepted ids with a missing/extra alert, or a key differing from the answer
    alerts: int
    cards_missing: int
    missing_keys: list[str]
    duplicates: int  # keys posted as a card/digest more than once (extra posts counted)
    duplicate_keys: list[str]
    duplicates_in_allowed_window: int
    duplicates_unexplained: int
    repairs: int  # chat.update calls: a retaken row whose CardRef was saved refreshed the card
    retaken_card_posts: int
    kills: int
    restarts: int
    status_500: int
    statuses: dict[str, int]
    outbox: dict[str, int]
    failed_rows: list[dict[str, Any]]
    slack_posts: int
    digests: int
    load_seconds: float
    drain_seconds: float
    skip_leases: bool

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.status_500 == 0
            and not self.wrong_alerts
            and self.cards_missing == 0
            and self.duplicates_unexplained == 0
            and not self.failed_rows
        )


def card_posts(slack: FakeSlackApi) -> list[tuple[float, list[str], bool]]:
    """(answered at, keys, is_digest) for every successful card or digest post in CHANNEL."""
    out = []
    for call in slack.calls("chat.postMessage"):
        if (
            call.status != 200
            or call.error
            or call.args.get("channel") != CHANNEL
            or call.args.get("thread_ts")
        ):
            continue
        text = str(call.args.get("text", "")) + json.dumps(call.args.get("blocks", []))
        keys = sorted(set(KEY_RE.findall(text)))
        if systemic := SYS_CARD_RE.match(text):  # it lists its children: no post of THEIR cards
            keys = [systemic[1]]
        out.append((call.at, keys, len(keys) > 1))
    return out


def analyse(
    db: str,
    record: LoadRecord,
    rows: DbRows,
    slack: FakeSlackApi,
    *,
    webhooks: int,
    kills: int,
    restarts: int,
    load_seconds: float,
    drain_seconds: float,
    skip_leases: bool,
) -> CrashResult:
    lost = sorted(i for i in record.accepted if rows.feedback.get(i, 0) != 1)
    wrong: list[str] = []
    for ext, answers in record.accepted.items():
        keys = rows.alerts.get(ext, [])
        answered = {a for _, a in answers}
        expected = 1 if record.should_alert[ext] else 0
        if (
            len(keys) != expected
            or len(answered) != 1
            or (keys and answered != {keys[0]})
            or (not keys and answered != {None})
        ):
            wrong.append(f"{ext}: db alerts {keys}, answered {sorted(map(str, answered))}")
    all_keys = sorted(k for ks in rows.alerts.values() for k in ks)
    posts = card_posts(slack)
    posted_at: dict[str, list[float]] = defaultdict(list)
    for at, keys, _digest in posts:
        for key in keys:
            posted_at[key].append(at)
    missing = [k for k in all_keys if k not in posted_at]
    dup_keys = sorted(k for k, times in posted_at.items() if len(times) > 1)
    extra = sum(len(posted_at[k]) - 1 for k in dup_keys)
    allowed = 0
    for key in dup_keys:
        first = min(posted_at[key])
        # one extra post, right after a kill that followed the first post's answer
        if len(posted_at[key]) == 2 and any(
            first <= t <= first + ALLOWED_WINDOW_S for t in record.kill_times
        ):
            allowed += 1
    status_500 = sum(n for s, n in record.statuses.items() if s.isdigit() and int(s) >= 500)
    return CrashResult(
        db=db,
        webhooks=webhooks,
        sent=webhooks + record.repeats,
        requests=record.requests,
        repeats=record.repeats,
        resends=record.resends,
        accepted=len(record.accepted),
        unaccepted=len(record.unaccepted - set(record.accepted)),
        lost=len(lost),
        lost_ids=lost[:50],
        wrong_alerts=wrong[:50],
        alerts=len(all_keys),
        cards_missing=len(missing),
        missing_keys=missing[:50],
        duplicates=extra,
        duplicate_keys=dup_keys[:50],
        duplicates_in_allowed_window=allowed,
        duplicates_unexplained=len(dup_keys) - allowed,
        repairs=len(slack.calls("chat.update")),
        retaken_card_posts=rows.retaken_posts,
        kills=len(record.kill_times),
        restarts=restarts,
        status_500=status_500,
        statuses=dict(sorted(record.statuses.items())),
        outbox=rows.outbox,
        failed_rows=rows.failed[:20],
        slack_posts=len(posts),
        digests=sum(1 for p in posts if p[2]),
        load_seconds=round(load_seconds, 1),
        drain_seconds=round(drain_seconds, 1),
        skip_leases=skip_leases,
    )


# ---------------------------------------------------------------------------------------------
# One run


async def _run(
    db: str,
    database_url: str,
    slack: FakeSlackApi,
    workdir: Path,
    *,
    webhooks: int,
    kills: int,
    concurrency: int,
    seed: int,
    skip_leases: bool,
    drain_timeout: float,
    log: Path,
) -> CrashResult:
    env = server_env(database_url, slack)
    await asyncio.to_thread(prepare, env, workdir, log)
    server = Server(env, free_port(), log)
    await server.start()
    record = LoadRecord()
    rng = random.Random(seed)
    started = time.monotonic()
    try:
        await run_load(
            server,
            webhooks=webhooks,
            kills=kills,
            concurrency=concurrency,
            rng=rng,
            tag=f"{db}-{seed}",
            record=record,
        )
        load_seconds = time.monotonic() - started
        drain_seconds = await drain(database_url, server, timeout=drain_timeout, skip_leases=skip_leases)
    finally:
        server.stop()
    rows = await read_rows(database_url)
    return analyse(
        db,
        record,
        rows,
        slack,
        webhooks=webhooks,
        kills=kills,
        restarts=server.starts - 1,
        load_seconds=load_seconds,
        drain_seconds=drain_seconds,
        skip_leases=skip_leases,
    )


def run_crash(
    db: str,
    *,
    webhooks: int,
    kills: int,
    concurrency: int = 16,
    seed: int = 7,
    skip_leases: bool = False,
    pg_admin_url: str = PG_ADMIN_URL,
    workdir: Path | None = None,
    drain_timeout: float | None = None,
) -> CrashResult:
    """One crash run on a fresh database of kind `db` ("sqlite" or "postgres"). Blocking (own event loop)."""
    timeout = drain_timeout if drain_timeout is not None else (60.0 if skip_leases else LEASE_SECONDS + 240.0)
    with contextlib.ExitStack() as stack:
        work = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hotloop-crash-")))
        log = work / f"server-{db}.log"
        database_url = stack.enter_context(fresh_database(db, work, pg_admin_url))
        slack = stack.enter_context(FakeSlackApi())
        try:
            return asyncio.run(
                _run(
                    db,
                    database_url,
                    slack,
                    work,
                    webhooks=webhooks,
                    kills=kills,
                    concurrency=concurrency,
                    seed=seed,
                    skip_leases=skip_leases,
                    drain_timeout=timeout,
                    log=log,
                )
            )
        except Exception as exc:
            raise RuntimeError(
                f"crash run on {db} failed: {exc}\n--- server log tail ---\n{tail(log, 60)}"
            ) from exc
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------------------------
# Report

COLUMNS = [
    ("db", "db"),
    ("sent", "sent"),
    ("accepted", "accepted"),
    ("lost", "lost"),
    ("duplicates", "dup cards"),
    ("duplicates_in_allowed_window", "dup: kill after answer"),
    ("repairs", "CardRef repairs"),
    ("cards_missing", "cards missing"),
    ("kills", "kills"),
    ("restarts", "restarts"),
    ("status_500", "500s"),
    ("alerts", "alerts"),
    ("digests", "digests"),
    ("load_seconds", "load s"),
    ("drain_seconds", "drain s"),
]


def table(results: list[CrashResult]) -> str:
    head = "| " + " | ".join(title for _, title in COLUMNS) + " | ok |"
    rule = "|" + "---|" * (len(COLUMNS) + 1)
    lines = [head, rule]
    for r in results:
        lines.append(
            "| "
            + " | ".join(str(getattr(r, name)) for name, _ in COLUMNS)
            + f" | {'yes' if r.ok else 'NO'} |"
        )
    return "\n".join(lines)


def write_results(results: list[CrashResult], args: argparse.Namespace, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(sys.argv),
        "machine": f"{os.cpu_count()} CPUs, {platform.platform()}",
        "python": platform.python_version(),
        "webhooks": args.webhooks,
        "kills": args.kills,
        "concurrency": args.concurrency,
        "seed": args.seed,
        "skip_leases": args.skip_leases,
    }
    (out_dir / "crash.json").write_text(
        json.dumps({"meta": meta, "runs": [asdict(r) for r in results]}, indent=2) + "\n"
    )
    lines = [
        "# Crash test",
        "",
        f"- date: {meta['date']}; machine: {meta['machine']}; python {meta['python']}",
        f"- command: `python {meta['command'].removeprefix(str(REPO) + '/')}`",
        f"- `hotloop serve --role all` as a subprocess, SIGKILLed {args.kills} times at random moments and "
        f"restarted; {args.webhooks} signed generic webhooks (unique ids, ~5 % byte-identical repeats), "
        f"{args.concurrency} concurrent senders that resend after a connection failure; Slack is a loopback "
        "FakeSlackApi in the bench process; drained until no outbox row is pending"
        + (
            " (leases of killed processes expired at once)"
            if args.skip_leases
            else " (rows leased by a killed process come back after the real 30-s lease)"
        ),
        "",
        table(results),
        "",
        "- **sent**: unique ids + repeats; **accepted**: unique ids answered 2xx; "
        "**lost**: accepted ids without exactly one Feedback row "
        "(and one Alert when one is due, with the key the server answered)",
        "- **dup cards**: extra card/digest posts of an alert key in the channel; "
        "**dup: kill after answer**: duplicated keys (one extra post) whose first post was answered "
        f"by Slack ≤ {ALLOWED_WINDOW_S:.0f} s before a kill "
        "(the one allowed cause: killed between Slack's answer and our commit)",
        "- **CardRef repairs**: `chat.update` calls — a row retaken after a kill whose CardRef was "
        "already saved refreshed the card instead of posting a second one",
        "",
        "## Details",
        "",
    ]
    for r in results:
        lines += [
            f"### {r.db}",
            "",
            f"- HTTP statuses (incl. connection errors while the server was down): "
            f"`{json.dumps(r.statuses)}`",
            f"- requests {r.requests} (resends {r.resends}); repeats {r.repeats}; "
            f"never accepted {r.unaccepted}",
            f"- outbox at the end: `{json.dumps(r.outbox)}`; card.post rows retaken after a kill: "
            f"{r.retaken_card_posts}",
            f"- Slack card/digest posts in {CHANNEL}: {r.slack_posts} ({r.digests} digests)",
            f"- duplicated keys: {r.duplicate_keys or 'none'}",
            f"- lost ids: {r.lost_ids or 'none'}; wrong alerts: {r.wrong_alerts or 'none'}; "
            f"missing cards: {r.missing_keys or 'none'}; failed outbox rows: {r.failed_rows or 'none'}",
            "",
        ]
    (out_dir / "crash.md").write_text("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--webhooks", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--skip-leases",
        action="store_true",
        help="make rows leased by killed processes due at once instead of after 30 s",
    )
    parser.add_argument("--pg-admin-url", default=os.environ.get("HOTLOOP_TEST_DATABASE_URL", PG_ADMIN_URL))
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results = []
    for kind in kinds:
        print(f"[crash] {kind}: {args.webhooks} webhooks, {args.kills} kills …", flush=True)
        result = run_crash(
            kind,
            webhooks=args.webhooks,
            kills=args.kills,
            concurrency=args.concurrency,
            seed=args.seed,
            skip_leases=args.skip_leases,
            pg_admin_url=args.pg_admin_url,
        )
        results.append(result)
        print(
            f"[crash] {kind}: lost {result.lost}, duplicates {result.duplicates}, 500s {result.status_500}, "
            f"restarts {result.restarts}",
            flush=True,
        )
    print(table(results))
    write_results(results, args, args.out_dir)
    print(f"wrote {args.out_dir / 'crash.json'} and {args.out_dir / 'crash.md'}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
