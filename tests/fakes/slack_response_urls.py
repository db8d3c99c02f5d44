"""The fake Slack's `response_url`s (tests/fakes/slack_api.py `response_url_for`): what a click's payload
carries to answer it in place.

    url = slack.response_url_for("C1", ts)   # → http://127.0.0.1:PORT/actions/T0TEST/<n>/<secret>
    POST url {"replace_original": true, "text": …, "blocks": …}   → the message `ts` in C1 replaced

Like Slack's (PROTOCOLS "Facts learned the hard way"): no token, JSON body, up to 5 uses within 30
minutes of the click — later uses answer HTTP 404 `used_url` / `expired_url` — and not counted
against any Web API method's rate tier. `delete_original` removes the message; without either,
`response_type: "in_channel"` posts a new message in the channel (`ephemeral`, the default, is only
recorded). The message is held to the same Block Kit limits as chat.update (400 `invalid_blocks`…).
Calls are recorded as method "response_url". Slack's exact answers for an unknown URL or a deleted
message are not documented; the fake says 404 `invalid_url` / `message_not_found`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from tests.fakes.slack_limits import message_error

PATH = "actions/"
USES_MAX = 5
TTL_SECONDS = 30 * 60
Json = dict[str, Any]
Answer = tuple[int, Json]  # HTTP status, JSON body


@dataclass
class _Issued:
    channel: str
    ts: str
    issued_at: float
    uses: int = 0


class ResponseUrls:
    """Issued response_urls and what using them does to the fake's messages (guarded by the fake's lock)."""

    def __init__(self, lock: threading.Condition) -> None:
        self._lock = lock
        self._issued: dict[str, _Issued] = {}
        self._failures: deque[Answer] = deque()
        self._count = 0

    def issue(self, base_url: str, channel: str, ts: str, team: str = "T0TEST") -> str:
        with self._lock:
            self._count += 1
            secret = secrets.token_hex(12)
            self._issued[f"{team}/{self._count}/{secret}"] = _Issued(channel, ts, time.monotonic())
        return f"{base_url}{PATH}{team}/{self._count}/{secret}"

    def age(self, seconds: float) -> None:
        """Every issued URL is `seconds` older (30 minutes later, they have expired)."""
        with self._lock:
            for issued in self._issued.values():
                issued.issued_at -= seconds

    def fail_next(self, count: int = 1, *, status: int = 500, error: str = "internal_error") -> None:
        with self._lock:
            self._failures.extend([(status, {"ok": False, "error": error})] * count)

    def use(self, path: str, args: Json, messages: dict[str, list[Json]]) -> Answer:
        """Answer one POST to `path` (after "actions/"); call with the fake's lock held."""
        issued = self._issued.get(path)
        if issued is None:
            return 404, {"ok": False, "error": "invalid_url"}
        if time.monotonic() - issued.issued_at > TTL_SECONDS:
            return 404, {"ok": False, "error": "expired_url"}
        if issued.uses >= USES_MAX:
            return 404, {"ok": False, "error": "used_url"}
        issued.uses += 1
        if self._failures:
            return self._failures.popleft()
        if refused := message_error(args):
            return 400, {"ok": False, "error": refused}
        return _apply(issued, args, messages)


def _flag(value: Any) -> bool:
    return value is True or value == "true"  # bolt sends booleans; older clients the string "true"


def _apply(issued: _Issued, args: Json, messages: dict[str, list[Json]]) -> Answer:
    channel = messages.get(issued.channel, [])
    found = next((m for m in channel if m["ts"] == issued.ts), None)
    fields: Json = {k: args[k] for k in ("text", "blocks", "attachments") if k in args}
    if _flag(args.get("replace_original")) or _flag(args.get("delete_original")):
        if found is None:
            return 404, {"ok": False, "error": "message_not_found"}
        if _flag(args.get("delete_original")):
            channel.remove(found)
        else:
            for name in ("text", "blocks", "attachments"):
                found.pop(name, None)
            found.update(fields, edited={"via": "response_url"})
        return 200, {"ok": True}
    if args.get("response_type") == "in_channel":
        ts = f"{time.time():.6f}"
        messages.setdefault(issued.channel, []).append({"type": "message", "ts": ts, **fields})
    return 200, {"ok": True}
