"""Posting new cards and burst digests for the delivery worker: never twice, never lost for its size.

- Each post is rendered at its row's level (`Job.level`: full, compact, minimal); a refusal for content
  raises the level (`jobs.outbox_jobs.error_verdict`).
- Each post is labelled with its outbox rows when the platform can find labelled posts again
  (`bot.chat.port.FindsPosts`, Slack message metadata). A row whose earlier attempt may have posted without
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
from sqlalchemy.exc import SQLAlchemyError

from bot.cards.model import Card, card_at_level, card_is_cut, digest_at_level, full_response_pieces
from bot.cards.views import burst_digest, render_card, render_cards
from bot.chat.port import CardPlace, Chat, ChatError, FindsPosts, Posted
from bot.outbox import outbox_values
from bot.telemetry import DELIVERIES
from jobs.outbox_jobs import Job, Verdict
from storage.db import SessionFactory
from storage.models import CardRef
from storage.queries import outbox as outbox_queries

log = structlog.get_logger("hotloop.delivery")

LOOKUP_MARGIN = timedelta(minutes=2)  # our clock against the platform's, when looking a post up
LOOKUP = "lookup: "  # a failed lookup's reason starts so (its 429 is the lookup method's, not the channel's)


def place_of(ref: CardRef) -> CardPlace:
    return CardPlace(ref.channel, ref.message_id, ref.thread_id, ref.conversation_ref)


class Poster:
    def __init__(self, sessions: SessionFactory, clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    async def post_card(self, chat: Chat, job: Job) -> Verdict:
        assert job.alert_id is not None
        existing = await outbox_queries.place_at(
            self.sessions, alert_id=job.alert_id, platform=job.platform, channel=job.destination
        )
        audience = job.payload.get("audience", "team")
        card = await render_card(self.sessions, alert_id=job.alert_id, audience=audience, now=self.clock())
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
        recorded = dict(alert_id=job.alert_id, platform=job.platform, channel=posted.channel,
                        message_id=posted.message_id, thread_id=posted.thread_id,
                        conversation_ref=posted.conversation_ref, audience=card.audience)
        cut = bool(posted.extra.get("cut"))  # part of the response is not on the card: the thread gets it
        pieces = self._piece_rows(card, job.alert_id, (job.platform, posted.channel)) if cut else []
        try:
            await outbox_queries.record_post(self.sessions, places=[recorded], outbox_rows=pieces)
        except SQLAlchemyError as error:
            return _unrecorded([job], error)
        return Verdict("done")

    def _piece_rows(self, card: Card, alert_id: int, place: tuple[str, str]) -> list[dict[str, Any]]:
        """Thread lines carrying the whole response, for the place whose card shows only part of it."""
        return [
            outbox_values(kind="thread.reply", platform="*", alert_id=alert_id, now=self.clock(),
                          payload={"text": piece, "mention": None, "place": list(place)})
            for piece in full_response_pieces(card)
        ]

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
            raise ChatError(f"{LOOKUP}{error.reason}", retry_after=error.retry_after) from error

    async def post_digest(self, chat: Chat, batch: list[Job]) -> dict[int, Verdict]:
        first = batch[0]
        now = self.clock()
        alert_ids = [j.alert_id or 0 for j in batch]
        # rows retaken after a crash whose card was already posted AND recorded: not again
        placed = await outbox_queries.alerts_placed_at(
            self.sessions, alert_ids=alert_ids, platform=first.platform, channel=first.destination
        )
        fresh = [j for j in batch if (j.alert_id or 0) not in placed]
        cards = await render_cards(
            self.sessions, alert_ids=[j.alert_id or 0 for j in fresh], audience="digest", now=now
        )
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
                await outbox_queries.record_digest_post(self.sessions, places=refs)
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

