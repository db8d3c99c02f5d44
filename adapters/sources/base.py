"""The source-adapter contract: `verify(headers, body)` then `parse(...)` → `FeedbackIn` (pure, no I/O).

Platforms that send only ids (Qualtrics, SurveyMonkey) return `FetchNeeded` from `parse`; the
ingest queue then calls the adapter's async `fetch` with an httpx client and retries it later
on failure, so a notification is never lost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from bot.domain import FeedbackIn


class SourceError(Exception):
    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureError(SourceError):
    status = 401


class PayloadError(SourceError):
    """Malformed body (400) or a body that does not fit the schema (422)."""

    def __init__(self, reason: str, *, status: int = 422) -> None:
        super().__init__(reason)
        self.status = status


# Why a webhook was answered 2xx without being stored: a fixed vocabulary, never text from the sender,
# because it becomes a Prometheus label and a row key (`hotloop_webhooks_ignored_total`, IgnoredWebhook).
IGNORE_NOT_A_RESPONSE = "not_a_response_event"
IGNORE_REASONS = frozenset({IGNORE_NOT_A_RESPONSE})


class IgnoredEvent(SourceError):  # named without "Error": it is a valid event we do not act on
    """A valid, authentic event hotloop has nothing to do with (e.g. a ping). Answered 202, no alert.

    `reason` is for people (it may quote the event name); `code` is one of IGNORE_REASONS."""

    status = 202

    def __init__(self, reason: str, *, code: str = IGNORE_NOT_A_RESPONSE) -> None:
        super().__init__(reason)
        self.code = code if code in IGNORE_REASONS else IGNORE_NOT_A_RESPONSE


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    secret: str
    mapping: Mapping[str, Any] = field(default_factory=dict)
    api_url: str | None = None
    api_token: str | None = None


@dataclass(frozen=True)
class FetchNeeded:
    """The webhook carried only ids; `fetch` gets the response. `external_id` dedupes."""

    external_id: str
    ref: Mapping[str, Any]


ParseResult = FeedbackIn | FetchNeeded


class SourceAdapter(Protocol):
    kind: str

    def verify(self, headers: Mapping[str, str], body: bytes, *, secret: str, now: float) -> None:
        """Raise SignatureError unless the body is authentic. Headers are lower-cased."""
        ...

    def parse(self, headers: Mapping[str, str], body: bytes, *, mapping: Mapping[str, Any]) -> ParseResult:
        """Raise PayloadError (400/422) on anything malformed."""
        ...


class FetchingSourceAdapter(SourceAdapter, Protocol):
    async def fetch(self, client: httpx.AsyncClient, config: SourceConfig, needed: FetchNeeded) -> FeedbackIn:
        """Fetch the full response from the platform's API (raise httpx errors to retry later)."""
        ...


def hmac_digest(secret: bytes, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(secret, message, getattr(hashlib, algorithm)).digest()


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    left = a.encode() if isinstance(a, str) else a
    right = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(left, right)


def verify_sha256_header(
    headers: Mapping[str, str], *, name: str, label: str, platform: str, expected: str, hex_digest: bool
) -> None:
    """The `Name: sha256=<digest>` scheme (Typeform base64, Delighted hex); `expected` is the full value."""
    header = headers.get(name)
    if not header:
        raise SignatureError(f"missing {label} header")
    scheme, _, given = header.strip().partition("=")
    if scheme != "sha256" or not given:
        raise SignatureError(f"{label} must look like sha256=<{'hex' if hex_digest else 'base64'}>")
    if not constant_time_equal(expected, f"sha256={given.lower() if hex_digest else given}"):
        raise SignatureError(f"{platform} signature does not match (wrong secret?)")


def event_name(
    data: Mapping[str, Any], key: str, *, accepted: Collection[str], platform: str, wanted: str
) -> str:
    """The payload's event name: PayloadError when it is missing, IgnoredEvent when it is not one of
    `accepted` ("<platform> event '…' is not <wanted>")."""
    event = data.get(key)
    if not isinstance(event, str):
        raise PayloadError(f"{key} is missing")
    if event not in accepted:
        raise IgnoredEvent(f"{platform} event {event[:64]!r} is not {wanted}")
    return event


def load_json_object(body: bytes, *, max_depth: int = 32) -> dict[str, Any]:
    """Decode a JSON object body; 400 for invalid JSON or nesting deeper than `max_depth`."""
    if body.count(b"[") + body.count(b"{") > max_depth:  # fewer openings can't nest deeper: no scan
        _refuse_deep_nesting(body, max_depth)
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"body is not valid JSON: {exc}", status=400) from exc
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object", status=400)
    return data


def _refuse_deep_nesting(body: bytes, max_depth: int) -> None:
    """A byte scan that refuses deep nesting before json builds it (json would hit RecursionError)."""
    depth = 0
    deepest = 0
    in_string = False
    escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > max_depth:
                raise PayloadError(f"JSON nested deeper than {max_depth} levels", status=400)
        elif byte in (0x5D, 0x7D):
            depth -= 1
