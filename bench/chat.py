"""Chat-side benchmarks: button ack latency, a burst to one rate-limited channel, Teams invoke round
trips and webhook→card latency at a steady rate — against a real `hotloop serve --role all` subprocess.

    /work/venv/bin/python bench/chat.py [--db sqlite|postgres] [--quick]
                                    [--only ack,claims,claims_outbox,burst,teams,steady,steady4,steady_low]
                                        [--rate 100] [--seconds 20]

Every scenario runs against the fakes as strict as the platforms (their defaults): Slack's per-method
tiers per workspace (chat.update Tier 3 ≈ 50/min, views.* Tier 4…), chat.postMessage about 1/s per
channel plus a workspace cap (tests/fakes/slack_tiers.py), Teams' per-conversation rate and 413 for an
oversized activity (tests/fakes/bot_connector.py).

Every scenario gets its own fresh database (temp SQLite file, or a new PostgreSQL database dropped
afterwards), its own server on a free loopback port, and its own loopback fakes running in THIS
process: `FakeSlackApi` (tests/fakes/slack_api.py; the server's HOTLOOP_SLACK_API_URL) and, for Teams,
`FakeBotConnector` (tests/fakes/bot_connector.py; the activities' serviceUrl). The team's Slack channel
is set with `hotloop config import`; alerts are created through signed generic webhooks.

- ack     200 signed Slack Claim clicks (block_actions, action_id alert.claim) from 200 different users,
          sent at once to POST /slack/events once the alerts' cards are at the fake; some alerts are
          clicked twice (races). HTTP answer latency p50/p90/p99/max (goal p99 < 300 ms; Slack gives up
          at 3 s), then: every clicked alert has exactly one owner (one of its clickers) and one
          `claimed` event, every race loser is told privately, unclicked alerts stay unowned.
- claims  200 alerts, each on its own card (20 channels), one Claim click each at once; `claims`: the
          click's response_url replaces the card; `claims_outbox`: it refuses, so the outbox refreshes
          every card through chat.update (Tier 3): time until every place shows its owner, and whether
          the more urgent alerts (overdue → severity → age) were done first.
- burst   500 webhooks as fast as 32 connections go, all for ONE channel, the fake rate-limiting
          chat.postMessage to 1 per second per channel (429 + Retry-After): time until every alert key
          is visible in a message at the fake, messages posted, 429s, none lost, none posted twice
          (goal: all visible within 10 s).
- teams   the team's cards go to a Teams channel (its conversation reference stored by a first,
          unmeasured turn); then 100 concurrent Action.Execute invokes from that channel
          (adaptiveCard/action; alert.claim, racing claims and alert.note) to POST /api/messages in
          unauthenticated mode: latency p50/p99, every answer
          200 with a card or a message, one owner per claimed alert.
- steady  open loop: `--rate` webhooks/s for `--seconds` s on a fixed schedule (never waiting for the
          answers); per alert, time from sending its webhook to its card or digest appearing at the
          fake Slack; p50/p90/p99/max, and the median per second of sending (does a backlog build up?).
- steady_low  0.5 webhooks/s for 60 s to one channel: a channel that is not saturated.

Results: tables on stdout, bench/results/chat.json and chat.md (`--quick`: smaller counts, written to
chat-quick.*, so a smoke run never overwrites the real figures).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import ingest  # bench/ingest.py: servers, databases, percentiles (also stubs sniffio for httpx)
import psutil

REPO = ingest.REPO
from adapters.sources.generic import sign as sign_webhook  # noqa: E402
from tests.adapters.slack.slackapp import block_actions, button  # noqa: E402
from tests.adapters.slack.slackapp import sign as sign_slack  # noqa: E402
from tests.adapters.teams.activities import CHANNEL as TEAMS_CHANNEL  # noqa: E402
from tests.adapters.teams.activities import execute as teams_execute  # noqa: E402
from tests.chat.backends import closed_port_url  # noqa: E402
from tests.fakes.bot_connector import FakeBotConnector  # noqa: E402
from tests.fakes.slack_api import FakeSlackApi  # noqa: E402

RESULTS = ingest.RESULTS
SIGNING_SECRET = "bench-slack-signing-secret-0123456789"
KEY_RE = re.compile(r"HA-\d+")
GOAL_ACK_P99_MS = 300.0
SLACK_ACK_LIMIT_MS = 3000.0
GOAL_BURST_S = 10.0
GOAL_STEADY_P99_S = 1.2  # 100 alerts/s into ONE channel: Slack posts once a second there, ~1 s is the floor
GOAL_LOW_P99_S = 0.1  # a channel that is not saturated (0.5 alerts/s)
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"
COMPLAINTS = [
    "Waited 40 minutes and nobody came to the table. The manager was rude when I asked.",
    "Charged twice for the same order, still no refund after two weeks.",
    "The room was dirty and the air conditioning did not work.",
    "Delivery arrived cold and an hour late. Unacceptable.",
]


# ---------------------------------------------------------------------------------------------
# Small helpers


def pct(values: list[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean of `values` (ms or s, as given), NaN-free for the JSON."""
    s = sorted(values)
    if not s:
        return {"n": 0, "p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0}
    return {
        "n": len(s),
        "p50": round(ingest.percentile(s, 50), 2),
        "p90": round(ingest.percentile(s, 90), 2),
        "p99": round(ingest.percentile(s, 99), 2),
        "max": round(s[-1], 2),
        "mean": round(statistics.fmean(s), 2),
    }


def detractor(rng: random.Random, external_id: str, location: str | None = None) -> bytes:
    """A generic webhook body that always raises an alert."""
    body = {
        "id": external_id,
        "submitted_at": datetime.now(UTC).isoformat(),
        "customer": {"id": f"c-{rng.randrange(100_000)}", "name": "Dana Scully", "email": "dana@example.com"},
        "nps": rng.randint(0, 6),
        "contact_requested": rng.random() < 0.3,
        "comment": rng.choice(COMPLAINTS),
        "answers": [
            {"question": "Staff friendliness", "value": rng.randint(1, 3), "scale_min": 1, "scale_max": 5}
        ],
        "attributes": {"location": location or rng.choice(["017", "042", "101"]), "channel": "online"},
    }
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass
class Posted:
    """What the fake Slack shows in one channel: top-level messages that Slack accepted."""

    first_seen: dict[str, float]  # key → time.monotonic() of the first post showing it
    in_blocks: set[str]  # keys shown as a row of the message (with its buttons), not only in the text
    posts_per_key: Counter[str]
    posts: int
    digests: int
    cards: int
    rate_limited: int  # chat.postMessage answered 429 in this channel (threads included)
    message_ts: dict[str, str]  # key → ts of the first message showing it in its blocks


def posted(fake: FakeSlackApi, channel: str | list[str]) -> Posted:
    channels = [channel] if isinstance(channel, str) else channel
    out = Posted({}, set(), Counter(), 0, 0, 0, 0, {})
    for call in fake.calls("chat.postMessage"):
        if call.args.get("channel") not in channels:
            continue
        if call.status == 429:
            out.rate_limited += 1
            continue
        if call.status != 200 or call.error or call.args.get("thread_ts"):
            continue
        blocks = json.dumps(call.args.get("blocks", []))
        block_keys = set(KEY_RE.findall(blocks))
        keys = block_keys | set(KEY_RE.findall(str(call.args.get("text", ""))))
        out.posts += 1
        if len(keys) > 1:
            out.digests += 1
        else:
            out.cards += 1
        for key in keys:
            out.posts_per_key[key] += 1
            out.first_seen.setdefault(key, call.at)
        out.in_blocks |= block_keys
    for message in (m for c in channels for m in fake.messages_in(c)):
        if "thread_ts" in message:
            continue
        for key in set(KEY_RE.findall(json.dumps(message.get("blocks", [])))):
            out.message_ts.setdefault(key, str(message["ts"]))
    return out


async def wait_visible(
    fake: FakeSlackApi, channel: str | list[str], keys: set[str], timeout: float
) -> Posted:
    """Poll the fake until every key is visible in the channel (or `timeout` s); the final view."""
    deadline = time.monotonic() + timeout
    while True:
        view = posted(fake, channel)
        if keys <= set(view.first_seen) or time.monotonic() >= deadline:
            return view
        await asyncio.sleep(0.05)


class Sampler:
    """Peak RSS and CPU time of the server process while a scenario runs."""

    def __init__(self, proc: psutil.Process) -> None:
        self.proc = proc
        self.peak = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._cpu0 = 0.0
        self.cpu_s = 0.0

    def _cpu(self) -> float:
        with contextlib.suppress(psutil.Error):
            t = self.proc.cpu_times()
            return float(t.user + t.system)
        return 0.0

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.proc.memory_info().rss)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.1)

    async def __aenter__(self) -> Sampler:
        self._cpu0 = self._cpu()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cpu_s = self._cpu() - self._cpu0
        self._stop.set()
        if self._task is not None:
            await self._task

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)


# ---------------------------------------------------------------------------------------------
# The server under test


@dataclass
class Server:
    url: str
    database_url: str
    proc: psutil.Process
    log: Path


def config_yaml(channels: list[str], teams_channel: str | None = None) -> str:
    """Team t0 (the default) posts in channels[0]; team t<i> in channels[i], routed by location L<i>.
    `teams_channel`: t0's Teams channel (a click from a channel acts only on alerts whose card is there)."""
    teams = ""
    for i, channel in enumerate(channels):
        teams += f"  - name: t{i}\n" + (f"    slack_channel: {channel}\n" if channel else "")
        if i == 0 and teams_channel:
            teams += f"    teams_channel: '{teams_channel}'\n"
    routes = "".join(f"  - team: t{i}\n    match: {{location: 'L{i}'}}\n" for i in range(1, len(channels)))
    return f"default_team: t0\nteams:\n{teams}" + (f"routes:\n{routes}" if routes else "")


def prepare(
    env: dict[str, str], workdir: Path, log: Path, channel: str | list[str], teams_channel: str | None = None
) -> None:
    """`hotloop source add` (migrates the fresh database) and `hotloop config import`."""
    channels = [channel] if isinstance(channel, str) else channel
    config = workdir / f"chat-config-{channels[0]}.yaml"
    config.write_text(config_yaml(channels, teams_channel))
    with log.open("ab") as out:
        for args in (
            ["source", "add", ingest.SOURCE, "--kind", "generic", "--secret", ingest.SOURCE_SECRET],
            ["config", "import", str(config)],
        ):
            subprocess.run(
                [*ingest.hotloop_command(), *args],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=120,
                check=True,
            )


@contextlib.asynccontextmanager
async def hotloop(
    name: str,
    args: argparse.Namespace,
    workdir: Path,
    slack: FakeSlackApi,
    channel: str | list[str],
    teams_channel: str | None = None,
) -> AsyncIterator[Server]:
    """A fresh database and `hotloop serve --role all` wired to the fake Slack (Teams unauthenticated)."""
    async with ingest.fresh_database(args.db, workdir, args.pg_admin_url) as database_url:
        env = ingest.server_env(database_url)
        env.update(
            HOTLOOP_LOG_JSON="false",
            HOTLOOP_SLACK_BOT_TOKEN=slack.token,
            HOTLOOP_SLACK_SIGNING_SECRET=SIGNING_SECRET,
            HOTLOOP_SLACK_API_URL=slack.url,
            HOTLOOP_TEAMS_ALLOW_UNAUTHENTICATED="true",
        )
        env.update(item.split("=", 1) for item in args.server_env)
        log = workdir / f"{name}.log"
        await asyncio.to_thread(prepare, env, workdir, log, channel, teams_channel)
        port = ingest.free_port()
        command = [
            *ingest.hotloop_command(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--role",
            "all",
        ]
        if args.profile and name == args.profile:  # py-spy launches the server (attaching is refused here)
            command = [str(Path(sys.executable).parent / "py-spy"), "record", "--rate", "100", "--format",
                       "raw", "--duration", str(int(args.seconds + 15)), "--output",
                       str(profile_path(args, name)), "--", *command]
        async with ingest.running_server(command, env, port, log) as proc:
            yield Server(f"http://127.0.0.1:{port}", database_url, psutil.Process(proc.pid), log)


def profile_path(args: argparse.Namespace, name: str) -> Path:
    return RESULTS / f"chat-profile-{name}{'-quick' if args.quick else ''}.txt"


def client(base_url: str, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=httpx.Timeout(30.0))


async def post_webhook(http: httpx.AsyncClient, body: bytes) -> tuple[str, str | None]:
    """(status, alert key) for one signed generic webhook."""
    headers = {
        "content-type": "application/json",
        "x-hotloop-signature": sign_webhook(ingest.SOURCE_SECRET, body, int(time.time())),
    }
    try:
        reply = await http.post(f"/webhooks/{ingest.SOURCE}", content=body, headers=headers)
    except httpx.HTTPError as exc:
        return type(exc).__name__, None
    key = reply.json().get("alert") if reply.status_code in (200, 202) else None
    return str(reply.status_code), key


async def create_alerts(
    server: Server, n: int, *, tag: str, concurrency: int = 16, sent_at: dict[str, float] | None = None
) -> tuple[list[str], Counter[str]]:
    """n alerts through the webhook, `concurrency` at a time; the keys in sending order."""
    rng = random.Random(hash(tag) & 0xFFFF)
    bodies = [detractor(rng, f"{tag}-{i}") for i in range(n)]
    keys: list[str | None] = [None] * n
    statuses: Counter[str] = Counter()
    queue = iter(range(n))
    async with client(server.url, concurrency) as http:

        async def worker() -> None:
            for i in queue:
                started = time.monotonic()
                status, key = await post_webhook(http, bodies[i])
                statuses[status] += 1
                keys[i] = key
                if key and sent_at is not None:
                    sent_at[key] = started

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return [k for k in keys if k], statuses


async def db_alerts(database_url: str) -> dict[str, dict[str, Any]]:
    """key → {owner, status, claimed events} straight from the database."""
    from sqlalchemy import text

    from storage.db import create_engine_for

    engine = create_engine_for(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT id, key, owner_id, status FROM alert"))
            alerts = {
                r.key: {"id": r.id, "owner": r.owner_id, "status": r.status, "claimed": 0} for r in rows
            }
            by_id = {a["id"]: a for a in alerts.values()}
            events = await conn.execute(
                text(
                    "SELECT alert_id, count(*) AS n FROM alertevent WHERE kind = 'claimed' GROUP BY alert_id"
                )
            )
            for alert_id, n in events.all():
                if alert_id in by_id:
                    by_id[alert_id]["claimed"] = n
            return alerts
    finally:
        await engine.dispose()


async def teams_cards(database_url: str) -> int:
    """Alerts whose card (or digest) is recorded as posted to Teams."""
    from sqlalchemy import text

    from storage.db import create_engine_for

    engine = create_engine_for(database_url)
    try:
        async with engine.connect() as conn:
            query = text("SELECT count(DISTINCT alert_id) FROM cardref WHERE platform = 'teams'")
            return int((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()


async def fire_at_once(
    requests: list[Callable[[httpx.AsyncClient], Any]], base_url: str
) -> list[tuple[float, Any]]:
    """Run every request concurrently (one connection each, opened beforehand), released together;
    (latency ms, result) per request."""
    gate = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(client(base_url, 1)) for _ in requests]
        # open every connection first, so the measured burst is requests, not TCP handshakes
        await asyncio.gather(*(c.get("/healthz") for c in clients))

        async def one(
            http: httpx.AsyncClient, request: Callable[[httpx.AsyncClient], Any]
        ) -> tuple[float, Any]:
            await gate.wait()
            started = time.perf_counter()
            try:
                result = await request(http)
            except httpx.HTTPError as exc:
                result = exc
            return (time.perf_counter() - started) * 1000, result

        tasks = [asyncio.create_task(one(c, r)) for c, r in zip(clients, requests, strict=True)]
        await asyncio.sleep(0.2)
        gate.set()
        return await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)


def status_of(result: Any) -> str:
    return str(result.status_code) if isinstance(result, httpx.Response) else type(result).__name__


# ---------------------------------------------------------------------------------------------
# a. Slack button ack latency


async def bench_ack(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    n_alerts, n_clicks = (40, 40) if args.quick else (200, 200)
    racing = n_clicks // 5  # these clicks hit an alert someone else clicks too
    channel = "C0BENCHACK"
    with FakeSlackApi() as slack:
        async with hotloop("ack", args, workdir, slack, channel) as server, Sampler(server.proc) as sampler:
            # a few more than needed: digests cut their last rows ("+N more"), and those have no button
            created, statuses = await create_alerts(
                server, n_alerts + n_alerts // 10 + 2, tag=f"ack-{uuid.uuid4().hex[:6]}"
            )
            view = await wait_visible(slack, channel, set(created), timeout=120)
            unseen = set(created) - set(view.first_seen)
            if unseen:
                raise RuntimeError(f"ack: {len(unseen)} alerts never reached the fake: {sorted(unseen)[:5]}")
            no_button = [k for k in created if k not in view.message_ts]
            clickable = [k for k in created if k in view.message_ts]
            if len(clickable) < n_alerts + 1:
                raise RuntimeError(f"ack: only {len(clickable)} alerts have a row with a Claim button")
            warm, keys = clickable[-1], clickable[:n_alerts]

            def click(user: int, key: str) -> bytes:
                who = {
                    "id": f"U0B{user:05d}",
                    "username": f"user{user}",
                    "name": f"user{user}",
                    "team_id": "T0TEST",
                }
                ts = view.message_ts[key]  # the click's response_url replaces that message (no tier)
                payload = block_actions(who, button("alert.claim", key), channel=channel, message_ts=ts,
                                        response_url=slack.response_url_for(channel, ts))
                return urlencode({"payload": json.dumps(payload)}).encode()

            async with client(server.url, 1) as http:  # Bolt's first request runs auth.test: not measured
                body = click(99_999, warm)
                headers = {
                    "content-type": "application/x-www-form-urlencoded",
                    **sign_slack(body, secret=SIGNING_SECRET),
                }
                await http.post("/slack/events", content=body, headers=headers)
            targets = [keys[i % n_alerts] for i in range(n_clicks - racing)] + [
                keys[i] for i in range(racing)
            ]
            random.Random(3).shuffle(targets)
            clickers: dict[str, set[str]] = defaultdict(set)
            requests = []
            for user, key in enumerate(targets):
                clickers[key].add(f"U0B{user:05d}")
                body = click(user, key)

                async def send(http: httpx.AsyncClient, body: bytes = body) -> httpx.Response:
                    headers = {
                        "content-type": "application/x-www-form-urlencoded",
                        **sign_slack(body, secret=SIGNING_SECRET),
                    }
                    return await http.post("/slack/events", content=body, headers=headers)

                requests.append(send)
            started = time.monotonic()
            answers = await fire_at_once(requests, server.url)
            # every message listing a clicked alert, followed until it shows one of its clickers
            places = asyncio.create_task(every_place_shows_owner(slack, channel, clickers, started))
            latencies = [ms for ms, _ in answers]
            answer_statuses = Counter(status_of(r) for _, r in answers)
            # the claims run after the ack: wait until the database shows them (bounded)
            deadline = time.monotonic() + 60
            while True:
                alerts = await db_alerts(server.database_url)
                done = all(alerts.get(k, {}).get("owner") for k in clickers)
                if done or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            claims_applied_s = time.monotonic() - started
            losers = n_clicks - len(clickers)
            told = await asyncio.to_thread(
                slack.wait_for,
                lambda: (
                    sum(
                        "already claimed" in str(c.args.get("text"))
                        for c in slack.calls("chat.postEphemeral")
                    )
                    >= losers
                ),
                30,
            )
            ephemerals = slack.calls("chat.postEphemeral")
            alerts = await db_alerts(server.database_url)
            # every clicked card shows its owner (chat.update of the card or digest)
            updated = await asyncio.to_thread(
                slack.wait_for,
                lambda: all(
                    _shows_owner(slack, channel, key, alerts[key]["owner"])
                    for key in clickers
                    if alerts[key]["owner"]
                ),
                60,
            )
            cards_updated_s = time.monotonic() - started
            shown = await places
            order = await urgent_first(server.database_url, shown)
    wrong_owner = [k for k in clickers if alerts[k]["owner"] not in clickers[k]]
    not_one_claim = [k for k in clickers if alerts[k]["claimed"] != 1]
    unclicked_owned = [k for k in keys if k not in clickers and alerts[k]["owner"]]
    told_losers = sum("already claimed" in str(c.args.get("text")) for c in ephemerals)
    stats = pct(latencies)
    return {
        "alerts": n_alerts,
        "clicks": n_clicks,
        "clicked_alerts": len(clickers),
        "racing_clicks": losers,
        "alerts_created": len(created),
        "alerts_without_a_button": len(no_button),
        "webhook_statuses": dict(statuses),
        "answer_statuses": dict(answer_statuses),
        "ack_ms": stats,
        "goal_p99_ms": GOAL_ACK_P99_MS,
        "meets_goal": stats["p99"] < GOAL_ACK_P99_MS and answer_statuses.get("200", 0) == n_clicks,
        "claims_applied_s": round(claims_applied_s, 2),
        "cards_show_owner": updated,
        "cards_updated_s": round(cards_updated_s, 2),
        "owners_ok": not wrong_owner and not not_one_claim and not unclicked_owned,
        "wrong_owner": wrong_owner[:20],
        "not_exactly_one_claimed_event": not_one_claim[:20],
        "unclicked_but_owned": unclicked_owned[:20],
        "losers_told": told_losers,
        "losers_all_told": told and told_losers == losers,
        "ephemerals": len(ephemerals),
        "chat_update_calls": len(slack.calls("chat.update")),
        "chat_update_429": sum(c.status == 429 for c in slack.calls("chat.update")),
        "response_url_calls": len(slack.calls("response_url")),
        "every_place_shows_owner": len(shown) == len(clickers),
        "every_place_s": pct(list(shown.values())),
        "urgent_first": order,
        "card_posts": view.posts,
        "digests": view.digests,
        "server_peak_rss_mb": sampler.peak_mb,
        "server_cpu_s": round(sampler.cpu_s, 2),
    }


async def every_place_shows_owner(
    slack: FakeSlackApi, channel: str | list[str], clickers: dict[str, set[str]], started: float,
    timeout: float = 300,
) -> dict[str, float]:
    """Per clicked alert, seconds after `started` when every top-level message listing it (its card, the
    digests) first showed one of its clickers in its row (polled every 0.25 s; under real tiers)."""
    shown: dict[str, float] = {}
    names = {key: re.compile("|".join(rf"\buser{int(u.removeprefix('U0B'))}\b" for u in users))
             for key, users in clickers.items()}
    while len(shown) < len(clickers) and time.monotonic() - started < timeout:
        channels = [channel] if isinstance(channel, str) else channel
        messages = [m for c in channels for m in slack.messages_in(c) if "thread_ts" not in m]
        blocks = [[json.dumps(b) for b in m.get("blocks", [])] for m in messages]
        at = time.monotonic() - started
        for key in clickers.keys() - shown.keys():
            mark = re.compile(rf"{re.escape(key)}(?!\d)")
            rows = [[b for b in bs if mark.search(b)] for bs in blocks]
            if all(any(names[key].search(b) for b in r) for r in rows if r) and any(rows):
                shown[key] = round(at, 2)
        await asyncio.sleep(0.25)
    return shown


async def urgent_first(database_url: str, shown: dict[str, float]) -> dict[str, Any]:
    """Did the most urgent alerts (overdue → severity → age) show their owner first? Over every pair of
    alerts of different urgency: the share whose more urgent one was done no later (0.25-s polls)."""
    from sqlalchemy import text

    from storage.db import create_engine_for

    engine = create_engine_for(database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT key, severity, resolve_due_at, created_at, id FROM alert"))).all()
    finally:
        await engine.dispose()
    rank = {"critical": 0, "high": 1, "normal": 2, "low": 3}
    now = datetime.now(UTC).replace(tzinfo=None)
    urgency = {r.key: (not (r.resolve_due_at and str(r.resolve_due_at) < str(now)), rank.get(r.severity, 4),
                       r.id) for r in rows if r.key in shown}
    pairs = [(a, b) for a in urgency for b in urgency if urgency[a] < urgency[b]]
    ahead = sum(shown[a] <= shown[b] for a, b in pairs)
    return {"pairs": len(pairs), "more_urgent_no_later_pct": round(100 * ahead / len(pairs), 1) if pairs
            else 100.0}


def _shows_owner(slack: FakeSlackApi, channel: str, key: str, owner: str) -> bool:
    """Some top-level message shows `key` with its owner's name: in the same block of a digest, or
    anywhere in a single card."""
    name = re.compile(rf"\buser{int(owner.removeprefix('U0B'))}\b")
    mark = re.compile(rf"{re.escape(key)}(?!\d)")
    for message in slack.messages_in(channel):
        if "thread_ts" in message:
            continue
        blocks = [json.dumps(b) for b in message.get("blocks", [])]
        whole = "".join(blocks)
        if len(set(KEY_RE.findall(whole))) <= 1:
            if mark.search(whole) and name.search(whole):
                return True
        elif any(mark.search(b) and name.search(b) for b in blocks):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# a2. 200 claims, each alert on its own card: every place updated, under real tiers


async def bench_claims(args: argparse.Namespace, workdir: Path, *, answered: bool = True) -> dict[str, Any]:
    """Alerts arrive one a second per channel (each gets its own card), then one Claim click per alert
    is released at once. `answered`: the click's response_url works (the clicked card is replaced at
    once); else it refuses the connection, and the outbox refreshes every card through chat.update
    (Tier 3, ≈ 50 a minute for the workspace), most urgent first."""
    n_channels, n = (8, 40) if args.quick else (20, 200)
    channels = [f"C0CLAIM{i:02d}" for i in range(n_channels)]
    rng, tag = random.Random(17), f"claims-{uuid.uuid4().hex[:6]}"
    bodies = [detractor(rng, f"{tag}-{i}", f"L{i % n_channels}") for i in range(n)]
    name = "claims" if answered else "claims_outbox"
    with FakeSlackApi() as slack:
        async with hotloop(name, args, workdir, slack, channels) as server, Sampler(server.proc) as sampler:
            keys: list[str] = []
            async with client(server.url, 16) as http:
                for start in range(0, n, n_channels):  # one alert a second per channel: a card each
                    second = bodies[start : start + n_channels]
                    sent = await asyncio.gather(*(post_webhook(http, b) for b in second))
                    keys += [key for _, key in sent if key]
                    await asyncio.sleep(1.05)
            view = await wait_visible(slack, channels, set(keys), timeout=120)
            clickers = {key: {f"U0B{i:05d}"} for i, key in enumerate(keys) if key in view.message_ts}
            where = {m_key: c for c in channels for m in slack.messages_in(c) if "thread_ts" not in m
                     for m_key in set(KEY_RE.findall(json.dumps(m.get("blocks", []))))}
            requests = [claim_click(slack, key, where[key], view.message_ts[key], i, answered)
                        for i, key in enumerate(clickers)]
            updates_before = len(slack.calls("chat.update"))
            started = time.monotonic()
            answers = await fire_at_once(requests, server.url)
            shown = await every_place_shows_owner(slack, channels, clickers, started, timeout=420)
            order = await urgent_first(server.database_url, shown)
    updates = slack.calls("chat.update")[updates_before:]
    return {
        "answered_by_response_url": answered,
        "channels": n_channels,
        "alerts": len(keys),
        "clicks": len(requests),
        "single_cards": view.cards,
        "digests": view.digests,
        "ack_ms": pct([ms for ms, _ in answers]),
        "answer_statuses": dict(Counter(status_of(r) for _, r in answers)),
        "every_place_shows_owner": len(shown) == len(clickers),
        "every_place_s": pct(list(shown.values())),
        "urgent_first": order,
        "response_url_calls": len(slack.calls("response_url")),
        "chat_update_calls": len(updates),
        "chat_update_429": sum(c.status == 429 for c in updates),
        "server_peak_rss_mb": sampler.peak_mb,
        "server_cpu_s": round(sampler.cpu_s, 2),
    }


def claim_click(
    slack: FakeSlackApi, key: str, channel: str, ts: str, user: int, answered: bool
) -> Callable[[httpx.AsyncClient], Any]:
    """One signed Claim click on `key`'s card; its response_url works, or refuses the connection."""
    who = {"id": f"U0B{user:05d}", "username": f"user{user}", "name": f"user{user}", "team_id": "T0TEST"}
    url = slack.response_url_for(channel, ts) if answered else closed_port_url() + "actions/refused"
    payload = block_actions(who, button("alert.claim", key), channel=channel, message_ts=ts,
                            response_url=url)
    body = urlencode({"payload": json.dumps(payload)}).encode()

    async def send(http: httpx.AsyncClient) -> httpx.Response:
        signed = sign_slack(body, secret=SIGNING_SECRET)
        headers = {"content-type": "application/x-www-form-urlencoded", **signed}
        return await http.post("/slack/events", content=body, headers=headers)

    return send


# ---------------------------------------------------------------------------------------------
# b. Burst to one rate-limited channel


async def bench_burst(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    n = 100 if args.quick else 500
    channel = "C0BENCHBURST"
    with FakeSlackApi() as slack:  # its default tiers: 1 post/s per channel, a burst of 3, then 429
        async with hotloop("burst", args, workdir, slack, channel) as server, Sampler(server.proc) as sampler:
            sent_at: dict[str, float] = {}
            t0 = time.monotonic()
            keys, statuses = await create_alerts(
                server, n, tag=f"burst-{uuid.uuid4().hex[:6]}", concurrency=32, sent_at=sent_at
            )
            accepted_s = time.monotonic() - t0
            view = await wait_visible(slack, channel, set(keys), timeout=max(60.0, n / 10))
            await asyncio.sleep(2.0)  # anything posted twice shows up now
            view = posted(slack, channel)
    seen = [view.first_seen[k] for k in keys if k in view.first_seen]
    lost = sorted(set(keys) - set(view.first_seen))
    all_visible_s = (max(seen) - t0) if seen and not lost else float("inf")
    dupes = sorted(k for k in keys if view.posts_per_key[k] > 1)
    text_only = sorted(k for k in keys if k in view.first_seen and k not in view.in_blocks)
    return {
        "alerts": n,
        "accepted": len(keys),
        "webhook_statuses": dict(statuses),
        "webhooks_accepted_s": round(accepted_s, 2),
        "all_visible_s": round(all_visible_s, 2),
        "goal_s": GOAL_BURST_S,
        "meets_goal": all_visible_s <= GOAL_BURST_S and not lost and not dupes,
        "per_alert_visible_s": pct([view.first_seen[k] - sent_at[k] for k in keys if k in view.first_seen]),
        "messages": view.posts,
        "digests": view.digests,
        "single_cards": view.cards,
        "rate_limited_429": view.rate_limited,
        "lost": len(lost),
        "lost_keys": lost[:20],
        "duplicates": len(dupes),
        "duplicate_keys": dupes[:20],
        "only_in_fallback_text": len(text_only),
        "only_in_fallback_text_keys": text_only[:20],
        "server_peak_rss_mb": sampler.peak_mb,
        "server_cpu_s": round(sampler.cpu_s, 2),
    }


# ---------------------------------------------------------------------------------------------
# c. Teams invoke round trip


def server_cpu_s(server: Server) -> float:
    """User + system CPU seconds the server process has used so far (all its threads)."""
    times = server.proc.cpu_times()
    return float(times.user + times.system)


PROFILE_ENV = "BENCH_PROFILE"  # BENCH_PROFILE=1: py-spy on the server during the measured burst


@contextlib.asynccontextmanager
async def burst_profile(server: Server, name: str, args: argparse.Namespace) -> AsyncIterator[Path | None]:
    """With BENCH_PROFILE=1, py-spy (--gil: on-CPU Python) records the server while the burst runs and
    writes bench/results/<name>-profile-<db>[-quick].txt (collapsed stacks) and .json (top functions)."""
    if os.environ.get(PROFILE_ENV, "") not in ("1", "true", "yes"):
        yield None
        return
    out = RESULTS / f"{name}-profile-{args.db}{'-quick' if args.quick else ''}.txt"
    RESULTS.mkdir(parents=True, exist_ok=True)
    spy = ingest.start_py_spy(server.proc.pid, argparse.Namespace(warmup=0, seconds=110), out)
    await asyncio.sleep(1.0)  # py-spy attaches before the burst starts
    try:
        yield out
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
        await asyncio.to_thread(ingest.stop_py_spy, spy)
        if out.exists():
            summary = ingest.summarize_profile(out)
            out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")


async def bench_teams(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    n = 20 if args.quick else 100
    claims, races = n // 2, n // 5
    notes = n - claims - races
    with FakeSlackApi() as slack, FakeBotConnector() as connector:
        async with (
            hotloop("teams", args, workdir, slack, "", TEAMS_CHANNEL) as server,
            Sampler(server.proc) as sampler,
        ):

            def user(i: int) -> dict[str, str]:
                aad = str(uuid.UUID(int=i + 1))
                return {"id": f"29:bench{i:05d}", "name": f"Bench User {i}", "aadObjectId": aad}

            # a first turn (not measured): builds the adapter and stores the channel's conversation
            # reference (serviceUrl = the fake connector), so the cards can be posted there
            async with client(server.url, 1) as http:
                await http.post(
                    "/api/messages", json=teams_execute(connector.url, "alert.claim", "HA-0", user=user(0))
                )
            keys, statuses = await create_alerts(server, claims, tag=f"teams-{uuid.uuid4().hex[:6]}")
            deadline = time.monotonic() + 120
            while (placed := await teams_cards(server.database_url)) < len(
                keys
            ) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            if placed < len(keys):
                raise RuntimeError(f"teams: only {placed} of {len(keys)} cards reached the fake connector")

            plan: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
            plan += [("alert.claim", keys[i], user(i), {}) for i in range(claims)]
            plan += [("alert.claim", keys[i % claims], user(claims + i), {}) for i in range(races)]
            plan += [
                (
                    "alert.note",
                    keys[i % claims],
                    user(claims + races + i),
                    {"note": f"Called the customer ({i})"},
                )
                for i in range(notes)
            ]
            random.Random(5).shuffle(plan)
            requests = []
            for verb, key, who, inputs in plan:
                activity = teams_execute(connector.url, verb, key, user=who, **inputs)

                async def send(
                    http: httpx.AsyncClient, activity: dict[str, Any] = activity
                ) -> httpx.Response:
                    return await http.post("/api/messages", json=activity)

                requests.append(send)
            async with burst_profile(server, "teams", args):
                cpu_before = server_cpu_s(server)
                answers = await fire_at_once(requests, server.url)
                burst_cpu_s = server_cpu_s(server) - cpu_before
            alerts = await db_alerts(server.database_url)
    kinds: Counter[str] = Counter()
    messages: Counter[str] = Counter()  # the texts of message answers (refusals, "already claimed"…)
    bad: list[str] = []
    by_verb: dict[str, list[float]] = defaultdict(list)
    for (verb, key, _who, _inputs), (ms, reply) in zip(plan, answers, strict=True):
        by_verb[verb].append(ms)
        if not isinstance(reply, httpx.Response) or reply.status_code != 200:
            bad.append(f"{verb} {key}: {status_of(reply)}")
            continue
        try:
            body = reply.json()
        except ValueError:
            bad.append(f"{verb} {key}: not JSON")
            continue
        kind = {CARD_TYPE: "card", MESSAGE_TYPE: "message"}.get(body.get("type"), "other")
        kinds[kind] += 1
        if kind == "message":
            messages[f"{verb}: {str(body.get('value'))[:100]}"] += 1
        if kind == "other" or body.get("statusCode") != 200:
            bad.append(f"{verb} {key}: {str(body)[:120]}")
    claimed_keys = {key for verb, key, _w, _i in plan if verb == "alert.claim"}
    one_owner = all(alerts[k]["owner"] and alerts[k]["claimed"] == 1 for k in claimed_keys)
    latencies = [ms for ms, _ in answers]
    return {
        "invokes": n,
        "claims": claims,
        "racing_claims": races,
        "notes": notes,
        "webhook_statuses": dict(statuses),
        "latency_ms": pct(latencies),
        "latency_ms_by_verb": {verb: pct(v) for verb, v in sorted(by_verb.items())},
        "answers": dict(kinds),
        "all_ok": not bad and kinds.get("other", 0) == 0,
        "bad_answers": bad[:20],
        "one_owner_per_claimed_alert": one_owner,
        "owners": dict(Counter("owned" if alerts[k]["owner"] else "unowned" for k in claimed_keys)),
        "message_answers": dict(messages.most_common(8)),
        "connector_calls": len(connector.calls()),
        # less sensitive to other load on the machine than the latencies: the server's CPU for the burst
        "burst_server_cpu_s": round(burst_cpu_s, 3),
        "burst_server_cpu_ms_per_invoke": round(1000 * burst_cpu_s / n, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "server_peak_rss_mb": sampler.peak_mb,
        "server_cpu_s": round(sampler.cpu_s, 2),
    }


# ---------------------------------------------------------------------------------------------
# d. Webhook → card latency at a steady rate (open loop)


async def bench_steady(
    args: argparse.Namespace, workdir: Path, *, channels: int = 1, rate: float | None = None,
    seconds: float | None = None, name: str | None = None,
) -> dict[str, Any]:
    """`channels` > 1: the alerts are routed round-robin to that many teams, one channel each.
    `rate` / `seconds`: this scenario's own (steady_low), else `--rate` / `--seconds`."""
    rate = rate or args.rate
    seconds = (min(seconds, 20.0) if args.quick else seconds) if seconds else args.seconds
    n = int(rate * seconds)
    channel = [f"C0BENCHSTEADY{i}" for i in range(channels)]
    rng = random.Random(11)
    tag = f"steady-{uuid.uuid4().hex[:6]}"
    bodies = [detractor(rng, f"{tag}-{i}", f"L{i % channels}") for i in range(n)]
    name = name or ("steady" if channels == 1 else f"steady{channels}")
    with FakeSlackApi() as slack:
        async with (
            hotloop(name, args, workdir, slack, channel) as server,
            Sampler(server.proc) as sampler,
        ):
            sent_at: dict[str, float] = {}
            answered_at: dict[str, float] = {}
            offset: dict[str, float] = {}  # seconds since the start of sending
            statuses: Counter[str] = Counter()
            http_ms: list[float] = []
            lag: list[float] = []
            async with client(server.url, 64) as http:

                async def one(i: int, started: float) -> None:
                    status, key = await post_webhook(http, bodies[i])
                    http_ms.append((time.monotonic() - started) * 1000)
                    statuses[status] += 1
                    if key:
                        sent_at[key] = started
                        offset[key] = started - t0
                        answered_at[key] = time.monotonic()

                tasks = []
                t0 = time.monotonic()
                for i in range(n):  # a fixed schedule: never waits for the answers
                    due = t0 + i / rate
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    now = time.monotonic()
                    lag.append(now - due)
                    tasks.append(asyncio.create_task(one(i, now)))
                send_s = time.monotonic() - t0
                await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
            keys = set(sent_at)
            view = await wait_visible(slack, channel, keys, timeout=max(60.0, 3 * seconds))
            drained_s = time.monotonic() - t0
            await asyncio.sleep(1.0)
            view = posted(slack, channel)
    latency = {k: view.first_seen[k] - sent_at[k] for k in keys if k in view.first_seen}
    # the delivery side alone: from the webhook's answer (the alert committed) to the card
    after_answer = [view.first_seen[k] - answered_at[k] for k in keys if k in view.first_seen]
    post_at = sorted({view.first_seen[k] for k in keys if k in view.first_seen})
    per_second: dict[int, list[float]] = defaultdict(list)
    for key, value in latency.items():
        per_second[int(offset[key])].append(value)
    timeline = [
        {"second": s, "sent": len(v), "p50_s": round(statistics.median(v), 3), "max_s": round(max(v), 3)}
        for s, v in sorted(per_second.items())
    ]
    lost = sorted(keys - set(view.first_seen))
    stats = pct(list(latency.values()))
    goal = GOAL_LOW_P99_S if rate <= 0.5 else GOAL_STEADY_P99_S if channels == 1 and rate >= 100 else None
    return {
        "goal_p99_s": goal,
        "meets_goal": None if goal is None else (stats["p99"] <= goal and not lost),
        "rate_per_s": rate,
        "seconds": seconds,
        "channels": channels,
        "sent": n,
        "achieved_send_rate": round(n / send_s, 1) if send_s else 0.0,
        "scheduler_lag_ms": pct([x * 1000 for x in lag]),
        "webhook_statuses": dict(statuses),
        "webhook_ms": pct(http_ms),
        "card_latency_s": stats,
        "card_after_webhook_answer_s": pct(after_answer),
        "gap_between_posts_s": pct([b - a for a, b in itertools.pairwise(post_at)]),
        "timeline": timeline,
        "all_visible_after_s": round(drained_s, 2),
        "messages": view.posts,
        "digests": view.digests,
        "single_cards": view.cards,
        "rate_limited_429": view.rate_limited,
        "lost": len(lost),
        "lost_keys": lost[:20],
        "duplicates": sum(1 for k in keys if view.posts_per_key[k] > 1),
        "server_peak_rss_mb": sampler.peak_mb,
        "server_cpu_s": round(sampler.cpu_s, 2),
    }


# ---------------------------------------------------------------------------------------------
# Output


SCENARIOS: dict[str, Callable[[argparse.Namespace, Path], Any]] = {
    "ack": bench_ack,
    "claims": bench_claims,
    "claims_outbox": partial(bench_claims, answered=False),
    "burst": bench_burst,
    "teams": bench_teams,
    "steady": bench_steady,
    "steady4": partial(bench_steady, channels=4),
    "steady_low": partial(bench_steady, rate=0.5, seconds=60.0, name="steady_low"),
}


def yes(flag: Any) -> str:
    return "yes" if flag else "NO"


def row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def header(*names: str, left: int = 0) -> list[str]:
    """A markdown table head; the first `left` columns left-aligned, the rest right-aligned."""
    return [row(*names), "|" + "---|" * left + "---:|" * (len(names) - left)]


def markdown(doc: dict[str, Any]) -> str:
    r, m = doc["results"], doc["machine"]
    out = [
        "# Chat benchmarks",
        "",
        f"- date: {doc['date']}; database: {doc['settings']['db']}; machine: {m.get('nproc')} CPUs "
        f"({m.get('cpu', '?')}), load average at start {m.get('loadavg_at_start')}",
        f"- command: `{doc['command']}`",
        "- `hotloop serve --role all` as a subprocess on a fresh database per scenario; FakeSlackApi and "
        "FakeBotConnector on loopback in the bench process (load generator, fakes and server share the CPUs)",
        "",
    ]
    if a := r.get("ack"):
        s = a["ack_ms"]
        shown = f"{a['cards_updated_s']:.1f} s" if a["cards_show_owner"] else "NOT all"
        places = a.get("every_place_s") or {}
        every = (
            f"Every place of every claimed alert (its card, the digests listing it) showed the owner after "
            f"{places.get('max', 0):.1f} s (p50 {places.get('p50', 0):.1f} s)"
            + ("" if a.get("every_place_shows_owner") else " — NOT all within 300 s")
            + f", under real tiers: {a.get('response_url_calls', 0)} response_url replacements, "
            f"{a['chat_update_calls']} chat.update calls ({a.get('chat_update_429', 0)} answered 429); "
            f"the more urgent alert (overdue → severity → age) was done no later in "
            f"{(a.get('urgent_first') or {}).get('more_urgent_no_later_pct', 0):g} % of "
            f"{(a.get('urgent_first') or {}).get('pairs', 0)} pairs."
        )
        out += [
            "## a. Slack button ack latency (POST /slack/events, block_actions alert.claim)",
            "",
            f"{a['clicks']} clicks released at once from {a['clicks']} users on {a['clicked_alerts']} alerts "
            f"({a['racing_clicks']} lose a race); the alerts' cards were already at the fake "
            f"({a['card_posts']} messages, {a['digests']} digests).",
            "",
            *header(
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
                "answers",
                "p99 < 300 ms",
                "claims applied after",
                "cards show owner after",
                "one owner each",
                "losers told",
            ),
            row(
                f"{s['p50']:.0f}",
                f"{s['p90']:.0f}",
                f"{s['p99']:.0f}",
                f"{s['max']:.0f}",
                f"`{json.dumps(a['answer_statuses'])}`",
                yes(a["meets_goal"]),
                f"{a['claims_applied_s']:.1f} s",
                shown,
                yes(a["owners_ok"]),
                f"{a['losers_told']}/{a['racing_clicks']}",
            ),
            "",
            every,
            "",
        ]
    for c in (r[name] for name in ("claims", "claims_outbox") if name in r):
        how = ("the click's response_url replaces the clicked card" if c["answered_by_response_url"] else
               "the click's response_url refuses the connection, so the outbox refreshes every card")
        places, order = c["every_place_s"], c["urgent_first"]
        out += [
            f"## a2. {c['clicks']} Claim clicks at once, one per alert, each alert on its own card "
            f"({c['channels']} channels), under real tiers: {how}",
            "",
            *header("ack p99 ms", "every place shows the owner: p50 s", "p99 s", "last s", "all",
                    "more urgent done no later", "response_url", "chat.update (429)"),
            row(f"{c['ack_ms']['p99']:.0f}", f"{places['p50']:.1f}", f"{places['p99']:.1f}",
                f"{places['max']:.1f}", yes(c["every_place_shows_owner"]),
                f"{order['more_urgent_no_later_pct']:g} % of {order['pairs']} pairs", c["response_url_calls"],
                f"{c['chat_update_calls']} ({c['chat_update_429']})"),
            "",
        ]
    if b := r.get("burst"):
        out += [
            "## b. Burst to one channel, chat.postMessage rate-limited to 1/s per channel",
            "",
            *header(
                "alerts",
                "webhooks accepted in",
                "all visible after",
                "≤ 10 s",
                "messages",
                "digests",
                "single cards",
                "429s",
                "lost",
                "posted twice",
                "keys only in fallback text",
            ),
            row(
                b["alerts"],
                f"{b['webhooks_accepted_s']:.1f} s",
                f"{b['all_visible_s']:.1f} s",
                yes(b["meets_goal"]),
                b["messages"],
                b["digests"],
                b["single_cards"],
                b["rate_limited_429"],
                b["lost"],
                b["duplicates"],
                b["only_in_fallback_text"],
            ),
            "",
            f"Per alert, webhook sent → visible: p50 {b['per_alert_visible_s']['p50']:.1f} s, "
            f'p99 {b["per_alert_visible_s"]["p99"]:.1f} s. "Keys only in fallback text": alerts listed '
            'in a digest\'s notification text but cut from its blocks ("+N more"), so without a row or a '
            "Claim button.",
            "",
        ]
    if c := r.get("teams"):
        s = c["latency_ms"]
        verbs = "; ".join(
            f"{v}: p50 {x['p50']:.0f} / p99 {x['p99']:.0f} ms" for v, x in c["latency_ms_by_verb"].items()
        )
        out += [
            "## c. Teams invoke round trip (POST /api/messages, Action.Execute, unauthenticated mode)",
            "",
            f"{c['invokes']} invokes at once: {c['claims']} claims, {c['racing_claims']} racing claims, "
            f"{c['notes']} notes.",
            "",
            *header(
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
                "answers",
                "all 200 with a card or message",
                "one owner per claimed alert",
            ),
            row(
                f"{s['p50']:.0f}",
                f"{s['p90']:.0f}",
                f"{s['p99']:.0f}",
                f"{s['max']:.0f}",
                f"`{json.dumps(c['answers'])}`",
                yes(c["all_ok"]),
                yes(c["one_owner_per_claimed_alert"]),
            ),
            "",
            f"By verb: {verbs}.",
            "",
        ]
    for d in (r[name] for name in ("steady", "steady4", "steady_low") if name in r):
        s, w = d["card_latency_s"], d["webhook_ms"]
        where = "one channel" if d["channels"] == 1 else f"{d['channels']} channels (round-robin routes)"
        out += [
            f"## d. Webhook → card latency at a steady {d['rate_per_s']:g}/s for {d['seconds']:g} s "
            f"to {where} (open loop)",
            "",
            *header(
                "sent",
                "achieved rate",
                "webhook p50 / p99 ms",
                "card p50 s",
                "card p90 s",
                "card p99 s",
                "card max s",
                "all visible after",
                "messages (digests)",
                "lost",
                "posted twice",
            ),
            row(
                d["sent"],
                f"{d['achieved_send_rate']:.0f}/s",
                f"{w['p50']:.0f} / {w['p99']:.0f}",
                f"{s['p50']:.2f}",
                f"{s['p90']:.2f}",
                f"{s['p99']:.2f}",
                f"{s['max']:.2f}",
                f"{d['all_visible_after_s']:.1f} s",
                f"{d['messages']} ({d['digests']})",
                d["lost"],
                d["duplicates"],
            ),
            "",
            *([f"Goal p99 ≤ {d['goal_p99_s']:g} s: {yes(d['meets_goal'])}.", ""] if d.get("goal_p99_s")
              else []),
            *([f"From the webhook's answer (the alert committed) to its card, the delivery side alone: "
               f"p50 {d['card_after_webhook_answer_s']['p50']:.2f} s, p99 "
               f"{d['card_after_webhook_answer_s']['p99']:.2f} s.", ""]
              if d.get("card_after_webhook_answer_s") else []),
            "Median card latency (s) by second of sending: "
            + ", ".join(f"{t['second']}→{t['p50_s']:.1f}" for t in d["timeline"]),
            "",
        ]
    for name, error in doc.get("errors", {}).items():
        out += [f"## {name}: FAILED", "", "```", error[-3000:], "```", ""]
    return "\n".join(out)


def table(doc: dict[str, Any]) -> str:
    r = doc["results"]
    lines = []
    if a := r.get("ack"):
        s = a["ack_ms"]
        lines.append(
            f"ack     {a['clicks']} clicks: p50 {s['p50']:.0f} ms  p90 {s['p90']:.0f}  p99 {s['p99']:.0f}  "
            f"max {s['max']:.0f}  answers {dict(a['answer_statuses'])}  "
            f"one owner each: {yes(a['owners_ok'])}  losers told {a['losers_told']}/{a['racing_clicks']}  "
            f"claims applied after {a['claims_applied_s']:.1f} s  "
            f"every place shows the owner after {(a.get('every_place_s') or {}).get('max', 0):.1f} s"
        )
    for name in ("claims", "claims_outbox"):
        if (c := r.get(name)) is not None:
            lines.append(
                f"{name:<14}{c['clicks']} clicks: every place shows the owner after "
                f"{c['every_place_s']['max']:.1f} s (p50 {c['every_place_s']['p50']:.1f})  "
                f"more urgent no later {c['urgent_first']['more_urgent_no_later_pct']:g} %  "
                f"chat.update {c['chat_update_calls']} (429: {c['chat_update_429']})"
            )
    if b := r.get("burst"):
        lines.append(
            f"burst   {b['alerts']} alerts → all visible after {b['all_visible_s']:.1f} s  "
            f"messages {b['messages']} (digests {b['digests']})  429s {b['rate_limited_429']}  "
            f"lost {b['lost']}  twice {b['duplicates']}  only in fallback text {b['only_in_fallback_text']}"
        )
    if c := r.get("teams"):
        s = c["latency_ms"]
        lines.append(
            f"teams   {c['invokes']} invokes: p50 {s['p50']:.0f} ms  p99 {s['p99']:.0f}  max {s['max']:.0f}  "
            f"answers {c['answers']}  all ok: {yes(c['all_ok'])}  "
            f"one owner: {yes(c['one_owner_per_claimed_alert'])}"
        )
    for name in ("steady", "steady4", "steady_low"):
        if (d := r.get(name)) is None:
            continue
        s = d["card_latency_s"]
        lines.append(
            f"{name:<8}{d['rate_per_s']:g}/s × {d['seconds']:g} s, {d['channels']} ch: "
            f"card p50 {s['p50']:.2f} s  p90 {s['p90']:.2f}  p99 {s['p99']:.2f}  max {s['max']:.2f}  "
            f"(after the answer p99 {(d.get('card_after_webhook_answer_s') or {}).get('p99', 0):.2f})  "
            f"webhook p99 {d['webhook_ms']['p99']:.0f} ms  messages {d['messages']}  lost {d['lost']}  "
            f"twice {d['duplicates']}"
        )
    for name in doc.get("errors", {}):
        lines.append(f"{name:<8}FAILED (see chat.md)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="small counts; writes chat-quick.*")
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help="comma-separated subset of " + ",".join(SCENARIOS)
    )
    parser.add_argument("--rate", type=float, default=100.0, help="steady: webhooks per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="steady: seconds of sending")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the server, e.g. HOTLOOP_DELIVERY_BATCH=500 (repeatable)",
    )
    parser.add_argument(
        "--profile", metavar="SCENARIO", default="",
        help="run that scenario's server under py-spy: collapsed stacks in bench/results/chat-profile-*.txt",
    )
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("BENCH_PG_ADMIN_URL", ingest.PG_ADMIN_URL),
        help="a PostgreSQL URL allowed to CREATE/DROP DATABASE",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = min(args.seconds, 5.0)
    if any("=" not in item for item in args.server_env):
        parser.error("--server-env takes NAME=VALUE")
    if not 0 < args.rate <= 500 or not 0 < args.seconds <= 120:
        parser.error("--rate in (0, 500], --seconds in (0, 120]")
    unknown = {s.strip() for s in args.only.split(",") if s.strip()} - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return args


async def main_async(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, Any], dict[str, str]]:
    wanted = [s for s in SCENARIOS if s in {x.strip() for x in args.only.split(",")}]
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in wanted:
        print(f"[chat] {name} ({args.db}) …", flush=True)
        started = time.monotonic()
        try:
            results[name] = await asyncio.wait_for(SCENARIOS[name](args, workdir), timeout=600)
            results[name]["wall_s"] = round(time.monotonic() - started, 1)
        except Exception as exc:  # one failing scenario is reported, the others still run
            log = workdir / f"{name}.log"
            errors[name] = f"{type(exc).__name__}: {exc}\n--- server log tail ---\n{ingest.tail(log, 40)}"
            print(f"[chat] {name} FAILED: {type(exc).__name__}: {exc}", flush=True)
        else:
            print(f"[chat] {name} done in {results[name]['wall_s']:.0f} s", flush=True)
    return results, errors


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python bench/chat.py " + " ".join(sys.argv[1:] if argv is None else argv)
    machine = ingest.machine_info([args.db], args.pg_admin_url)
    with tempfile.TemporaryDirectory(prefix="hotloop-chat-") as tmp:
        results, errors = asyncio.run(main_async(args, Path(tmp)))
    doc = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command.strip(),
        "machine": machine,
        "settings": {
            "db": args.db,
            "quick": args.quick,
            "rate": args.rate,
            "seconds": args.seconds,
            "server_env": args.server_env,
        },
        "goals": {
            "ack_p99_ms": GOAL_ACK_P99_MS,
            "slack_ack_limit_ms": SLACK_ACK_LIMIT_MS,
            "burst_all_visible_s": GOAL_BURST_S,
            "steady_one_channel_p99_s": GOAL_STEADY_P99_S,
            "steady_low_p99_s": GOAL_LOW_P99_S,
        },
        "results": results,
        "errors": errors,
    }
    if args.profile and profile_path(args, args.profile).exists():
        summary = ingest.summarize_profile(profile_path(args, args.profile))
        profile_path(args, args.profile).with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
        doc["profile"] = {"scenario": args.profile, "top": summary}
        print("profile buckets:", summary.get("buckets"))
    print()
    print(table(doc))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "chat-quick" if args.quick else "chat"
    (RESULTS / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(doc))
    print(f"\nwrote {RESULTS / (stem + '.json')} and {RESULTS / (stem + '.md')}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
