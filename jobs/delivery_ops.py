"""What the delivery worker does with each kind of outbox row (one lane's batch at a time)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.card_views import burst_digest, load_card, load_cards
from bot.cards import Card
from bot.chat import CardPlace, Chat, ChatError
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import CardRef, Outbox

# alerts per digest for a platform that does not say (`digest_capacity` on the chat port)
DIGEST_MAX_ITEMS = 48


@dataclass(eq=False)
class Job:
    id: int
    kind: str
    platform: str
    destination: str
    alert_id: int | None
    payload: dict[str, Any]
    attempts: int

    @property
    def lane(self) -> tuple[str, str]:
        if self.platform == "*":
            return ("alert", str(self.alert_id))
        return (self.platform, self.destination)


@dataclass
class Verdict:
    """What happened to one job: done, retry later, failed for good, or defer (wait for the card post)."""

    status: str
    error: str | None = None
    retry_after: float | None = None
    payload: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _place(ref: CardRef) -> CardPlace:
    return CardPlace(ref.channel, ref.message_id, ref.thread_id, ref.conversation_ref)


JobHandler = Callable[["Job"], Awaitable["Verdict"]]
Call = Callable[[], Awaitable[None]]
Prepare = Callable[[AsyncSession, CardRef, "Job"], Awaitable[Call]]


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
            return await self._post_digest(batch)
        if first.kind == "card.update":
            verdict = await self._update_cards(first)
            return {j.id: verdict for j in batch}
        builtin = {"card.post": self._post_card, "thread.reply": self._reply, "dm": self._direct}
        handler = self.handlers.get(first.kind) or builtin.get(first.kind)
        if handler is None:
            return {first.id: Verdict("failed", f"unknown outbox kind {first.kind}")}
        return {first.id: await handler(first)}

    async def _post_card(self, job: Job) -> Verdict:
        chat = self._chat(job.platform)
        assert job.alert_id is not None
        async with self.sessions() as session:
            existing = await _ref_at(session, job.alert_id, job.platform, job.destination)
            card = await load_card(
                session, alert_id=job.alert_id, audience=job.payload.get("audience", "team"), now=self.clock()
            )
        if card is None:
            return Verdict("failed", "the alert no longer exists")
        if existing is not None:  # posted before a crash: refresh it instead of posting twice
            if existing.audience != "digest":  # a digest lists other alerts too: card.update rows refresh it
                await chat.update_card(place=_place(existing), card=card)
            return Verdict("done")
        posted = await chat.post_card(channel=job.destination, card=card)
        async with transaction(self.sessions) as session:
            session.add(
                CardRef(
                    alert_id=job.alert_id,
                    platform=job.platform,
                    channel=posted.channel,
                    message_id=posted.message_id,
                    thread_id=posted.thread_id,
                    conversation_ref=posted.conversation_ref,
                    audience=card.audience,
                )
            )
        return Verdict("done")

    async def _post_digest(self, batch: list[Job]) -> dict[int, Verdict]:
        first = batch[0]
        chat = self._chat(first.platform)
        now = self.clock()
        alert_ids = [j.alert_id or 0 for j in batch]
        async with self.sessions() as session:
            # rows retaken after a crash whose card was already posted AND recorded: not again
            placed = await _alerts_placed_at(session, alert_ids, first.platform, first.destination)
            fresh = [j for j in batch if (j.alert_id or 0) not in placed]
            cards = await load_cards(session, alert_ids=[j.alert_id or 0 for j in fresh], audience="digest",
                                     now=now)
        if not fresh:
            return {j.id: Verdict("done") for j in batch}
        present = [cards[j.alert_id or 0] for j in fresh if (j.alert_id or 0) in cards]
        posted = await chat.post_digest(channel=first.destination, digest=burst_digest(present))
        refs = [
            {"alert_id": job.alert_id or 0, "platform": first.platform, "channel": posted.channel,
             "message_id": posted.message_id, "thread_id": posted.thread_id,
             "conversation_ref": posted.conversation_ref, "audience": "digest", "created_at": now,
             "updated_at": now}
            for job in fresh
        ]
        async with transaction(self.sessions) as session:
            await queries.insert_many(session, model=CardRef, rows=refs)
        return {j.id: Verdict("done") for j in batch}

    async def _render_for(self, session: AsyncSession, ref: CardRef) -> Card | list[Card] | None:
        now = self.clock()
        if ref.audience != "digest":
            return await load_card(session, alert_id=ref.alert_id, audience=ref.audience, now=now)
        siblings = await session.execute(
            select(col(CardRef.alert_id))
            .where(
                col(CardRef.platform) == ref.platform,
                col(CardRef.channel) == ref.channel,
                col(CardRef.message_id) == ref.message_id,
            )
            .order_by(col(CardRef.id))
        )
        order = list(siblings.scalars())
        cards = await load_cards(session, alert_ids=order, audience="digest", now=now)
        return [cards[a] for a in order if a in cards]

    async def _update_cards(self, job: Job) -> Verdict:
        return await self._each_ref(job, self._prepare_update, include_digests=True)

    async def _prepare_update(self, session: AsyncSession, ref: CardRef, job: Job) -> Call:
        rendered = await self._render_for(session, ref)
        chat, place = self._chat(ref.platform), _place(ref)
        if isinstance(rendered, list):
            digest = burst_digest(rendered)
            return lambda: chat.update_digest(place=place, digest=digest)
        if rendered is None:
            return _nothing
        card = rendered
        return lambda: chat.update_card(place=place, card=card)

    async def _reply(self, job: Job) -> Verdict:
        return await self._each_ref(job, self._prepare_reply, include_digests=False)

    async def _prepare_reply(self, session: AsyncSession, ref: CardRef, job: Job) -> Call:
        chat, place = self._chat(ref.platform), _place(ref)
        text, mention = job.payload.get("text", ""), job.payload.get("mention")
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
        assert job.alert_id is not None
        done: list[int] = list(job.payload.get("done", []))
        calls: list[tuple[CardRef, Call]] = []
        async with self.sessions() as session:
            refs = [
                r
                for r in await queries.card_refs(session, alert_id=job.alert_id)
                if (include_digests or r.audience != "digest") and r.id not in done
            ]
            if not refs and not done and await _post_pending(session, job.alert_id):
                return Verdict("defer")
            for ref in refs:
                calls.append((ref, await prepare(session, ref, job)))
        failures: list[str] = []
        for ref, call in calls:
            wait = self._blocked_for(ref)
            if wait > 0:
                return Verdict("retry", "channel rate-limited", wait, payload={**job.payload, "done": done})
            try:
                await call()
            except ChatError as error:
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


async def _ref_at(session: AsyncSession, alert_id: int, platform: str, channel: str) -> CardRef | None:
    query = select(CardRef).where(
        col(CardRef.alert_id) == alert_id, col(CardRef.platform) == platform, col(CardRef.channel) == channel
    )
    return (await session.execute(query)).scalars().first()


async def _alerts_placed_at(
    session: AsyncSession, alert_ids: list[int], platform: str, channel: str
) -> set[int]:
    query = select(col(CardRef.alert_id)).where(
        col(CardRef.alert_id).in_(alert_ids),
        col(CardRef.platform) == platform,
        col(CardRef.channel) == channel,
    )
    return set((await session.execute(query)).scalars().all())


async def _post_pending(session: AsyncSession, alert_id: int) -> bool:
    query = select(col(Outbox.id)).where(
        col(Outbox.alert_id) == alert_id, col(Outbox.kind) == "card.post", col(Outbox.status) == "pending"
    )
    return (await session.execute(query.limit(1))).first() is not None
