"""What the delivery worker does with each kind of outbox row (one lane's batch at a time).

New cards and burst digests are posted by `jobs.delivery_posts` (labelled, looked up before a repeat,
fitted to the row's rendering level); updates, thread lines and direct messages are here, also at the
row's rendering level, so a message refused for its size is sent smaller (`jobs.outbox_jobs`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from bot.cards.model import Card, card_at_level, digest_at_level, reply_at_level
from bot.cards.views import burst_digest, render_places
from bot.chat.port import Chat, ChatError
from jobs.delivery_posts import Poster, place_of
from jobs.outbox_jobs import Job as Job  # re-exported: handlers and tests import them from here
from jobs.outbox_jobs import JobHandler as JobHandler
from jobs.outbox_jobs import Verdict as Verdict
from jobs.outbox_jobs import error_verdict as error_verdict
from storage.db import SessionFactory
from storage.models import CardRef
from storage.queries import outbox as outbox_queries

# alerts per digest for a platform that does not say (`digest_capacity` on the chat port)
DIGEST_MAX_ITEMS = 48


Call = Callable[[], Awaitable[None]]
Prepare = Callable[[list[CardRef], "Job"], Awaitable[list[Call]]]


async def _nothing() -> None:
    return None


class LaneOps:
    def __init__(
        self,
        sessions: SessionFactory,
        chats: Mapping[str, Chat],
        *,
        clock: Callable[[], datetime],
        group_threshold: int,
        handlers: Mapping[str, JobHandler] | None = None,
    ) -> None:
        self.handlers = dict(handlers or {})
        self.blocked: dict[tuple[str, str], datetime] = {}
        self.sessions = sessions
        self.chats = chats
        self.clock = clock
        self.group_threshold = group_threshold
        self.poster = Poster(sessions, clock)

    def plan_lane(self, jobs: list[Job]) -> list[list[Job]]:
        """Batches in order: a burst of card posts becomes digests; an alert's updates, one call."""
        posts = [j for j in jobs if j.kind == "card.post"]
        batches: list[list[Job]] = []
        if len(posts) >= self.group_threshold:
            size = int(getattr(self.chats.get(posts[0].platform), "digest_capacity", DIGEST_MAX_ITEMS))
            batches += [posts[i : i + size] for i in range(0, len(posts), size)]
            jobs = [j for j in jobs if j.kind != "card.post"]
        updates = [j for j in jobs if j.kind == "card.update"]
        if updates:
            batches.append(updates)
        batches += [[j] for j in jobs if j.kind != "card.update"]
        return batches

    def _chat(self, platform: str) -> Chat:
        chat = self.chats.get(platform)
        if chat is None:
            raise ChatError(f"{platform} is not configured on this server", retry_after=None)
        return chat

    async def execute(self, batch: list[Job]) -> dict[int, Verdict]:
        first = batch[0]
        if first.kind == "card.post" and len(batch) > 1:
            return await self.poster.post_digest(self._chat(first.platform), batch)
        if first.kind == "card.update":
            verdict = await self._update_cards(first)
            return {j.id: verdict for j in batch}
        builtin = {"card.post": self._post_card, "thread.reply": self._reply, "dm": self._direct}
        handler = self.handlers.get(first.kind) or builtin.get(first.kind)
        if handler is None:
            return {first.id: Verdict("failed", f"unknown outbox kind {first.kind}")}
        return {first.id: await handler(first)}

    async def _post_card(self, job: Job) -> Verdict:
        return await self.poster.post_card(self._chat(job.platform), job)

    async def _update_cards(self, job: Job) -> Verdict:
        return await self._each_ref(job, self._prepare_updates, include_digests=True)

    async def _prepare_updates(self, refs: list[CardRef], job: Job) -> list[Call]:
        if not refs:
            return []
        shown = await render_places(self.sessions, places=refs, now=self.clock())
        return [self._update_call(ref, rendered, job) for ref, rendered in zip(refs, shown, strict=True)]

    def _update_call(self, ref: CardRef, rendered: Card | list[Card] | None, job: Job) -> Call:
        chat, place = self._chat(ref.platform), place_of(ref)
        if isinstance(rendered, list):
            digest = digest_at_level(burst_digest(rendered), job.level)
            return lambda: chat.update_digest(place=place, digest=digest)
        if rendered is None:
            return _nothing
        card = card_at_level(rendered, job.level)
        return lambda: chat.update_card(place=place, card=card)

    async def _reply(self, job: Job) -> Verdict:
        return await self._each_ref(job, self._prepare_replies, include_digests=False)

    async def _prepare_replies(self, refs: list[CardRef], job: Job) -> list[Call]:
        return [self._reply_call(ref, job) for ref in refs]

    def _reply_call(self, ref: CardRef, job: Job) -> Call:
        chat, place = self._chat(ref.platform), place_of(ref)
        text, mention = reply_at_level(job.payload.get("text", ""), job.level), job.payload.get("mention")
        return lambda: chat.post_reply(place=place, text=text, mention=mention)

    def block(self, platform: str, channel: str, until: datetime) -> None:
        """A 429 for this channel: every kind of call to it waits, not only new cards."""
        self.blocked[(platform, channel)] = max(until, self.blocked.get((platform, channel), until))

    def _blocked_for(self, ref: CardRef) -> float:
        until = self.blocked.get((ref.platform, ref.channel))
        return (until - self.clock()).total_seconds() if until is not None else 0.0

    async def _each_ref(self, job: Job, prepare: Prepare, *, include_digests: bool) -> Verdict:
        """Do one call per place the alert's card lives, rendered from the database first and sent after
        the session is closed (no connection held across chat calls). Progress is remembered, so a retry
        skips the places already done."""
        alert_id = job.alert_id
        assert alert_id is not None
        done: list[int] = list(job.payload.get("done", []))
        only = job.payload.get("place")  # a line for one place (the full response after a cut card)
        refs = [
            r
            for r in await outbox_queries.places_of(self.sessions, alert_id=alert_id)
            if (include_digests or r.audience != "digest") and r.id not in done
            and (not only or [r.platform, r.channel] == list(only))
        ]
        if not refs and not done and await outbox_queries.card_post_pending(self.sessions, alert_id=alert_id):
            return Verdict("defer")
        calls = list(zip(refs, await prepare(refs, job), strict=True))
        failures: list[str] = []
        for ref, call in calls:
            wait = self._blocked_for(ref)
            if wait > 0:
                return Verdict("retry", "channel rate-limited", wait, payload={**job.payload, "done": done})
            try:
                await call()
            except ChatError as error:
                if error.content:  # this place refused it for its size: smaller next time, from here on
                    return error_verdict(replace(job, payload={**job.payload, "done": done}), error)
                if not error.permanent:
                    if error.retry_after:
                        until = self.clock() + timedelta(seconds=error.retry_after)
                        self.block(ref.platform, ref.channel, until)
                    progress = {**job.payload, "done": done}
                    return Verdict("retry", error.reason, error.retry_after, payload=progress)
                failures.append(f"{ref.platform}:{ref.channel}: {error.reason}")
            done.append(ref.id or 0)
        if failures:
            return Verdict("failed", "; ".join(failures), payload={**job.payload, "done": done})
        return Verdict("done", payload={**job.payload, "done": done})

    async def _direct(self, job: Job) -> Verdict:
        chat = self._chat(job.platform)
        await chat.send_direct(user=job.destination, text=job.payload.get("text", ""))
        return Verdict("done")

