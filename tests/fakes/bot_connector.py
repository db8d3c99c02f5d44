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
"""

from __future__ import annotations

import itertools
import json
import threading
import time
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


def utf16_bytes(value: Any) -> int:
    """What a message weighs for Teams: its JSON, encoded in UTF-16."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-16-le"))


@dataclass
class _Script:
    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0


class FakeBotConnector:
    def __init__(
        self, *, expected_token: str | None = None, max_activity_bytes: int = ACTIVITY_MAX_BYTES
    ) -> None:
        self.expected_token = expected_token
        self.max_activity_bytes = max_activity_bytes
        self._rejections = 0
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
