"""hotloop's own documented webhook (`kind: generic`): JSON body, `X-Hotloop-Signature` header.

Header: `X-Hotloop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
Several `v1=` entries may be given (secret rotation); any match passes.

The body is hotloop's own schema, so only the source mapping's `attributes` apply: `{"employee": "staff"}`
copies the body's `attributes.staff` (or the answer to the question `staff`) into `employee`, as it
does for the platforms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.sources.base import (
    PayloadError,
    SignatureError,
    constant_time_equal,
    hmac_digest,
    load_json_object,
)
from adapters.sources.mapping import read_mapping, stringify
from bot.domain import FeedbackIn
from bot.ingest.generic_body import GenericAnswer, GenericBodyError, GenericFeedback, feedback_from_generic

__all__ = ["GenericAnswer", "GenericFeedback", "parse", "sign", "verify"]

kind = "generic"
SIGNATURE_HEADER = "x-hotloop-signature"
TOLERANCE_SECONDS = 300
_MAX_ATTRIBUTES = 100  # the body's own limit; mapped attributes may replace, not exceed it
_MAX_ATTR_KEY = 100


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


def parse(headers: Mapping[str, str], body: bytes, *, mapping: Mapping[str, Any]) -> FeedbackIn:
    data = load_json_object(body)
    try:
        feedback = feedback_from_generic(data)
    except GenericBodyError as exc:
        raise PayloadError(str(exc)) from exc
    return _mapped_attributes(feedback, mapping)


def _mapped_attributes(feedback: FeedbackIn, mapping: Mapping[str, Any]) -> FeedbackIn:
    """Attributes named by the mapping, read from the body's attributes, else from its answers."""
    wanted = read_mapping(mapping).attributes
    if not wanted:
        return feedback
    attributes = dict(feedback.attributes)
    for name, key in wanted.items():
        found = feedback.attributes.get(key)
        value = stringify(found if found is not None else feedback.field_value(f"answer.{key}"))
        clipped = name[:_MAX_ATTR_KEY]
        if value is not None and (clipped in attributes or len(attributes) < _MAX_ATTRIBUTES):
            attributes[clipped] = value
    return feedback.model_copy(update={"attributes": attributes})
