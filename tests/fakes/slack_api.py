"""A loopback fake of the Slack Web API, modelled on bolt-python's `tests/mock_web_api_server`.

    with FakeSlackApi() as slack:
        client = AsyncWebClient(token=slack.token, base_url=slack.url)
        ...
        assert slack.messages_in("C1")[0]["text"] == "hi"

A real `ThreadingHTTPServer` on 127.0.0.1 (port 0) in a daemon thread. Paths have no `/api` prefix.
Bodies may be JSON or form-encoded (query parameters are merged in). Every call is recorded with
its parsed arguments; the fake checks the bearer token, can rate-limit a method per channel
(HTTP 429 + `Retry-After`) and can fail the next calls with a Slack error, an HTTP status or a delay.

It is as strict as Slack about how often: by default every method keeps its documented tier per workspace
and app, and chat.postMessage about one message a second per channel plus a workspace cap
(`tests/fakes/slack_tiers.py`). `FakeSlackApi(tiers=False)` or `without_tiers()` turns that off, for a
test that legitimately needs more calls in a few seconds and is not about rate limits (say why);
`FakeSlackApi(tiers=SlackTiers(speed=10))` runs Slack's clock faster.

It is as strict as Slack about what a message may hold (`tests/fakes/slack_limits.py`): Block Kit
limits break with `invalid_blocks` / `invalid_blocks_format`, a `text` over 40,000 characters with
`msg_too_long` (HTTP 200, `ok: false`). `reject_content(n)` refuses the next n messages that way
whatever they hold. Messages keep their `metadata`; `conversations.history` pages through a channel
newest first and shows the metadata only with `include_all_metadata`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from tests.fakes import wait_until
from tests.fakes.slack_http import Reply, handler_for
from tests.fakes.slack_limits import MESSAGE_METHODS, message_error
from tests.fakes.slack_response_urls import PATH as RESPONSE_URL_PATH
from tests.fakes.slack_response_urls import ResponseUrls
from tests.fakes.slack_tiers import SlackTiers

AUTH_TEST = {
    "ok": True,
    "url": "https://hotloop-test.slack.com/",
    "team": "Hotloop Test",
    "user": "hotloop",
    "team_id": "T0TEST",  # the workspace tests/adapters/slack/slackapp.py's payloads come from
    "user_id": "U0000BOT",
    "bot_id": "B0000BOT",
}
APP_ID = "A0TEST"  # bots.info's app_id for the bot above: the api_app_id of the test payloads


@dataclass(frozen=True)
class Call:
    method: str
    args: dict[str, Any]
    at: float  # time.monotonic()
    status: int  # the HTTP status answered
    error: str | None  # the Slack error answered, if any


@dataclass(frozen=True)
class Failure:
    error: str | None = None  # a Slack error code, answered as HTTP `status` with ok=false
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering (longer than the client timeout → timeout)
    method: str | None = None  # only calls to this method consume the failure
    retry_after: int | None = None
    channel: str | None = None  # only calls for this channel consume the failure


class FakeSlackApi:
    def __init__(
        self,
        token: str = "xoxb-test-token",
        app_token: str = "xapp-1-test",
        *,
        tiers: bool | SlackTiers = True,
    ) -> None:
        self.token = token
        self.tiers: SlackTiers | None = (SlackTiers() if tiers is True else tiers) or None
        self.app_token = app_token  # the app-level token apps.connections.open wants
        self._socket_mode_url: Callable[[], str] | None = None
        self._lock = threading.Condition()
        self._calls: list[Call] = []
        self._failures: deque[Failure] = deque()
        self._limits: dict[str, tuple[float, int | None]] = {}
        self._last_post: dict[tuple[str, str], float] = {}
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self.response_urls = ResponseUrls(self._lock)  # tests/fakes/slack_response_urls.py
        self._users: dict[str, dict[str, Any]] = {}
        self._last_ts = 0.0
        self._counter = 0
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeSlackApi:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(self.handle))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeSlackApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    # ---- configuration -------------------------------------------------------------------------

    def rate_limit(self, method: str = "chat.postMessage", *, per_seconds: float = 1.0,
                   retry_after: int | None = None) -> None:
        """At most one successful `method` call per channel per `per_seconds`; others get 429."""
        with self._lock:
            self._limits[method] = (per_seconds, retry_after)

    def without_tiers(self) -> FakeSlackApi:
        """No per-method tiers from now on (a test that is not about rate limits; say why)."""
        with self._lock:
            self.tiers = None
        return self

    def fail_next(self, count: int = 1, *, error: str | None = None, status: int = 200,
                  delay: float = 0.0, method: str | None = None, retry_after: int | None = None,
                  channel: str | None = None) -> None:
        """The next `count` calls (to `method` and for `channel`, if given) fail as described.

        `fail_next(1)` with no failure (status 200, no error, no delay) is a pass: queue it between
        failures to script an exact pattern of answers."""
        with self._lock:
            self._failures.extend([Failure(error, status, delay, method, retry_after, channel)] * count)

    def serve_socket_mode(self, issue_url: Callable[[], str]) -> None:
        """apps.connections.open answers `issue_url()` (FakeSocketMode.issue_url: a fresh URL each call)."""
        with self._lock:
            self._socket_mode_url = issue_url

    def reject_content(self, count: int = 1, *, error: str = "invalid_blocks",
                       method: str = "chat.postMessage", channel: str | None = None) -> None:
        """The next `count` calls to `method` are refused for their content (HTTP 200, ok=false)."""
        self.fail_next(count, error=error, method=method, channel=channel)

    def add_user(self, user_id: str, **profile: Any) -> None:
        with self._lock:
            self._users[user_id] = {"id": user_id, "name": user_id.lower(), "tz": "UTC", **profile}

    # ---- inspection ----------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """Messages currently in `channel` (chat.update applied), oldest first, replies included."""
        with self._lock:
            return [dict(m) for m in self._messages.get(channel, [])]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        return wait_until(self._lock, predicate, timeout)

    # ---- request handling (server threads) -----------------------------------------------------

    def response_url_for(self, channel: str, ts: str) -> str:
        """A click's response_url for the message `ts` in `channel` (5 uses, 30 minutes, no tier)."""
        return self.response_urls.issue(self.url, channel, ts)

    def handle(self, method: str, args: dict[str, Any], token: str | None) -> Reply:
        if method.startswith(RESPONSE_URL_PATH):  # no token, no failures scripted for the Web API, no tier
            with self._lock:
                path = method.removeprefix(RESPONSE_URL_PATH)
                status, body = self.response_urls.use(path, args, self._messages)
                self._calls.append(Call("response_url", args, time.monotonic(), status, body.get("error")))
                self._lock.notify_all()
            return Reply(status, body)
        with self._lock:
            failure = self._take_failure(method, str(args.get("channel", "")))
        if failure is not None and failure.delay:
            self._stopping.wait(failure.delay)
        with self._lock:
            reply = self._reply(method, args, token, failure)
            self._calls.append(Call(method, args, time.monotonic(), reply.status, reply.body.get("error")))
            self._lock.notify_all()
        return reply

    def _take_failure(self, method: str, channel: str = "") -> Failure | None:
        for failure in self._failures:
            if failure.method in (None, method) and failure.channel in (None, channel):
                self._failures.remove(failure)
                return failure
        return None

    def _reply(self, method: str, args: dict[str, Any], token: str | None, failure: Failure | None) -> Reply:
        if token != (self.app_token if method == "apps.connections.open" else self.token):
            return Reply(200, {"ok": False, "error": "not_authed" if token is None else "invalid_auth"})
        if failure is not None and (failure.error or failure.status != 200):
            return _failure_reply(failure)
        if limited := self._rate_limited(method, args) or self._tier_limited(method, args, token):
            return limited
        route = _ROUTES.get(method)
        if route is None:
            return Reply(404, {"ok": False, "error": "unknown_method"})
        if method in MESSAGE_METHODS and (refused := message_error(args)):
            return Reply(200, {"ok": False, "error": refused})
        return Reply(200, route(self, args))

    def _rate_limited(self, method: str, args: dict[str, Any]) -> Reply | None:
        if method not in self._limits:
            return None
        interval, retry_after = self._limits[method]
        key, now = (method, str(args.get("channel", ""))), time.monotonic()
        last = self._last_post.get(key)
        if last is not None and now - last < interval:
            wait = retry_after if retry_after is not None else max(1, math.ceil(interval - (now - last)))
            return Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)})
        self._last_post[key] = now
        return None

    def _tier_limited(self, method: str, args: dict[str, Any], token: str | None) -> Reply | None:
        if self.tiers is None or method not in _ROUTES:
            return None
        wait = self.tiers.check(token or "", method, str(args.get("channel", "")))
        if wait is None:
            return None
        return Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)})

    def _next_ts(self) -> str:
        ts = max(round(time.time(), 6), round(self._last_ts + 0.000001, 6))
        self._last_ts = ts
        return f"{ts:.6f}"

    def _dm_channel(self, user: str) -> str:
        return "D" + user.lstrip("UW")

    # ---- methods -------------------------------------------------------------------------------

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel[0] in "UW":
            channel = self._dm_channel(channel)
        ts = self._next_ts()
        message = {"type": "message", "ts": ts, "bot_id": AUTH_TEST["bot_id"], **_message_fields(args)}
        self._messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        for message in self._messages.get(channel, []):
            if message["ts"] == ts:
                message.update(_message_fields(args), edited={"user": AUTH_TEST["user_id"]})
                return {"ok": True, "channel": channel, "ts": ts, "text": message.get("text", ""),
                        "message": dict(message)}
        return {"ok": False, "error": "message_not_found"}

    def _ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel") or not args.get("user"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users", "")).split(",")
        if not users[0]:
            return {"ok": False, "error": "users_list_not_supplied"}
        return {"ok": True, "channel": {"id": self._dm_channel(users[0]), "is_im": True}}

    def _view(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        self._counter += 1
        view_id = str(args.get("view_id") or f"V{self._counter:08d}")
        return {"ok": True, "view": {"id": view_id, "hash": f"h{self._counter}", **view}}

    def _connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if self._socket_mode_url is None:  # no Socket Mode server attached to this fake
            return {"ok": False, "error": "unknown_method"}
        return {"ok": True, "url": self._socket_mode_url()}

    def _bot_info(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("bot") != AUTH_TEST["bot_id"]:
            return {"ok": False, "error": "bot_not_found"}
        return {"ok": True, "bot": {"id": AUTH_TEST["bot_id"], "deleted": False, "name": "hotloop",
                                    "app_id": APP_ID, "user_id": AUTH_TEST["user_id"]}}

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages (and thread parents) of a channel, newest first, `oldest` < ts ≤ `latest`."""
        channel = str(args.get("channel", ""))
        oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or math.inf)
        most = (self.tiers.page_limit("conversations.history") if self.tiers else None) or 999
        limit, start = max(1, min(int(args.get("limit") or 100), most)), int(args.get("cursor") or 0)
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        found = [
            m for m in reversed(self._messages.get(channel, []))
            if m.get("thread_ts") in (None, m["ts"]) and oldest < float(m["ts"]) <= latest
        ]
        page = [
            {k: v for k, v in m.items() if with_metadata or k != "metadata"}
            for m in found[start : start + limit]
        ]
        more = start + limit < len(found)
        cursor = str(start + limit) if more else ""
        return {"ok": True, "messages": page, "has_more": more, "response_metadata": {"next_cursor": cursor}}

    def _user_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(args.get("user", "")))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}


_Route = Callable[[FakeSlackApi, dict[str, Any]], dict[str, Any]]
_ROUTES: dict[str, _Route] = {
    "auth.test": lambda fake, args: dict(AUTH_TEST),
    "chat.postMessage": FakeSlackApi._post_message,
    "chat.update": FakeSlackApi._update,
    "chat.postEphemeral": FakeSlackApi._ephemeral,
    "conversations.open": FakeSlackApi._open,
    "conversations.history": FakeSlackApi._history,
    "views.open": FakeSlackApi._view,
    "views.update": FakeSlackApi._view,
    "views.publish": FakeSlackApi._view,
    "users.info": FakeSlackApi._user_info,
    "bots.info": FakeSlackApi._bot_info,
    "apps.connections.open": FakeSlackApi._connections_open,
}


def _message_fields(args: dict[str, Any]) -> dict[str, Any]:
    return {k: args[k] for k in ("text", "blocks", "thread_ts", "attachments", "metadata") if k in args}


def _failure_reply(failure: Failure) -> Reply:
    headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
    error = failure.error or ("ratelimited" if failure.status == 429 else "internal_error")
    return Reply(failure.status, {"ok": False, "error": error}, headers)
