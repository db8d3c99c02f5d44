"""The `Chat` port: what the delivery worker needs from a chat platform. Adapters implement it.

`bot/` and `jobs/` only ever see this protocol, neutral cards and these errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from bot.cards import Card, DigestCard


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
    """A chat call failed. `permanent` errors are never retried; `retry_after` is the platform's ask."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


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
