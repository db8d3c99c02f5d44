"""A loopback fake of the Bot Framework Connector REST API (real HTTP on 127.0.0.1, no mocks).

    with FakeBotConnector() as fake:
        chat = TeamsChat(service_url=fake.url, token_provider=None, tenant_id="t1")
        ...
        assert fake.activities_in(posted.thread_id)

Serves `POST /v3/conversations`, `POST /v3/conversations/{id}/activities` and
`PUT /v3/conversations/{id}/activities/{activityId}`; records every call with its parsed JSON body.
`fail_next(status, count, retry_after=...)` and `delay_next(seconds, count)` script the next answers;
`expected_token` makes it demand `Authorization: Bearer <token>` (401 otherwise).

Like Teams, it refuses a message too big with HTTP 413: an activity whose JSON weighs more than
`max_activity_bytes` (28 KB) in UTF-16, the way Teams measures a message (PROTOCOLS). `reject_content(n)`
refuses the next n activities that way whatever their size.

Like Teams, it limits how often a bot may write to one conversation (PROTOCOLS §16, Teams' "per bot per
thread" table): 7 operations a second, 8 in 2 s, 60 in 30 s and 1,800 an hour per conversation (a new
thread counts against its channel, a reply or an update against its thread), and 50 a second for the
whole app; a call over a limit is answered HTTP 429 with `Retry-After` (whole seconds) and not counted.
`FakeBotConnector(rate_limits=False)` or `without_rate_limits()` turns that off, for a test that
legitimately needs more and is not about rate limits (say why).
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote


@dataclass(frozen=True)
class ConnectorCall:
    method: str
    path: str  # the decoded path
    raw_path: str
    conversation: str | None
    activity_id: str | None
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


ACTIVITY_MAX_BYTES = 28 * 1024
# (seconds, most operations in that window) per bot per conversation, and for the whole app
PER_CONVERSATION = ((1.0, 7), (2.0, 8), (30.0, 60), (3600.0, 1800))
PER_APP = ((1.0, 50),)


def utf16_bytes(value: Any) -> int:
    """What a message weighs for Teams: its JSON, encoded in UTF-16."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-16-le"))


class ConversationRates:
    """Sliding windows of accepted operations per conversation (and for the app); thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def check(self, conversation: str) -> int | None:
        """Count an operation on `conversation`: None if it may go on, else its 429's Retry-After."""
        keys = ((conversation, PER_CONVERSATION), ("*app*", PER_APP))
        with self._lock:
            now = self._clock()
            waits = [w for key, windows in keys if (w := self._wait(key, windows, now)) is not None]
            if waits:
                return max(1, math.ceil(max(waits) - 1e-9))
            for key, _windows in keys:
                self._seen.setdefault(key, deque()).append(now)
        return None

    def _wait(self, key: str, windows: tuple[tuple[float, int], ...], now: float) -> float | None:
        """Seconds until every window of `key` has room again, or None if they have room now."""
        seen = self._seen.setdefault(key, deque())
        longest = max(seconds for seconds, _ in windows)
        while seen and seen[0] <= now - longest:
            seen.popleft()
        waits = []
        for seconds, most in windows:
            inside = [t for t in seen if t > now - seconds] if len(seen) >= most else []
            if len(inside) >= most:  # room again once the oldest that still counts leaves the window
                waits.append(inside[-most] + seconds - now)
        return max(waits) if waits else None


@dataclass
class _Script:
    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0


class FakeBotConnector:
    def __init__(
        self,
        *,
        expected_token: str | None = None,
        max_activity_bytes: int = ACTIVITY_MAX_BYTES,
        rate_limits: bool = True,
    ) -> None:
        self.expected_token = expected_token
        self.max_activity_bytes = max_activity_bytes
        self.rates: ConversationRates | None = ConversationRates() if rate_limits else None
        self._rejections = 0
        self.members: dict[str, dict[str, Any]] = {}  # user id or Entra object id → TeamsChannelAccount
        self._lock = threading.Lock()
        self._calls: list[ConnectorCall] = []
        self._script: list[_Script] = []
        self._ids = itertools.count(1000)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-bot-connector",
            daemon=True,
        )

    # -- lifecycle ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> FakeBotConnector:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeBotConnector:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- scripting and inspection -------------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1, *, retry_after: str | float | None = None,
                  delay: float = 0.0) -> None:
        """The next `count` calls answer `status`, after `delay` seconds (longer than the client's
        timeout: a timeout the connector never acted on)."""
        ra = None if retry_after is None else str(retry_after)
        with self._lock:
            self._script.extend(_Script(status=status, retry_after=ra, delay=delay) for _ in range(count))

    def reject_content(self, count: int = 1) -> None:
        """The next `count` calls carrying an activity answer 413, as Teams does for one too big."""
        with self._lock:
            self._rejections += count

    def without_rate_limits(self) -> FakeBotConnector:
        """No per-conversation rate limits from now on (a test not about rate limits; say why)."""
        self.rates = None
        return self

    def delay_next(self, seconds: float, count: int = 1) -> None:
        with self._lock:
            self._script.extend(_Script(delay=seconds) for _ in range(count))

    def calls(self) -> list[ConnectorCall]:
        with self._lock:
            return list(self._calls)

    def activities_in(self, conversation: str) -> list[Any]:
        """The activities that started, were posted into or replaced in `conversation`, in order."""
        out: list[Any] = []
        for call in self.calls():
            if call.conversation != conversation or call.status >= 400:
                continue
            if call.path != "/v3/conversations":
                out.append(call.body)
            elif isinstance(call.body, dict) and "activity" in call.body:
                out.append(call.body["activity"])
        return out

    def wait_for(self, pred: Callable[[list[ConnectorCall]], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self.calls()):
                return True
            time.sleep(0.01)
        return pred(self.calls())

    # -- request handling ---------------------------------------------------------------------------

    def _next_script(self) -> _Script:
        with self._lock:
            return self._script.pop(0) if self._script else _Script()

    def _record(self, call: ConnectorCall) -> None:
        with self._lock:
            self._calls.append(call)

    def _new_id(self) -> str:
        with self._lock:
            return str(next(self._ids))

    def route(self, method: str, parts: list[str], body: Any) -> tuple[int, Any, str | None, str | None]:
        """(status, answer, conversation, activity id) for a request that passed auth and scripting."""
        # TeamsInfo.get_member: a member of the team (or chat) by Teams user id or Entra object id
        if method == "GET" and len(parts) == 5 and parts[3] == "members":
            member = self.members.get(parts[4])
            if member is None:
                missing = {"error": {"code": "MemberNotFoundInConversation", "message": "no such member"}}
                return 404, missing, None, None
            return 200, member, parts[2], None
        if parts[:2] != ["v3", "conversations"] or not isinstance(body, dict):
            return 400, {"error": {"code": "BadArgument", "message": "unknown path or body"}}, None, None
        if method == "POST" and len(parts) == 2:
            return self._create_conversation(body)
        if method == "POST" and len(parts) == 4 and parts[3] == "activities":
            activity_id = self._new_id()
            return 201, {"id": activity_id}, parts[2], activity_id
        if method == "PUT" and len(parts) == 5 and parts[3] == "activities":
            return 200, {"id": parts[4]}, parts[2], parts[4]
        return 404, {"error": {"code": "NotFound", "message": "no such route"}}, None, None

    def _create_conversation(self, body: dict[str, Any]) -> tuple[int, Any, str | None, str | None]:
        channel = (body.get("channelData") or {}).get("channel", {}).get("id")
        if channel:
            activity_id = self._new_id()
            conversation = f"{channel};messageid={activity_id}"
            return 201, {"id": conversation, "activityId": activity_id}, conversation, activity_id
        members = body.get("members") or []
        if not members:
            return 400, {"error": {"code": "BadArgument", "message": "no members"}}, None, None
        return 201, {"id": f"a:dm-{members[0]['id']}"}, f"a:dm-{members[0]['id']}", None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PUT(self) -> None:
                fake._handle(self, "PUT")

            def do_GET(self) -> None:
                fake._handle(self, "GET")

        return Handler

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        raw_path = handler.path.split("?", 1)[0]
        parts = [unquote(p) for p in raw_path.strip("/").split("/")]
        headers = {k.lower(): v for k, v in handler.headers.items()}
        status, answer, conversation, activity_id, extra = self._answer(method, parts, body, headers)
        self._record(
            ConnectorCall(
                method, "/" + "/".join(parts), raw_path, conversation, activity_id, body, headers, status
            )
        )
        payload = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def _answer(
        self, method: str, parts: list[str], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any, str | None, str | None, dict[str, str]]:
        script = self._next_script()
        if script.delay:
            time.sleep(script.delay)
        conversation = parts[2] if len(parts) > 2 else None
        activity_id = parts[4] if len(parts) > 4 else None
        if self.expected_token and headers.get("authorization") != f"Bearer {self.expected_token}":
            return (
                401,
                {"message": "Authorization has been denied for this request."},
                conversation,
                activity_id,
                {},
            )
        if script.status is not None:
            extra = {"Retry-After": script.retry_after} if script.retry_after is not None else {}
            error = {"error": {"code": "Scripted", "message": f"scripted {script.status}"}}
            return script.status, error, conversation, activity_id, extra
        if (activity := _activity_of(parts, body)) is not None and self._too_big(activity):
            error = {"error": {"code": "MessageSizeTooBig", "message": "Message size too large"}}
            return 413, error, conversation, activity_id, {}
        rates, limited = self.rates, _limited_conversation(parts, body)
        if rates is not None and limited and (wait := rates.check(limited)) is not None:
            error = {"error": {"code": "TooManyRequests", "message": "Too many requests"}}
            return 429, error, conversation, activity_id, {"Retry-After": str(wait)}
        status, answer, conv, aid = self.route(method, parts, body)
        return status, answer, conv or conversation, aid or activity_id, {}

    def _too_big(self, activity: Any) -> bool:
        with self._lock:
            if self._rejections:
                self._rejections -= 1
                return True
        return utf16_bytes(activity) > self.max_activity_bytes


def _activity_of(parts: list[str], body: Any) -> Any:
    """The message a call carries: a new thread's first activity, or the posted / replaced one."""
    if not isinstance(body, dict):
        return None
    if len(parts) == 2:
        return body.get("activity")
    return body if len(parts) >= 4 and parts[3] == "activities" else None


def _limited_conversation(parts: list[str], body: Any) -> str | None:
    """The conversation an operation writes to: a new thread's channel (or DM member), else the path's."""
    if len(parts) > 2:
        return parts[2]
    if not isinstance(body, dict):
        return None
    channel = (body.get("channelData") or {}).get("channel", {}).get("id")
    members = body.get("members") or [{}]
    return str(channel or (members[0] or {}).get("id") or "") or None
