"""Card updates and thread lines: every place of every alert, coalesced, most urgent first, within the
platforms' rate limits.

The delivery worker sends every `card.update` and `thread.reply` row it holds through one lane
(`PLACES_LANE`), a round at a time (`PlaceRound.run`):

- each row becomes one call per place the alert's card lives; its progress (`payload["done"]`) skips
  the places already done, `answered` the places the clicking adapter refreshed itself;
- updates of the same message coalesce: a digest listing 40 claimed alerts is one chat call, rendered
  once from the database at send time;
- calls go out most urgent first: overdue → severity → age of the most urgent alert they serve;
- calls are grouped by the scope the platform limits them in: the whole workspace for a method limited
  per workspace (`Chat.workspace_limited`, e.g. Slack's `chat.update`, Tier 3 ≈ 50 a minute), else the
  channel. A scope's calls go one at a time, so a 429 holds the rest of that scope until `Retry-After`
  instead of drawing a volley of 429s; other scopes carry on. A row left waiting only on a hold gets the
  verdict "hold": back to the table until then, not a failed attempt (a claim storm is minutes of
  Tier 3, not a dozen failures).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from bot.cards.model import Card, card_at_level, digest_at_level, reply_at_level
from bot.cards.views import burst_digest, render_cards, render_places
from bot.chat.port import Chat, ChatError
from jobs.delivery_posts import place_of
from jobs.outbox_jobs import Job, Verdict, error_verdict
from storage.db import SessionFactory
from storage.models import CardRef
from storage.queries import outbox as outbox_queries

PLACES_LANE = ("places", "*")  # the lane key of every card.update and thread.reply row
PLACE_KINDS = frozenset({"card.update", "thread.reply"})
WORKSPACE = "*"  # the channel part of a scope that spans the whole workspace
SCOPES_AT_ONCE = 16

Scope = tuple[str, str]  # (platform, channel or WORKSPACE)
Urgency = tuple[bool, int, datetime]
LEAST_URGENT: Urgency = (True, 0, datetime.max.replace(tzinfo=UTC))


class Holds(Protocol):
    """Where the worker keeps its rate-limit holds (`jobs.delivery_ops.LaneOps`)."""

    sessions: SessionFactory
    chats: Mapping[str, Chat]
    clock: Callable[[], datetime]

    def held_for(self, scope: Scope) -> float: ...

    def hold(self, scope: Scope, seconds: float) -> None: ...


def urgency(card: Card | None) -> Urgency:
    """Overdue first, then the most severe, then the oldest (the digests' order, bot.cards.views)."""
    if card is None:
        return LEAST_URGENT
    received = card.received_at or LEAST_URGENT[2]
    return (not card.sla_overdue, -card.severity.rank, received.replace(tzinfo=received.tzinfo or UTC))


def is_rate_limit(error: ChatError) -> bool:
    """A 429 (Slack's `ratelimited`, also behind a lookup; Teams' HTTP 429): a wait, not a failure."""
    return error.retry_after is not None and (
        error.reason.endswith("ratelimited") or " HTTP 429" in error.reason
    )


@dataclass
class _Progress:
    """One row's round: places done, failed for good, left waiting; the error that ends it, if any."""

    done: list[int]
    failures: list[str]
    held: float = 0.0  # seconds until a hold on one of its places ends (0: none)
    error: ChatError | None = None  # transient: a counted attempt
    content: ChatError | None = None  # refused for its size: smaller next time

    def hold(self, seconds: float) -> None:
        self.held = max(self.held, seconds)


@dataclass
class _Call:
    """One chat call: a place to refresh (shared by every row that needs it) or one thread line."""

    kind: str
    ref: CardRef
    scope: Scope
    rows: list[tuple[Job, CardRef]] = field(default_factory=list)
    urgency: Urgency = LEAST_URGENT


class PlaceRound:
    def __init__(self, ops: Holds) -> None:
        self.ops = ops

    async def run(self, jobs: list[Job]) -> dict[int, Verdict]:
        progress = {j.id: _Progress(list(j.payload.get("done", [])), list(j.payload.get("failures", [])))
                    for j in jobs}
        verdicts: dict[int, Verdict] = {}
        calls: dict[tuple[object, ...], _Call] = {}
        for job in jobs:
            refs = await self._refs(job)
            if refs is None:
                verdicts[job.id] = Verdict("defer")
                continue
            for ref in refs:
                self._add(calls, job, ref)
        await self._rank(list(calls.values()))
        by_scope: dict[Scope, list[_Call]] = defaultdict(list)
        for call in sorted(calls.values(), key=_order):
            by_scope[call.scope].append(call)
        limit = asyncio.Semaphore(SCOPES_AT_ONCE)
        await asyncio.gather(*(self._run_scope(scope, c, progress, limit) for scope, c in by_scope.items()))
        for job in jobs:
            verdicts.setdefault(job.id, _verdict(job, progress[job.id]))
        return verdicts

    async def _refs(self, job: Job) -> list[CardRef] | None:
        """The places this row still has to reach; None while the alert's card post is pending."""
        assert job.alert_id is not None
        done = set(job.payload.get("done", []))
        only = job.payload.get("place")  # one place (the full response after a cut card, a failed answer)
        answered = [list(p) for p in job.payload.get("answered") or []]  # refreshed by the clicked adapter
        updates = job.kind == "card.update"
        refs = [
            r for r in await outbox_queries.places_of(self.ops.sessions, alert_id=job.alert_id)
            if (updates or r.audience != "digest") and r.id not in done
            and (not only or [r.platform, r.channel] == list(only))
            and [r.platform, r.channel, r.message_id] not in answered
        ]
        if not refs and not done and await outbox_queries.card_post_pending(self.ops.sessions,
                                                                            alert_id=job.alert_id):
            return None
        return refs

    def _add(self, calls: dict[tuple[object, ...], _Call], job: Job, ref: CardRef) -> None:
        if job.kind == "card.update":  # every row that refreshes this message shares its one call
            key: tuple[object, ...] = (job.kind, ref.platform, ref.channel, ref.message_id)
            workspace = "update_card" in getattr(self.ops.chats.get(ref.platform), "workspace_limited", ())
            scope = (ref.platform, WORKSPACE if workspace else ref.channel)
        else:
            key, scope = (job.kind, job.id, ref.id), (ref.platform, ref.channel)
        calls.setdefault(key, _Call(job.kind, ref, scope)).rows.append((job, ref))

    async def _rank(self, calls: list[_Call]) -> None:
        if len(calls) < 2:
            return
        alert_ids = sorted({job.alert_id or 0 for call in calls for job, _ in call.rows})
        cards = await render_cards(self.ops.sessions, alert_ids=alert_ids, audience="team",
                                   now=self.ops.clock())
        for call in calls:
            call.urgency = min(urgency(cards.get(job.alert_id or 0)) for job, _ in call.rows)

    async def _run_scope(self, scope: Scope, calls: list[_Call], progress: dict[int, _Progress],
                         limit: asyncio.Semaphore) -> None:
        async with limit:
            for call in calls:
                wait = self.ops.held_for(scope)
                if wait > 0:
                    for job, _ref in call.rows:
                        progress[job.id].hold(wait)
                    continue
                await self._attempt(call, progress)

    async def _attempt(self, call: _Call, progress: dict[int, _Progress]) -> None:
        try:
            await (await self._send(call))()
        except ChatError as error:
            if error.retry_after and not error.content and not error.permanent:
                self.ops.hold(call.scope, error.retry_after)  # the platform asks this scope to wait
            for job, ref in call.rows:
                _failed(progress[job.id], ref, error)
            return
        for job, ref in call.rows:
            progress[job.id].done.append(ref.id or 0)

    async def _send(self, call: _Call) -> Callable[[], Awaitable[None]]:
        """The call, its message rendered from the database now, at the rows' rendering level."""
        ref, level = call.ref, max(job.level for job, _ in call.rows)
        chat, place = self.ops.chats.get(ref.platform), place_of(ref)
        if chat is None:
            raise ChatError(f"{ref.platform} is not configured on this server")
        if call.kind == "thread.reply":
            job = call.rows[0][0]
            text, mention = reply_at_level(job.payload.get("text", ""), level), job.payload.get("mention")
            return lambda: chat.post_reply(place=place, text=text, mention=mention)
        [shown] = await render_places(self.ops.sessions, places=[ref], now=self.ops.clock())
        if isinstance(shown, list):
            digest = digest_at_level(burst_digest(shown), level)
            return lambda: chat.update_digest(place=place, digest=digest)
        if shown is None:  # the alert is gone: nothing to show
            return _nothing
        card = card_at_level(shown, level)
        return lambda: chat.update_card(place=place, card=card)


def _order(call: _Call) -> tuple[Urgency, bool, int]:
    """Most urgent first; for one alert its card before its thread lines; then first come."""
    return call.urgency, call.kind != "card.update", call.rows[0][0].id


async def _nothing() -> None:
    return None


def _failed(progress: _Progress, ref: CardRef, error: ChatError) -> None:
    if error.content:
        progress.content = error
    elif error.permanent:  # this place never takes it: the others still do
        progress.failures.append(f"{ref.platform}:{ref.channel}: {error.reason}")
        progress.done.append(ref.id or 0)
    elif is_rate_limit(error):
        progress.hold(error.retry_after or 1.0)
    else:
        progress.error = error


def _verdict(job: Job, progress: _Progress) -> Verdict:
    payload = {**job.payload, "done": progress.done}
    if progress.failures:
        payload["failures"] = progress.failures
    if progress.content is not None:
        return error_verdict(replace(job, payload=payload), progress.content)
    if progress.error is not None:
        return Verdict("retry", progress.error.reason, progress.error.retry_after, payload=payload)
    if progress.held:
        changed = payload if payload != job.payload else None
        return Verdict("hold", "ratelimited", progress.held, payload=changed)
    if progress.failures:
        return Verdict("failed", "; ".join(progress.failures), payload=payload)
    return Verdict("done", payload=payload)
