"""The outbox worker: takes due rows, renders from the alert's *current* state, calls the `Chat` port.

- Rows are leased by pushing `next_attempt_at` forward (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so a
  crashed worker's rows come back by themselves and two workers never take the same row. The worker
  holds no session: each read and write is one call to `storage.queries.outbox` (or `bot.cards.views`).
- Work is grouped in lanes: one per channel for new cards and direct messages, in order and paced for
  its platform (Slack: one post a second per channel); lanes run concurrently, so one slow or
  rate-limited channel stalls no other. Card updates and thread lines share one lane that serves every
  place of every alert, coalesced and most urgent first (`jobs.delivery_places`).
- The first card for an idle channel goes out at once; what arrives during the channel's paced second
  stays in the table and goes out together at the next slot: a burst becomes one digest message (each
  alert with its own button).
- A 429 holds only what the platform limited (a channel, or one method workspace-wide) until
  `Retry-After`; the rows wait without counting an attempt ("hold"). Permanent errors are marked failed,
  recorded on the alert's history and counted — never silently dropped.
- A card refused for its content is sent again at once, smaller (`jobs.outbox_jobs.error_verdict`),
  and a post that may have gone out unrecorded is looked up before it is sent again
  (`jobs.delivery_posts`).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from bot.chat.port import Chat, ChatError
from bot.domain import utcnow
from bot.outbox import OutboxSignal, direct_values
from bot.telemetry import DELIVERIES
from jobs.delivery_ops import Job, JobHandler, LaneOps, Verdict, error_verdict
from jobs.delivery_places import PLACE_KINDS, PLACES_LANE, is_rate_limit
from jobs.delivery_posts import LOOKUP
from storage.db import SessionFactory
from storage.queries import outbox as outbox_queries

log = structlog.get_logger("hotloop.delivery")

Clock = Callable[[], datetime]


@dataclass
class _Lane:
    queue: deque[Job] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    next_send_at: float = 0.0  # loop time before which this channel gets no new call (pacing)


def backoff_seconds(attempts: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter (AWS style), so retries of many rows don't align."""
    return random.uniform(base, min(cap, base * 2 ** min(attempts, 16)))


class DeliveryWorker:
    def __init__(
        self,
        sessions: SessionFactory,
        chats: Mapping[str, Chat],
        *,
        signal: OutboxSignal | None = None,
        batch: int = 100,
        max_attempts: int = 12,
        lease_seconds: float = 30.0,  # a crashed worker's rows come back after this
        group_threshold: int = 4,
        poll_seconds: float = 1.0,
        take_gap_seconds: float = 0.02,
        clock: Clock = utcnow,
        handlers: Mapping[str, JobHandler] | None = None,
        max_queued: int = 2000,
    ) -> None:
        self.sessions = sessions
        self.chats = chats
        self.signal = signal or OutboxSignal()
        self.batch = batch
        self.max_attempts = max_attempts
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.take_gap_seconds = take_gap_seconds
        self.clock = clock
        self.ops = LaneOps(sessions, chats, clock=clock, group_threshold=group_threshold, handlers=handlers)
        self._lane_limit = asyncio.Semaphore(32)
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self.max_queued = max_queued
        self._reported: dict[tuple[str, str, str], datetime] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Keep taking due rows while lanes work: a slow or paced channel never holds up the next take."""
        while not stop.is_set():
            try:
                taken = await self.take_and_dispatch()
            except Exception:  # the worker must outlive any one bad moment (db restart…)
                log.exception("delivery.loop_error")
                taken = 0
            if taken < self.batch:
                # At most one take per gap: under a webhook flood every commit rings the signal, and a
                # take per ring costs a query each time for rows that mostly wait on a busy lane.
                # A ring during the gap stays set, so nothing waits longer than the gap for it.
                await asyncio.sleep(self.take_gap_seconds)
                await self.signal.wait(self.poll_seconds)
        await self._shutdown_lanes()

    async def run_once(self) -> int:
        """Take what is due once and wait until its lanes are done (tests, `drain`)."""
        taken = await self.take_and_dispatch()
        await self.wait_idle()
        return taken

    async def drain(self, *, timeout: float = 30.0) -> None:  # noqa: ASYNC109 (a deadline, not a wait)
        """Run until nothing is due (tests, `hotloop demo`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while await self.run_once() and loop.time() < deadline:
            pass

    async def take_and_dispatch(self) -> int:
        self._forget_idle_lanes()
        if sum(len(lane.queue) for lane in self._lanes.values()) >= self.max_queued:
            return 0  # enough work in hand; leases must not expire while rows wait in memory
        jobs = await self._take()
        for job in jobs:
            lane_key = PLACES_LANE if job.kind in PLACE_KINDS else job.lane
            self._lanes.setdefault(lane_key, _Lane()).queue.append(job)
        for key, lane in self._lanes.items():
            if lane.queue and (lane.task is None or lane.task.done()):
                lane.task = asyncio.create_task(self._run_lane(key, lane), name=f"lane-{key[0]}")
        return len(jobs)

    async def wait_idle(self) -> None:
        while tasks := [lane.task for lane in self._lanes.values() if lane.task and not lane.task.done()]:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _busy_channels(self) -> list[tuple[str, str]]:
        return [
            key
            for key, lane in self._lanes.items()
            if key[0] in self.chats and lane.task is not None and not lane.task.done()
        ]

    def _forget_idle_lanes(self) -> None:
        now = asyncio.get_running_loop().time()
        idle = [
            k
            for k, lane in self._lanes.items()
            # a lane keeps its slot grid while its channel is busy (see _run_batches)
            if not lane.queue and (lane.task is None or lane.task.done()) and lane.next_send_at <= now - 5.0
        ]
        for key in idle:
            del self._lanes[key]

    async def _shutdown_lanes(self) -> None:
        """Rows still waiting in memory go back to the table at once (another worker may take them)."""
        waiting = [job for lane in self._lanes.values() for job in lane.queue]
        for lane in self._lanes.values():
            lane.queue.clear()
        await self._release(waiting, at=self.clock())
        try:
            await asyncio.wait_for(self.wait_idle(), timeout=10)
        except TimeoutError:
            log.warning("delivery.stopped_with_work_in_flight")

    async def _take(self) -> list[Job]:
        now = self.clock()
        rows = await outbox_queries.lease_due(
            self.sessions, now=now, limit=self.batch, until=now + self.lease,
            # busy channels' rows stay unleased until the lane is free, then come as one batch (a digest)
            skip_channels=self._busy_channels(),
        )
        return [
            Job(row.id, row.kind, row.platform, row.destination, row.alert_id, row.payload, row.attempts,
                row.created_at)
            for row in rows
        ]

    async def _run_lane(self, key: tuple[str, str], lane: _Lane) -> None:
        """One channel in order, paced for its platform (or the places lane: rounds of updates and thread
        lines). After its last call the channel keeps its slot until the pace allows the next one: rows
        arriving meanwhile stay in the table and come together then (a digest), not one by one."""
        chat = self.chats.get(key[0])
        pace = float(getattr(chat, "pace_seconds", 0.0)) if chat else 0.0
        loop = asyncio.get_running_loop()
        async with self._lane_limit:
            while lane.queue:
                jobs = list(lane.queue)
                lane.queue.clear()
                if await self._run_batches(key, lane, jobs, pace):
                    return  # held by a 429: the rest went back to the table
        await asyncio.sleep(max(0.0, lane.next_send_at - loop.time()))
        self.signal.notify()  # rows for this channel may have waited for the lane: take them now

    async def _run_batches(self, key: tuple[str, str], lane: _Lane, jobs: list[Job], pace: float) -> bool:
        """The lane's batches in order; True when a 429 held the channel and the rest went back."""
        loop = asyncio.get_running_loop()
        handled: set[int] = set()
        for batch in self.ops.plan_lane(jobs, pace=pace):
            await asyncio.sleep(max(0.0, lane.next_send_at - loop.time()))
            lane.next_send_at = _next_slot(lane.next_send_at, loop.time(), pace)
            verdicts = await self._attempt(batch)
            await self._record(batch, verdicts)
            handled.update(job.id for job in batch)
            # a throttled lookup (conversations.history's own tier) holds its row, not the channel
            waits = [v.retry_after for v in verdicts.values()
                     if v.retry_after and not (v.error or "").startswith(LOOKUP)]
            if waits and key == PLACES_LANE:  # held rows wait in the table: take them when due
                loop.call_later(min(waits), self.signal.notify)
            elif waits:
                rest = [job for job in jobs if job.id not in handled]
                await self._hold_lane(key, lane, rest, max(waits))
                return True
        return False

    async def _hold_lane(
        self, key: tuple[str, str], lane: _Lane, rest: list[Job], retry_after: float
    ) -> None:
        """A 429: this channel waits `Retry-After`; what the lane still holds goes back to the table."""
        until = self.clock() + timedelta(seconds=retry_after)
        self.ops.block(key[0], key[1], until)
        rest = rest + list(lane.queue)
        lane.queue.clear()
        await self._push_back_lane(key, until)
        await self._release(rest, at=until)

    async def _attempt(self, batch: list[Job]) -> dict[int, Verdict]:
        try:
            return await self.ops.execute(batch)
        except ChatError as error:
            return {j.id: _held(error_verdict(j, error), error) for j in batch}
        except Exception as error:  # never let one bad row kill the lane
            log.exception("delivery.unexpected_error", kind=batch[0].kind)
            return {j.id: Verdict("retry", f"{type(error).__name__}: {error}"[:500]) for j in batch}

    async def _record(self, batch: list[Job], verdicts: dict[int, Verdict]) -> None:
        """Each row's outcome, with the failures' alert events and admin DMs, in one transaction."""
        now = self.clock()
        changes: list[tuple[int, dict[str, Any]]] = []
        events: list[dict[str, Any]] = []
        notices: list[tuple[str, int | None]] = []
        for job in batch:
            verdict = verdicts.get(job.id, Verdict("retry", "no verdict"))
            values, status = self._outcome(job, verdict, now)
            DELIVERIES.labels(platform=job.platform, kind=job.kind, result=status).inc()
            changes.append((job.id, values))
            if status == "failed":
                events += self._failure_events(job, verdict, now)
                notice = self._admin_notice(job, verdict, now)
                if notice is not None:
                    notices.append((notice, job.alert_id))
        await outbox_queries.record_outcomes(
            self.sessions, changes=changes, events=events,
            new_rows=self._direct_rows(notices, now) if notices else None,
        )

    def _outcome(self, job: Job, verdict: Verdict, now: datetime) -> tuple[dict[str, Any], str]:
        """The outbox row's new values for this verdict, and the row's resulting status."""
        values: dict[str, Any] = {"last_error": verdict.error}
        if verdict.payload is not None:
            values["payload"] = verdict.payload
        status = verdict.status
        smaller = bool(verdict.extra.get("smaller"))  # a smaller rendering comes next: never give up here
        if status == "retry" and job.attempts >= self.max_attempts and not smaller:
            status = "failed"
        if status in ("done", "failed"):
            values |= {"status": status, "done_at": now}
        elif status == "defer":  # waiting for an earlier row (the card post) — not a failed attempt
            values |= {"next_attempt_at": now + timedelta(seconds=1), "attempts": job.attempts - 1}
        elif status == "hold":  # the platform's rate limit asked to wait — not a failed attempt either
            wait = timedelta(seconds=verdict.retry_after or 1.0)
            values |= {"next_attempt_at": now + wait, "attempts": job.attempts - 1}
        elif smaller:
            values["next_attempt_at"] = now
        else:
            delay = verdict.retry_after or backoff_seconds(job.attempts)
            values["next_attempt_at"] = now + timedelta(seconds=delay)
        return values, status

    def _failure_events(self, job: Job, verdict: Verdict, now: datetime) -> list[dict[str, Any]]:
        """Logged, and recorded on the alert's history (a row without an alert has none)."""
        log.error(
            "delivery.failed",
            kind=job.kind,
            platform=job.platform,
            destination=job.destination,
            alert_id=job.alert_id,
            error=verdict.error,
            attempts=job.attempts,
        )
        if job.alert_id is None:
            return []
        data = dict(kind=job.kind, platform=job.platform, destination=job.destination, error=verdict.error)
        return [dict(alert_id=job.alert_id, kind="delivery_failed", platform="hotloop", at=now, data=data)]

    def _admin_notice(self, job: Job, verdict: Verdict, now: datetime) -> str | None:
        """A permanent failure is shown to admins by DM, at most once an hour per place and error.
        Failed DMs are not reported by DM (that could loop)."""
        if job.kind == "dm":
            return None
        place = (job.platform, job.destination, (verdict.error or "")[:80])
        last = self._reported.get(place)
        if last is not None and now - last < timedelta(hours=1):
            return None
        self._reported[place] = now
        where = f"{job.platform}:{job.destination}" if job.destination else job.platform
        return (
            f"hotloop could not deliver a {job.kind} to {where} after {job.attempts} attempts: "
            f"{verdict.error}. Check the channel exists and the app is invited to it."
        )

    def _direct_rows(self, notices: list[tuple[str, int | None]], now: datetime) -> outbox_queries.NewRows:
        """Each notice as a DM to every admin on a platform this server can reach."""

        def rows(admins: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
            return [
                direct_values(platform=platform, user=user, text=text, alert_id=alert_id, now=now)
                for text, alert_id in notices
                for platform, user in admins
                if platform in self.chats
            ]

        return rows

    async def _push_back_lane(self, lane: tuple[str, str], until: datetime) -> None:
        """A 429 for this channel: every pending row for it waits; other channels are untouched."""
        if lane[0] not in self.chats:
            return
        await outbox_queries.push_back_channel(
            self.sessions, platform=lane[0], destination=lane[1], until=until
        )

    async def _release(self, jobs: list[Job], *, at: datetime) -> None:
        """Give back leased rows we did not get to: due again at `at`, and not counted as an attempt."""
        await outbox_queries.release(self.sessions, rows=[(job.id, job.attempts - 1) for job in jobs], at=at)


def _held(verdict: Verdict, error: ChatError) -> Verdict:
    """A 429 is a wait the platform asked for, not a failed attempt: the row is held, not retried."""
    if verdict.status == "retry" and is_rate_limit(error):
        verdict.status = "hold"
    return verdict


def _next_slot(slot: float, now: float, pace: float) -> float:
    """When a paced channel may send again: one pace after this slot while the channel keeps to its grid
    (a call a little late does not push every later one back: on average one a pace, as the platform
    counts), one pace after now when it fell half a slot behind or was idle."""
    return (slot if now - slot < pace / 2 else now) + pace
