"""hotloop's own documented webhook (`kind: generic`): JSON body, `X-Hotloop-Signature` header.

Header: `X-Hotloop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
Several `v1=` entries may be given (secret rotation); any match passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.sources.base import (
    PayloadError,
    SignatureError,
    constant_time_equal,
    hmac_digest,
    load_json_object,
)
from bot.domain import Answer, Customer, FeedbackIn

kind = "generic"
SIGNATURE_HEADER = "x-hotloop-signature"
TOLERANCE_SECONDS = 300


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


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value a sender must put in `X-Hotloop-Signature` (also used by tests and the demo)."""
    digest = hmac_digest(secret.encode(), f"{timestamp}.".encode() + body).hex()
    return f"t={timestamp},v1={digest}"


def verify(headers: Mapping[str, str], body: bytes, *, secret: str, now: float) -> None:
    header = headers.get(SIGNATURE_HEADER)
    if not header:
        raise SignatureError("missing X-Hotloop-Signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit():  # "²".isdigit() is True
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("X-Hotloop-Signature must look like t=<unix seconds>,v1=<hex>")
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError("signature timestamp outside the 300-second window")
    expected = hmac_digest(secret.encode(), f"{timestamp}.".encode() + body).hex()
    if not any(constant_time_equal(expected, candidate) for candidate in candidates):
        raise SignatureError("signature does not match")


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{where}: {first['msg']}" + (f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else "")


def parse(headers: Mapping[str, str], body: bytes, *, mapping: Mapping[str, Any]) -> FeedbackIn:
    data = load_json_object(body)
    try:
        item = GenericFeedback.model_validate(data)
    except ValidationError as exc:
        raise PayloadError(_reason(exc)) from exc
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
