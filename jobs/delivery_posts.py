"""Posting new cards and burst digests for the delivery worker: never twice, never lost for its size.

- Each post is rendered at its row's level (`Job.level`: full, compact, minimal); a refusal for content
  raises the level (`jobs.outbox_jobs.error_verdict`).
- Each post is labelled with its outbox rows when the platform can find labelled posts again
  (`bot.chat.FindsPosts`, Slack message metadata). A row whose earlier attempt may have posted without
  being recorded (`Job.may_have_posted`: a crash or a failed database write right after the post) is
  looked up first and the post found is adopted. Rows never attempted are never looked up: the lookup
  (`conversations.history`) is heavily rate-limited. A platform without a lookup (Teams) posts again;
  that repeat is counted (`hotloop_deliveries_total{result="unverified_repost"}`) and logged.
- A card that shows only part of the customer's response (`Posted.extra["cut"]`) gets the whole
  response in its thread, as thread lines written with the card's `CardRef`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.card_views import burst_digest, load_card, load_cards
from bot.cards import Card, card_at_level, card_is_cut, digest_at_level, full_response_pieces
from bot.chat import CardPlace, Chat, ChatError, FindsPosts, Posted
from bot.outbox import enqueue
from bot.telemetry import DELIVERIES
from jobs.outbox_jobs import Job, Verdict
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import CardRef

log = structlog.get_logger("hotloop.delivery")

LOOKUP_MARGIN = timedelta(minutes=2)  # our clock against the platform's, when looking a post up


def place_of(ref: CardRef) -> CardPlace:
    return CardPlace(ref.channel, ref.message_id, ref.thread_id, ref.conversation_ref)


class Poster:
    def __init__(self, sessions: SessionFactory, clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    async def post_card(self, chat: Chat, job: Job) -> Verdict:
        assert job.alert_id is not None
        async with self.sessions() as session:
            existing = await _ref_at(session, job.alert_id, job.platform, job.destination)
            card = await load_card(
                session, alert_id=job.alert_id, audience=job.payload.get("audience", "team"), now=self.clock()
            )
        if card is None:
            return Verdict("failed", "the alert no longer exists")
        shown = card_at_level(card, job.level)
        if existing is not None:  # posted before a crash: refresh it instead of posting twice
            if existing.audience != "digest":  # a digest lists other alerts too: card.update rows refresh it
                await chat.update_card(place=place_of(existing), card=shown)
            return Verdict("done")
        posted = (await self._find(chat, job.destination, [job])).get(job.id)
        if posted is not None:  # it went out before, unrecorded: adopt it, and show the current state
            found = posted
            place = CardPlace(found.channel, found.message_id, found.thread_id, found.conversation_ref)
            await chat.update_card(place=place, card=shown)
            posted = Posted(found.channel, found.message_id, found.thread_id, found.conversation_ref,
                            extra={"cut": card_is_cut(shown)})
        elif isinstance(chat, FindsPosts):
            posted = await chat.post_card_labelled(channel=job.destination, card=shown, rows=[job.id])
        else:
            posted = await chat.post_card(channel=job.destination, card=shown)
        ref = CardRef(alert_id=job.alert_id, platform=job.platform, channel=posted.channel,
                      message_id=posted.message_id, thread_id=posted.thread_id,
                      conversation_ref=posted.conversation_ref, audience=card.audience)
        try:
            async with transaction(self.sessions) as session:
                session.add(ref)
                if posted.extra.get("cut"):  # part of the response is not on the card: the thread gets it
                    self._enqueue_pieces(session, card, job.alert_id, (job.platform, posted.channel))
        except SQLAlchemyError as error:
            return _unrecorded([job], error)
        return Verdict("done")

    def _enqueue_pieces(
        self, session: AsyncSession, card: Card, alert_id: int, place: tuple[str, str]
    ) -> None:
        for piece in full_response_pieces(card):
            payload = {"text": piece, "mention": None, "place": list(place)}
            enqueue(session, kind="thread.reply", platform="*", alert_id=alert_id, now=self.clock(),
                    payload=payload)

    async def _find(self, chat: Chat, channel: str, jobs: list[Job]) -> dict[int, Posted]:
        """Posts already made for these rows by an attempt that was never recorded (see module doc)."""
        suspects = [job for job in jobs if job.may_have_posted]
        if not suspects:
            return {}
        if not isinstance(chat, FindsPosts):
            for job in suspects:
                DELIVERIES.labels(platform=job.platform, kind=job.kind, result="unverified_repost").inc()
                log.warning("delivery.unverified_repost", platform=job.platform, destination=channel,
                            alert_id=job.alert_id, attempts=job.attempts)
            return {}
        since = min(job.created_at or self.clock() for job in suspects) - LOOKUP_MARGIN
        try:
            return await chat.find_posted(channel=channel, rows=[job.id for job in suspects], since=since)
        except ChatError as error:
            if error.permanent:  # e.g. a missing history scope: a possible double beats a lost card
                log.warning("delivery.lookup_failed", platform=suspects[0].platform, error=error.reason)
                return {}
            # try again later, still without posting; this call's answer says nothing about the post
            raise ChatError(f"lookup: {error.reason}", retry_after=error.retry_after) from error

    async def post_digest(self, chat: Chat, batch: list[Job]) -> dict[int, Verdict]:
        first = batch[0]
        now = self.clock()
        alert_ids = [j.alert_id or 0 for j in batch]
        async with self.sessions() as session:
            # rows retaken after a crash whose card was already posted AND recorded: not again
            placed = await _alerts_placed_at(session, alert_ids, first.platform, first.destination)
            fresh = [j for j in batch if (j.alert_id or 0) not in placed]
            cards = await load_cards(session, alert_ids=[j.alert_id or 0 for j in fresh], audience="digest",
                                     now=now)
        found = await self._find(chat, first.destination, fresh)
        where = {j.id: found[j.id] for j in fresh if j.id in found}
        rest = [j for j in fresh if j.id not in where and (j.alert_id or 0) in cards]
        if rest:
            digest = digest_at_level(burst_digest([cards[j.alert_id or 0] for j in rest]),
                                     max(j.level for j in rest))
            rows = [j.id for j in rest]
            posted = await (
                chat.post_digest_labelled(channel=first.destination, digest=digest, rows=rows)
                if isinstance(chat, FindsPosts)
                else chat.post_digest(channel=first.destination, digest=digest)
            )
            where |= {j.id: posted for j in rest}
        refs = [_digest_ref(job, where[job.id], now) for job in fresh if job.id in where]
        try:
            if refs:
                async with transaction(self.sessions) as session:
                    await queries.insert_many(session, model=CardRef, rows=refs)
        except SQLAlchemyError as error:
            verdict = _unrecorded(batch, error)
            return {j.id: verdict for j in batch}
        return {j.id: Verdict("done") for j in batch}


def _digest_ref(job: Job, posted: Posted, now: datetime) -> dict[str, Any]:
    return {"alert_id": job.alert_id or 0, "platform": job.platform, "channel": posted.channel,
            "message_id": posted.message_id, "thread_id": posted.thread_id,
            "conversation_ref": posted.conversation_ref, "audience": "digest", "created_at": now,
            "updated_at": now}


def _unrecorded(jobs: list[Job], error: SQLAlchemyError) -> Verdict:
    """The post went out but the database refused to record it (full disk, lost connection): the row is
    retried, and its next attempt finds the post instead of posting again."""
    log.error("delivery.post_unrecorded", kind=jobs[0].kind, platform=jobs[0].platform,
              rows=[job.id for job in jobs], error=type(error).__name__)
    return Verdict("retry", f"posted, but recording it failed: {type(error).__name__}")


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
