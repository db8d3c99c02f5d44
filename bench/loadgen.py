"""The load side of bench/ingest.py: realistic signed generic webhooks over raw keep-alive HTTP/1.1.

Why not httpx: on this 2-CPU machine the client shares the CPUs with the server it measures, and
httpx cost ~1 ms of CPU per request (more than the server under test). `RawConnection` writes a
prepared request and reads the status line, headers and Content-Length body: ~0.05 ms per request,
so the server gets the CPU and the figures describe the server. It speaks just enough HTTP/1.1
for uvicorn's answers (Content-Length bodies, keep-alive, `Connection: close`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.sources.generic import sign

SOURCE_SECRET = "bench-source-secret-0123456789abcdef"
SOURCE = "bench"
REQUEST_TIMEOUT = 30.0
MAX_REQUESTS = 2_000_000  # hard cap, whatever --seconds says


# ---------------------------------------------------------------------------------------------
# Payloads


COMPLAINTS = [
    "Waited 40 minutes and nobody came to the table. The manager was rude when I asked.",
    "Charged twice for the same order, still no refund after two weeks.",
    "The room was dirty and the air conditioning did not work.",
    "Delivery arrived cold and an hour late. Unacceptable.",
    "Support hung up on me twice. I want to talk to someone who can actually help.",
    "The product broke after three days and the store refused to exchange it.",
    "Booking system kept failing, had to call three times.",
    "Staff were friendly but the wait was far too long.",
]
PRAISE = [
    "Great service, thank you!",
    "Loved it, but the parking sign is confusing. Happy to explain if you call me.",
    "Fast and friendly, see you next time.",
    "",
]
NAMES = ["Dana Scully", "Fox Mulder", "Walter Skinner", "Monica Reyes", "John Doggett", "Jeffrey Spender"]
LOCATIONS = ["017", "042", "101", "230", "311"]


@dataclass
class Mix:
    detractors: int = 0
    promoters_contact: int = 0
    happy: int = 0


def make_payload(rng: random.Random, external_id: str, mix: Mix) -> dict[str, Any]:
    name = rng.choice(NAMES)
    customer = {
        "id": f"c-{rng.randrange(100_000)}",
        "name": name,
        "email": name.lower().replace(" ", ".") + "@example.com",
    }
    attributes = {
        "location": rng.choice(LOCATIONS),
        "region": rng.choice(["north", "south", "east", "west"]),
        "channel": rng.choice(["in-store", "online", "phone"]),
    }
    roll = rng.random()
    base: dict[str, Any] = {
        "id": external_id,
        "submitted_at": datetime.now(UTC).isoformat(),
        "customer": customer,
        "attributes": attributes,
    }
    if roll < 0.6:  # detractor with a comment and answers: an alert
        mix.detractors += 1
        base.update(
            nps=rng.randint(0, 6),
            contact_requested=rng.random() < 0.3,
            comment=rng.choice(COMPLAINTS),
            answers=[
                {
                    "question": "Staff friendliness",
                    "value": rng.randint(1, 3),
                    "scale_min": 1,
                    "scale_max": 5,
                },
                {"question": "Waiting time", "value": rng.randint(1, 5), "scale_min": 1, "scale_max": 5},
                {"question": "What did you buy?", "value": "lunch menu"},
            ],
        )
    elif roll < 0.8:  # promoter asking to be contacted: a `normal` alert
        mix.promoters_contact += 1
        base.update(
            nps=rng.randint(9, 10),
            contact_requested=True,
            comment=rng.choice(PRAISE[:2]),
            answers=[{"question": "Staff friendliness", "value": 5, "scale_min": 1, "scale_max": 5}],
        )
    else:  # happy: no alert
        mix.happy += 1
        base.update(
            nps=rng.randint(9, 10),
            contact_requested=False,
            comment=rng.choice(PRAISE),
            answers=[
                {"question": "Staff friendliness", "value": rng.randint(4, 5), "scale_min": 1, "scale_max": 5}
            ],
        )
    return base


# ---------------------------------------------------------------------------------------------
# Load generator


class HttpError(Exception):
    """The connection broke or the answer was not HTTP/1.1 as uvicorn speaks it."""


class RawConnection:
    """One keep-alive HTTP/1.1 connection: POST a body, read back the status (the body is skipped)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        lines = [f"POST {path} HTTP/1.1", f"host: {self.host}:{self.port}", f"content-length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
            status, length, close = _parse_head(head)
            if length:
                await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
            await self.close()
            raise HttpError(type(exc).__name__) from exc
        if close:
            await self.close()
        return status

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """→ (status, Content-Length, whether the server closes the connection)."""
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    if not status_line.startswith("HTTP/1.1 "):
        raise HttpError(f"not an HTTP/1.1 answer: {status_line[:40]!r}")
    length, close = 0, False
    for line in header_lines:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            close = value.strip().lower() == "close"
        elif name == "transfer-encoding":
            raise HttpError("chunked answers are not expected from this endpoint")
    return int(status_line[9:12]), length, close


@dataclass
class LoadResult:
    sent: int = 0
    accepted: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    window_s: float = 0.0
    warmup_sent: int = 0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    server_peak_rss_mb: float = 0.0
    machine_busy_s: float = 0.0  # all CPUs, every process (other work on the machine shows up here)
    mix: Mix = field(default_factory=Mix)


def busy_seconds(times: Any) -> float:
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


@dataclass
class _Window:
    """When warm-up ends and measuring stops (perf_counter seconds)."""

    measure_start: float
    deadline: float
    last_done: float = 0.0


async def _sample_rss(server: psutil.Process, stop: asyncio.Event) -> float:
    peak = 0
    while not stop.is_set():
        with contextlib.suppress(psutil.Error):
            peak = max(peak, server.memory_info().rss)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)
    return peak / 2**20


async def _worker(
    conn: RawConnection, counter: Any, rng: random.Random, tag: str, window: _Window,
    result: LoadResult, statuses: Counter[str],
) -> None:
    for n in counter:
        started = time.perf_counter()
        if started >= window.deadline:
            break
        body = json.dumps(make_payload(rng, f"{tag}-{n}", result.mix), separators=(",", ":")).encode()
        headers = {
            "content-type": "application/json",
            "x-hotloop-signature": sign(SOURCE_SECRET, body, int(time.time())),
        }
        try:
            status = str(await conn.post(f"/webhooks/{SOURCE}", body, headers))
        except HttpError as exc:
            status = str(exc)
        done = time.perf_counter()
        if started < window.measure_start:
            result.warmup_sent += 1
            continue
        window.last_done = max(window.last_done, done)
        result.sent += 1
        statuses[status] += 1
        result.latencies_ms.append((done - started) * 1000)
        if status in ("200", "202"):
            result.accepted += 1
        else:
            result.errors += 1
    await conn.close()


async def run_load(
    base_url: str,
    server: psutil.Process,
    *,
    seconds: float,
    warmup: float,
    concurrency: int,
    tag: str,
    max_requests: int = MAX_REQUESTS,
) -> LoadResult:
    """`concurrency` connections, each sending its next webhook as soon as the last is answered."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    result, statuses = LoadResult(), Counter[str]()
    counter, rng = iter(range(max_requests)), random.Random(12345)
    start = time.perf_counter()
    window = _Window(measure_start=start + warmup, deadline=start + warmup + seconds)
    window.last_done = window.measure_start
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(server, stop_sampling))
    connections = [RawConnection(host, int(port)) for _ in range(concurrency)]
    jobs = [_worker(c, counter, rng, tag, window, result, statuses) for c in connections]
    tasks = [asyncio.create_task(job) for job in jobs]
    await asyncio.sleep(max(0.0, window.measure_start - time.perf_counter()))
    server_before = _cpu_seconds(server)
    client_before = sum(os.times()[:2])
    machine_before = busy_seconds(psutil.cpu_times())
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + warmup + REQUEST_TIMEOUT + 10)
    result.client_cpu_s = sum(os.times()[:2]) - client_before
    result.machine_busy_s = busy_seconds(psutil.cpu_times()) - machine_before
    server_after = _cpu_seconds(server)
    if server_before is not None and server_after is not None:
        result.server_cpu_s = server_after - server_before
    stop_sampling.set()
    result.server_peak_rss_mb = await sampler
    result.window_s = max(window.last_done - window.measure_start, 1e-9)
    result.statuses = dict(statuses)
    return result


def _cpu_seconds(process: psutil.Process) -> float | None:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return None
    return float(times.user + times.system)
