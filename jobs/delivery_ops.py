"""What the delivery worker does with each kind of outbox row (one lane's batch at a time).

New cards and burst digests are posted by `jobs.delivery_posts` (labelled, looked up before a repeat,
fitted to the row's rendering level); card updates and thread lines by `jobs.delivery_places` (every
place, coalesced, most urgent first, within the rate-limit holds kept here); direct messages here. All at
the row's rendering level, so a message refused for its size is sent smaller (`jobs.outbox_jobs`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot.cards.model import card_at_level
from bot.cards.views import render_card
from bot.chat.port import Chat, ChatError
from bot.outbox import ALONE
from jobs.delivery_places import PLACE_KINDS, PlaceRound
from jobs.delivery_posts import Poster
from jobs.outbox_jobs import Job as Job  # re-exported: handlers and tests import them from here
from jobs.outbox_jobs import JobHandler as JobHandler
from jobs.outbox_jobs import Verdict as Verdict
from jobs.outbox_jobs import error_verdict as error_verdict
from storage.db import SessionFactory

# alerts per digest for a platform that does not say (`digest_capacity` on the chat port)
DIGEST_MAX_ITEMS = 48
GROUP_AFTER_SECONDS = 1.0  # new cards one by one would hold the last of them back this long: a digest


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

    def plan_lane(self, jobs: list[Job], *, pace: float = 0.0) -> list[list[Job]]:
        """Batches in order: a burst of card posts becomes digests; card updates and thread lines, one
        round (`jobs.delivery_places`); anything else one row at a time. On a channel paced `pace`
        seconds a post, new cards that would wait a whole slot (Slack: two or more) are one digest too:
        one card a slot would leave the rest of them, and all that comes next, behind. A card marked
        `ALONE` (a systemic issue's) is never folded in: it goes out whole, one a slot."""
        posts = [j for j in jobs if j.kind == "card.post" and not j.payload.get(ALONE)]
        batches: list[list[Job]] = []
        if len(posts) >= self.group_threshold or (len(posts) - 1) * pace >= GROUP_AFTER_SECONDS:
            size = int(getattr(self.chats.get(posts[0].platform), "digest_capacity", DIGEST_MAX_ITEMS))
            batches += [posts[i : i + size] for i in range(0, len(posts), size)]
            grouped = {j.id for j in posts}
            jobs = [j for j in jobs if j.id not in grouped]
        places = [j for j in jobs if j.kind in PLACE_KINDS]
        if places:
            batches.append(places)
        batches += [[j] for j in jobs if j.kind not in PLACE_KINDS]
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
        if first.kind in PLACE_KINDS:  # every place of every alert, coalesced (jobs.delivery_places)
            return await PlaceRound(self).run(batch)
        builtin = {"card.post": self._post_card, "dm": self._direct}
        handler = self.handlers.get(first.kind) or builtin.get(first.kind)
        if handler is None:
            return {first.id: Verdict("failed", f"unknown outbox kind {first.kind}")}
        return {first.id: await handler(first)}

    async def _post_card(self, job: Job) -> Verdict:
        return await self.poster.post_card(self._chat(job.platform), job)

    def block(self, platform: str, channel: str, until: datetime) -> None:
        """A 429 for this channel: every kind of call to it waits, not only new cards."""
        self.blocked[(platform, channel)] = max(until, self.blocked.get((platform, channel), until))

    def hold(self, scope: tuple[str, str], seconds: float) -> None:
        """A 429 for a scope (a channel, or a whole workspace for one method): it waits `seconds`."""
        self.block(scope[0], scope[1], self.clock() + timedelta(seconds=seconds))

    def held_for(self, scope: tuple[str, str]) -> float:
        until = self.blocked.get(scope)
        return (until - self.clock()).total_seconds() if until is not None else 0.0

    async def _direct(self, job: Job) -> Verdict:
        chat = self._chat(job.platform)
        audience, card = job.payload.get("card"), None
        if audience and job.alert_id is not None:  # the alert's full card with the text (bot/outbox.py)
            now = self.clock()
            full = await render_card(self.sessions, alert_id=job.alert_id, audience=audience, now=now)
            card = card_at_level(full, job.level) if full is not None else None
        await chat.send_direct(user=job.destination, text=job.payload.get("text", ""), card=card)
        return Verdict("done")

