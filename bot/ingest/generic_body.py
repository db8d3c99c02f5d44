"""hotloop's own documented webhook body (`kind: generic`) and its translation to `FeedbackIn`.

It lives in `bot/` because it is hotloop's schema, not a vendor's: the webhook adapter, the CLI's
`rules test` and the `/hotloop rule test` command all read it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain import Answer, Customer, FeedbackIn


class GenericBodyError(ValueError):
    """The body does not fit the schema; the message names the field."""


class GenericAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=1000)
    value: float | int | str | bool | None = None
    scale_min: float | None = None
    scale_max: float | None = None


class GenericFeedback(BaseModel):
    """The body of `POST /webhooks/{source}` for a generic source."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "resp-8812",
                    "submitted_at": "2026-11-20T09:55:00Z",
                    "customer": {"id": "c-77", "name": "Dana Scully", "email": "dana@example.com"},
                    "nps": 3,
                    "contact_requested": True,
                    "answers": [
                        {"question": "Staff friendliness", "value": 1, "scale_min": 1, "scale_max": 5}
                    ],
                    "comment": "Waited 40 minutes.",
                    "attributes": {"location": "042", "region": "north", "employee": "Jessica C"},
                }
            ]
        },
    )

    id: str = Field(min_length=1, max_length=255, description="the sender's response id (idempotency key)")
    submitted_at: datetime | None = None
    customer: Customer = Field(default_factory=Customer)
    nps: int | None = Field(default=None, ge=0, le=10)
    contact_requested: bool = False
    answers: list[GenericAnswer] = Field(default_factory=list, max_length=500)
    comment: str | None = Field(default=None, max_length=20_000)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=100)


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{where}: {first['msg']}" + (f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else "")


def feedback_from_generic(data: Any) -> FeedbackIn:
    """A decoded JSON body → FeedbackIn; GenericBodyError with a reason when it does not fit."""
    try:
        item = GenericFeedback.model_validate(data)
    except ValidationError as exc:
        raise GenericBodyError(_reason(exc)) from exc
    return FeedbackIn(
        external_id=item.id,
        submitted_at=item.submitted_at,
        customer=item.customer,
        nps=item.nps,
        contact_requested=item.contact_requested,
        answers=[Answer(**a.model_dump()) for a in item.answers],
        comment=item.comment,
        attributes=item.attributes,
    )
