"""Live updates for open dashboard pages: GET /app/events, a server-sent event stream.

One poller per process reads the new `AlertEvent` rows every second (id after the last seen: the
primary key's range) and hands each to every subscriber that may see the alert's team, as
`event: alert` with data {"key", "version", "status"}. A change made anywhere — a Slack click, a Teams
card, the SLA sweep, another browser — is an alert event, so every open page hears of it. Each
subscriber has a bounded queue: a client too slow to keep up is dropped (its EventSource reconnects and
the page reloads what changed). The poller runs only while someone listens. Comments every 15 s keep
proxies from closing an idle stream; a stream also ends after STREAM_SECONDS (the browser reconnects),
so a server that is stopping never waits on an open page for long.

A page names the newest event it has seen: `?after=<id>` (the id when it was rendered, `stream_url`) or,
on a reconnect, the browser's Last-Event-ID. Changes made after that id but before the stream opened are
sent first, so a change made while the page was loading is not lost; a gap too long to replay is one
`event: stale` (the page offers a reload).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from adapters.web.session import require_user
from bot.web.pages import changes_after, newest_event_id
from bot.web.users import WebUser, can_see_team
from storage.db import SessionFactory
from storage.queries.timeline import AlertChange

log = structlog.get_logger("hotloop.web.events")

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 300.0
QUEUE_SIZE = 256
BATCH = 500
# events committed out of id order (concurrent transactions) are still found: each poll re-reads this
# many ids below the newest seen, and a memory of recent ids keeps them from being sent twice
LOOKBACK = 200
MEMORY = 5000
EVENT_ID_DIGITS = 18
STALE = "stale"  # queued instead of a change: the gap since `after` was too long to replay

router = APIRouter()


@dataclass(eq=False)
class Subscriber:
    user: WebUser
    queue: asyncio.Queue[AlertChange | str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: bool = False


class EventHub:
    """The per-process fan-out: one poller, many subscribers."""

    def __init__(self, sessions: SessionFactory, *, poll_seconds: float = POLL_SECONDS) -> None:
        self.sessions = sessions
        self.poll_seconds = poll_seconds
        self.subscribers: set[Subscriber] = set()
        self.task: asyncio.Task[None] | None = None
        self.newest: int | None = None
        self.floor = 0  # the poller's start: the look back never reaches below it (no stale replays)
        self.seen: deque[int] = deque(maxlen=MEMORY)
        self.seen_set: set[int] = set()

    async def subscribe(self, user: WebUser, *, after: int | None = None) -> Subscriber:
        """A new subscriber; with `after`, the changes it missed since that event id are queued first."""
        if self.task is None or self.task.done():  # no poller: start from now, not from its last poll
            self.newest = self.floor = await newest_event_id(self.sessions)
        subscriber = Subscriber(user)
        self.subscribers.add(subscriber)
        upto = self.newest or 0  # from here on (no await since the add) the poller hands changes to it
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run(), name="hotloop.web.events")
        if after is not None and after < upto:
            try:
                await self._replay(subscriber, after=after, upto=upto)
            except BaseException:  # cancelled (the client left) or the database failed: leave nothing
                self.unsubscribe(subscriber)
                raise
        return subscriber

    async def _replay(self, subscriber: Subscriber, *, after: int, upto: int) -> None:
        missed = await changes_after(self.sessions, after_id=after, limit=QUEUE_SIZE)
        shown = [change for change in missed if change.event_id <= upto]
        if len(shown) == QUEUE_SIZE and shown[-1].event_id < upto:  # more than a stream holds: reload
            shown = []
            _offer(subscriber, STALE)
        for change in shown:
            if can_see_team(subscriber.user, change.team_id) and not _offer(subscriber, change):
                return

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        if not self.subscribers and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a database hiccup: try again next second
                log.warning("web.events.poll_failed", error=type(error).__name__)
            await asyncio.sleep(self.poll_seconds)

    def _remember(self, event_id: int) -> bool:
        """True the first time `event_id` is seen."""
        if event_id in self.seen_set:
            return False
        if len(self.seen) == self.seen.maxlen:
            self.seen_set.discard(self.seen[0])
        self.seen.append(event_id)
        self.seen_set.add(event_id)
        return True

    async def poll(self) -> None:
        """Read the new events once and hand them out."""
        newest = self.newest or 0
        changes = await changes_after(self.sessions, after_id=max(self.floor, newest - LOOKBACK), limit=BATCH)
        for change in changes:
            self.newest = max(self.newest or 0, change.event_id)
            if self._remember(change.event_id):
                self.publish(change)

    def publish(self, change: AlertChange) -> None:
        for subscriber in list(self.subscribers):
            if subscriber.dropped or not can_see_team(subscriber.user, change.team_id):
                continue
            if not _offer(subscriber, change):
                self.subscribers.discard(subscriber)


def _offer(subscriber: Subscriber, item: AlertChange | str) -> bool:
    """Queue `item`; False (and the subscriber marked dropped) when its queue is full."""
    try:
        subscriber.queue.put_nowait(item)
    except asyncio.QueueFull:  # too slow: end its stream (the browser reconnects with Last-Event-ID)
        subscriber.dropped = True
        return False
    return True


def hub_of(request: Request) -> EventHub:
    state = request.app.state
    hub: EventHub | None = getattr(state, "web_event_hub", None)
    if hub is None:
        poll = getattr(state, "web_event_poll_seconds", POLL_SECONDS)
        hub = EventHub(state.ctx.sessions, poll_seconds=poll)
        state.web_event_hub = hub
    return hub


def stream_url(newest_event: int) -> str:
    """The stream's address for a page rendered when `newest_event` was the newest: it resumes there."""
    return f"/app/events?after={newest_event}"


def frame(change: AlertChange | str) -> str:
    if isinstance(change, str):
        return f"event: {change}\ndata: {{}}\n\n"
    data = json.dumps({"key": change.key, "version": change.version, "status": change.status})
    return f"id: {change.event_id}\nevent: alert\ndata: {data}\n\n"


async def _stream(hub: EventHub, user: WebUser, *, after: int | None, heartbeat: float, lifetime: float
                  ) -> AsyncIterator[str]:
    # subscribes when the response starts: a client gone before that never subscribed (a generator that
    # never ran never runs its `finally`)
    subscriber = await hub.subscribe(user, after=after)
    loop = asyncio.get_running_loop()
    ends = loop.time() + lifetime
    try:
        yield "retry: 3000\n\n"
        while not subscriber.dropped and loop.time() < ends:
            wait = min(heartbeat, max(0.0, ends - loop.time()))
            try:
                change = await asyncio.wait_for(subscriber.queue.get(), timeout=wait)
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            yield frame(change)
    finally:
        hub.unsubscribe(subscriber)


def resume_after(request: Request) -> int | None:
    """The event id a reconnecting browser last heard (Last-Event-ID), else the page's `after`; ValueError
    when it is not an event id."""
    raw = request.headers.get("last-event-id") or request.query_params.get("after")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > EVENT_ID_DIGITS:
        raise ValueError(raw)
    return int(raw)


@router.get("/app/events")
async def alert_events(request: Request, user: WebUser = Depends(require_user)) -> Response:
    try:
        after = resume_after(request)
    except ValueError:
        return JSONResponse({"error": "after (or Last-Event-ID) must be an event id: digits only"},
                            status_code=422)
    state = request.app.state
    stream = _stream(hub_of(request), user, after=after,
                     heartbeat=getattr(state, "web_event_heartbeat", HEARTBEAT_SECONDS),
                     lifetime=getattr(state, "web_event_lifetime", STREAM_SECONDS))
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def stop(hub: EventHub) -> None:
    """Stop the poller (tests; a stopping process cancels it with its loop anyway)."""
    task, hub.task = hub.task, None
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
