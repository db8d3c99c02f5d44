"""hotloop's own documented webhook (`kind: generic`): JSON body, `X-Hotloop-Signature` header.

Header: `X-Hotloop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
Several `v1=` entries may be given (secret rotation); any match passes.
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
from bot.domain import FeedbackIn
from bot.ingest.generic_body import GenericAnswer, GenericBodyError, GenericFeedback, feedback_from_generic

__all__ = ["GenericAnswer", "GenericFeedback", "parse", "sign", "verify"]

kind = "generic"
SIGNATURE_HEADER = "x-hotloop-signature"
TOLERANCE_SECONDS = 300


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
        return feedback_from_generic(data)
    except GenericBodyError as exc:
        raise PayloadError(str(exc)) from exc
