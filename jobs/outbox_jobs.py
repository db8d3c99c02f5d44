"""An outbox row as the delivery worker handles it (`Job`), what became of it (`Verdict`), and the
verdict for a failed chat call (`error_verdict`).

A row's payload carries two delivery marks besides its own data:

- `level`: the rendering level (0 full, 1 compact, 2 minimal: `bot.cards.model.card_at_level`). A content
  error (`ChatError.content`) raises it and the row is due again at once: a card the platform refuses
  for its size is sent smaller, never dropped.
- `unsent_through`: the last attempt the platform certainly refused. An attempt after it that left no
  such mark (a crash, a failed database write right after the post, a timeout) may have posted: the
  next attempt looks the post up before posting again (`Job.may_have_posted`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.cards.model import MAX_LEVEL
from bot.chat.port import ChatError
from storage.queries.outbox import LeasedRow


@dataclass(frozen=True, eq=False)
class Job(LeasedRow):
    """A leased outbox row, with what the worker derives from it."""

    @property
    def level(self) -> int:
        """The rendering level this attempt uses (raised by content errors)."""
        return min(max(int(self.payload.get("level", 0)), 0), MAX_LEVEL)

    @property
    def may_have_posted(self) -> bool:
        """An earlier attempt ended without a definite "not sent" (see `error_verdict`)."""
        return self.attempts > 1 and int(self.payload.get("unsent_through", 0)) < self.attempts - 1

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


def error_verdict(job: Job, error: ChatError) -> Verdict:
    """The verdict for a failed chat call. A content error never fails a row: the next attempt, due at
    once, renders one level smaller (the minimal card again, with backoff, once at the bottom). A post
    the platform certainly refused is marked so its next attempt need not look for it."""
    payload = dict(job.payload)
    if error.unsent and job.kind == "card.post":
        payload["unsent_through"] = job.attempts
    if error.content:
        if job.level < MAX_LEVEL:
            payload["level"] = job.level + 1
            reason = f"{error.reason} (sending a smaller rendering)"
            return Verdict("retry", reason, payload=payload, extra={"smaller": True})
        return Verdict("retry", error.reason, payload=payload)
    status = "failed" if error.permanent else "retry"
    changed = payload if payload != job.payload else None
    return Verdict(status, error.reason, error.retry_after, payload=changed)


JobHandler = Callable[["Job"], Awaitable["Verdict"]]
