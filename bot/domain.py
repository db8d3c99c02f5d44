"""Platform-neutral value types shared by every layer: severities, statuses, normalized feedback.

Nothing here does I/O. Source adapters produce a `FeedbackIn`; the rule engine, routing and the
card builder consume it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from storage.types import utcnow as utcnow  # re-exported: callers import it from here


class Severity(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)

    def raised(self, levels: int = 1) -> Severity:
        """One (or more) levels up, capped at critical."""
        return _SEVERITY_ORDER[min(self.rank + levels, len(_SEVERITY_ORDER) - 1)]

    @classmethod
    def max(cls, *items: Severity | None) -> Severity | None:
        present = [s for s in items if s is not None]
        return max(present, key=lambda s: s.rank) if present else None


_SEVERITY_ORDER = [Severity.LOW, Severity.NORMAL, Severity.HIGH, Severity.CRITICAL]


class AlertStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"

    @property
    def is_active(self) -> bool:
        return self is not AlertStatus.RESOLVED


class Outcome(StrEnum):
    RECOVERED = "recovered"
    CONTACTED_NOT_RECOVERED = "contacted_not_recovered"
    UNREACHABLE = "unreachable"
    NO_ACTION_NEEDED = "no_action_needed"
    NOT_ACTIONABLE = "not_actionable"


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, max_length=255)
    name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)


class Answer(BaseModel):
    """One answered question. `value` is a number for scaled questions, text otherwise."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=1000)
    value: float | int | str | bool | None = None
    scale_min: float | None = None
    scale_max: float | None = None
    kind: str | None = Field(default=None, max_length=64, description="nps, rating, choice, text…")
    ref: str | None = Field(default=None, max_length=255, description="the platform's stable question id")

    @property
    def numeric(self) -> float | None:
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            return None
        return float(self.value)

    @property
    def is_scaled(self) -> bool:
        return self.numeric is not None and self.scale_min is not None and self.scale_max is not None

    @property
    def position(self) -> float | None:
        """Where the value sits on its scale, 0.0 (worst) … 1.0 (best); None if not scaled."""
        value = self.numeric
        if value is None or self.scale_min is None or self.scale_max is None:
            return None
        span = self.scale_max - self.scale_min
        if span <= 0:
            return None
        return (value - self.scale_min) / span


class FeedbackIn(BaseModel):
    """One normalized survey response, as every source adapter produces it."""

    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, max_length=255)
    submitted_at: datetime | None = None
    customer: Customer = Field(default_factory=Customer)
    nps: int | None = Field(default=None, ge=0, le=10)
    contact_requested: bool = False
    answers: list[Answer] = Field(default_factory=list, max_length=500)
    comment: str | None = Field(default=None, max_length=20_000)
    attributes: dict[str, str] = Field(default_factory=dict)
    # True when the platform says more parts of this response will follow (Formbricks created,
    # Delighted created without comment): the alert is still raised, and later parts update it.
    partial: bool = False

    def field_value(self, name: str) -> Any:
        """Look up a field by the names rules and routes use (nps, comment, attr.region, answer.X…)."""
        if name.startswith(("attr.", "attributes.")):
            return self.attributes.get(name.split(".", 1)[1])
        if name.startswith("answer."):
            wanted = name.split(".", 1)[1].casefold()
            for answer in self.answers:
                if wanted in (answer.question.casefold(), (answer.ref or "").casefold()):
                    return answer.value
            return None
        if name.startswith("customer."):
            return getattr(self.customer, name.split(".", 1)[1], None)
        if name in {"nps", "comment", "contact_requested", "external_id"}:
            return getattr(self, name)
        return self.attributes.get(name)

