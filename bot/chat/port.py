"""The `Chat` port: what the delivery worker needs from a chat platform. Adapters implement it.

`bot/` and `jobs/` only ever see this protocol, neutral cards and these errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from bot.cards.model import Card, DigestCard


@dataclass(frozen=True)
class CardPlace:
    """Where a posted card lives, enough to update it or reply in its thread from any process."""

    channel: str
    message_id: str
    thread_id: str | None = None
    conversation_ref: dict[str, Any] | None = None


@dataclass(frozen=True)
class Posted:
    channel: str
    message_id: str
    thread_id: str | None = None
    conversation_ref: dict[str, Any] | None = None
    # for digests: which alert keys the post covers
    extra: dict[str, Any] = field(default_factory=dict)


class ChatError(Exception):
    """A chat call failed. `permanent` errors are never retried; `retry_after` is the platform's ask.

    `content`: the platform refused this message for its content or size (Slack `invalid_blocks`,
    `msg_too_long`; Teams HTTP 413): the same message will never pass, a smaller rendering may.
    `unsent`: the platform certainly did not act (it answered with a refusal); False when the call may
    have reached it (a timeout, a dropped connection, a server error)."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        content: bool = False,
        unsent: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.content = content
        self.unsent = unsent or content


@runtime_checkable
class Chat(Protocol):
    platform: str

    async def post_card(self, *, channel: str, card: Card) -> Posted:
        """Post a new card; return where it is (message id, and thread id for replies)."""
        ...

    async def update_card(self, *, place: CardPlace, card: Card) -> None:
        """Replace a posted card with the alert's current state."""
        ...

    async def post_reply(self, *, place: CardPlace, text: str, mention: str | None = None) -> None:
        """One line of history in the card's thread. `mention` is a user id, or "channel"."""
        ...

    async def send_direct(self, *, user: str, text: str, card: Card | None = None) -> None:
        """A direct message to one person (reassigned to you, SLA breach on your alert)."""
        ...

    async def post_digest(self, *, channel: str, digest: DigestCard) -> Posted:
        """One message listing several alerts (burst grouping, daily digest)."""
        ...

    async def update_digest(self, *, place: CardPlace, digest: DigestCard) -> None:
        """Re-render a posted digest after one of its alerts changed."""
        ...


@runtime_checkable
class FindsPosts(Protocol):
    """Optional, beside `Chat`: a platform that labels a post with the outbox rows it delivers and can
    find such a post again (Slack: message metadata + `conversations.history`). A post that reached the
    platform but was never recorded (the database failed right after) is then adopted, not sent twice.
    Teams offers no way to look a bot's message up, so its chat does not implement this."""

    async def post_card_labelled(self, *, channel: str, card: Card, rows: Sequence[int]) -> Posted:
        ...

    async def post_digest_labelled(self, *, channel: str, digest: DigestCard, rows: Sequence[int]) -> Posted:
        ...

    async def find_posted(self, *, channel: str, rows: Sequence[int], since: datetime) -> dict[int, Posted]:
        """The posts labelled with any of `rows` made after `since`, by row id."""
        ...
