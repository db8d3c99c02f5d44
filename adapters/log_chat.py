"""A `Chat` that writes to the log: where cards go when no chat platform is configured (the demo, a
team without a channel). Every alert still lands somewhere visible, and its history is kept."""

from __future__ import annotations

import itertools

import structlog

from bot.cards.model import Card, DigestCard
from bot.chat.port import CardPlace, Posted

log = structlog.get_logger("hotloop.chat.log")


class LogChat:
    platform = "log"
    pace_seconds = 0.0

    def __init__(self) -> None:
        self._ids = itertools.count(1)  # nothing else is kept: a long-running server must not grow

    def _next(self) -> str:
        return f"log-{next(self._ids)}"

    async def post_card(self, *, channel: str, card: Card) -> Posted:
        message_id = self._next()
        log.info("card.posted", channel=channel, alert=card.alert_key, severity=card.severity.value)
        return Posted(channel=channel, message_id=message_id, thread_id=message_id)

    async def update_card(self, *, place: CardPlace, card: Card) -> None:
        log.info("card.updated", channel=place.channel, alert=card.alert_key, status=card.status.value)

    async def post_reply(self, *, place: CardPlace, text: str, mention: str | None = None) -> None:
        log.info("thread.reply", channel=place.channel, message=place.message_id)

    async def send_direct(self, *, user: str, text: str, card: Card | None = None) -> None:
        log.info("direct.sent", user=user)

    async def post_digest(self, *, channel: str, digest: DigestCard) -> Posted:
        message_id = self._next()
        log.info("digest.posted", channel=channel, alerts=[i.alert_key for i in digest.items])
        return Posted(channel=channel, message_id=message_id, thread_id=message_id)

    async def update_digest(self, *, place: CardPlace, digest: DigestCard) -> None:
        log.info("digest.updated", channel=place.channel, alerts=len(digest.items))
