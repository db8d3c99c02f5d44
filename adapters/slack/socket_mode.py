"""Socket Mode: hotloop owns the connection lifecycle, Bolt handles what arrives on it.

Why not slack_sdk's `SocketModeClient` (under Bolt's `AsyncSocketModeHandler`): when a WebSocket
upgrade fails, its `connect()` retries the same one-time URL every `ping_interval` seconds, forever,
logging a traceback each time and never asking `apps.connections.open` for a new URL; it swallows
the error (a caller cannot back off) and exposes no state. Subclassing would mean overriding
`connect`, `monitor_current_session` and `receive_messages`, i.e. all of it, so `SocketModeRunner`
drives aiohttp itself and keeps from the SDK what is plain protocol (`SocketModeRequest`,
`SocketModeResponse`) and from Bolt its public `async_dispatch`:

- every connection attempt asks `apps.connections.open` (app-level token) for a FRESH URL — a refused
  upgrade (HTTP 4xx/5xx), a failed `apps.connections.open`, a dropped TCP connection, a close frame
  or no `hello` all lead to a new attempt after an exponential backoff with jitter and a cap
  (`backoff_delay`), logged as one warning line with the reason, never a traceback;
- aiohttp's heartbeat pings every `ping_seconds` and drops a connection whose pong is late, so a
  silently dead TCP connection is noticed too;
- a `disconnect` from Slack (e.g. `refresh_requested`) opens the new connection first and closes the
  old one once its in-flight envelopes are acked (make before break);
- each envelope goes to Bolt as a `socket_mode` `AsyncBoltRequest` (what Bolt's own handler sends) and
  is acked with what the listener's `ack()` produced.

`status` (connecting / connected / reconnecting / failed, with reason and attempt) feeds `/readyz`;
`hotloop_slack_socket_mode_connected` and `hotloop_slack_socket_mode_reconnects_total{reason}` feed
`/metrics`. `failed` means an error only the operator can fix (a revoked token, Socket Mode switched
off in the app's settings): attempts go on at the capped interval so a fix needs no restart.

Authorization: Bolt's default single-workspace authorization caches `auth.test` only once the first
answer is back, so every envelope of a burst right after a start called `auth.test` itself (50 clicks,
50 calls, rate-limited by Slack) and missed the 3 s ack deadline. The Bolt app now authorizes from
the install learned once (`adapters/slack/install.py`, single flight); the runner is given that
`authorize` step and completes it before its first connection, so no envelope waits on `auth.test`,
and a bot token Slack refuses shows in `/readyz` as `failed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import structlog
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from adapters.slack.socket_session import Lost, SocketSession
from bot.telemetry import SLACK_SOCKET_CONNECTED, SLACK_SOCKET_RECONNECTS

log = structlog.get_logger("hotloop.slack")

# errors that retrying cannot fix: the token or the app's configuration must change
OPERATOR_ERRORS = frozenset({
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
    "not_allowed_token_type", "missing_scope", "no_permission", "ekm_access_denied",
})
_NETWORK_ERRORS = (aiohttp.ClientError, SlackClientError, OSError, asyncio.TimeoutError)
Authorize = Callable[[], Awaitable[object]]  # learns the install (auth.test) once; raises when it cannot


class Phase(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"


@dataclass
class SocketModeStatus:
    phase: Phase = Phase.CONNECTING
    reason: str | None = None
    attempt: int = 1  # the connection attempt under way or next, counted since the link was last up
    down_since: float | None = field(default_factory=time.monotonic)  # None while connected

    def as_dict(self) -> dict[str, object]:
        shown: dict[str, object] = {"state": self.phase.value}
        if self.phase is not Phase.CONNECTED:
            shown.update(reason=self.reason, attempt=self.attempt)
        return shown

    def not_ready(self, *, grace: float, now: float) -> str | None:
        """Why Slack buttons do not work now, or None: a short blip (a routine refresh) stays ready."""
        if self.phase is Phase.CONNECTED or self.down_since is None:
            return None
        failed_before = self.attempt > 1 or self.phase is Phase.FAILED
        if not failed_before and now - self.down_since <= grace:
            return None
        return f"Slack Socket Mode {self.phase.value} (attempt {self.attempt}): {self.reason or 'starting'}"


@dataclass(frozen=True)
class SocketTiming:
    base: float = 1.0  # backoff after the first failure (then doubling)…
    cap: float = 30.0  # …up to this
    stable_after: float = 30.0  # a connection up this long resets the count (a later loss reconnects at once)
    hello_timeout: float = 10.0
    ping_seconds: float = 10.0
    drain_seconds: float = 3.0  # in-flight envelopes on a replaced connection get this long to ack
    grace_seconds: float = 10.0  # /readyz tolerates a first reconnection this long


def backoff_delay(failures: int, timing: SocketTiming, rng: random.Random | None = None) -> float:
    """Seconds to wait after `failures` consecutive failures: none after 0, then base·2^(n-1) capped,
    drawn in [half, full] so that many instances restarted together do not reconnect in step."""
    if failures <= 0:
        return 0.0
    ceiling = min(timing.cap, timing.base * 2 ** min(failures - 1, 30))
    return (rng or random).uniform(ceiling / 2, ceiling)


class AttemptFailed(Exception):
    def __init__(self, reason: str, detail: str, *, fatal: bool = False, retry_after: float = 0.0) -> None:
        super().__init__(detail)
        self.lost = Lost(reason, detail)
        self.fatal = fatal
        self.retry_after = retry_after


def _proxy_for(url: str) -> str | None:
    """The proxy slack_sdk would use (HTTPS_PROXY, then HTTP_PROXY), unless NO_PROXY covers the host."""
    proxy = next((os.environ[name] for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
                  if os.environ.get(name, "").strip()), None)
    host = urlsplit(url).hostname or ""
    if proxy is None or urllib.request.proxy_bypass(host):
        return None
    return proxy


class SocketModeRunner:
    def __init__(self, bolt: AsyncApp, app_token: str, *, authorize: Authorize | None = None,
                 timing: SocketTiming | None = None) -> None:
        self.bolt = bolt
        self.app_token = app_token
        self._authorize = authorize
        self.timing = timing or SocketTiming()
        self.status = SocketModeStatus()
        self._failures = 0
        self._ever_connected = False
        self._authorized = authorize is None
        self._current: SocketSession | None = None
        self._replaced: list[SocketSession] = []  # asked to go by Slack; closed once a successor is up
        self._retiring: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=10)
        )
        self._task = asyncio.create_task(self._run(), name="slack-socket-mode")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for session in [*self._replaced, *([self._current] if self._current else [])]:
            await session.close(drain=0)
        self._current, self._replaced = None, []
        for task in set(self._retiring):
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        SLACK_SOCKET_CONNECTED.set(0)

    def readiness(self) -> tuple[dict[str, object], str | None]:
        reason = self.status.not_ready(grace=self.timing.grace_seconds, now=time.monotonic())
        return self.status.as_dict(), reason

    # ---- the supervisor -------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                session = await self._connect()
            except AttemptFailed as failure:
                await self._after_failure(failure)
                continue
            except Exception as exc:  # a surprise must not end Socket Mode for good: count it, retry
                await self._after_failure(AttemptFailed("error", f"unexpected {type(exc).__name__}"))
                continue
            self._came_up(session)
            await self._after_loss(session, await session.until_lost_or_replaced())

    async def _after_failure(self, failure: AttemptFailed) -> None:
        self._failures += 1
        delay = self.timing.cap if failure.fatal else backoff_delay(self._failures, self.timing)
        delay = max(delay, failure.retry_after)
        self._went_down(failure.lost, delay, failed=failure.fatal)
        await asyncio.sleep(delay)

    async def _after_loss(self, session: SocketSession, lost: Lost) -> None:
        connected_for = time.monotonic() - (session.connected_at or time.monotonic())
        # a connection that was up a while reconnects at once; one that keeps dropping backs off
        self._failures = 0 if connected_for >= self.timing.stable_after else self._failures + 1
        delay = backoff_delay(self._failures, self.timing)
        self._went_down(lost, delay)
        self._current = None
        if lost.reason == "disconnect":  # still usable: Slack may deliver on it until the successor is up
            self._replaced.append(session)
        else:
            self._retire(session, drain=0)
        if delay:
            await asyncio.sleep(delay)

    async def _connect(self) -> SocketSession:
        if not self._authorized:
            await self._authorize_once()
        url = await self._open_url()
        ws = await self._ws_connect(url)
        session = SocketSession(ws, self._dispatch)
        try:
            lost = await session.wait_hello(within=self.timing.hello_timeout)
        except asyncio.CancelledError:  # stopped while connecting
            await session.close(drain=0)
            raise
        if lost is not None:
            await session.close(drain=0)
            raise AttemptFailed(lost.reason, lost.detail)
        return session

    async def _authorize_once(self) -> None:
        """Before the first connection: the envelopes of a burst must not each wait for auth.test."""
        assert self._authorize is not None
        try:
            await self._authorize()
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown"))
            raise AttemptFailed("auth_failed", f"auth.test refused the bot token: {error}",
                                fatal=error in OPERATOR_ERRORS) from None
        except Exception as exc:  # unreachable, or an answer it could not use: retried with backoff
            raise AttemptFailed("auth_failed", f"auth.test failed ({type(exc).__name__})") from None
        self._authorized = True

    async def _open_url(self) -> str:
        """A fresh one-time WebSocket URL. Never logged: its ticket admits whoever holds it."""
        try:
            response = await self.bolt.client.apps_connections_open(app_token=self.app_token)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown"))
            retry_after = str(exc.response.headers.get("Retry-After", ""))  # with HTTP 429 (ratelimited)
            raise AttemptFailed("open_failed", f"apps.connections.open failed: {error}",
                                fatal=error in OPERATOR_ERRORS,
                                retry_after=float(retry_after) if retry_after.isdigit() else 0.0) from None
        except _NETWORK_ERRORS as exc:
            detail = f"apps.connections.open unreachable ({type(exc).__name__})"
            raise AttemptFailed("network", detail) from None
        url = response.get("url")
        if not isinstance(url, str) or not url.startswith(("wss://", "ws://")):
            raise AttemptFailed("open_failed", "apps.connections.open answered no WebSocket URL")
        return url

    async def _ws_connect(self, url: str) -> aiohttp.ClientWebSocketResponse:
        assert self._http is not None, "start() first"
        try:
            return await self._http.ws_connect(
                url, heartbeat=self.timing.ping_seconds, autoping=True, proxy=_proxy_for(url)
            )
        except aiohttp.WSServerHandshakeError as exc:
            detail = f"WebSocket upgrade refused (HTTP {exc.status})"
            raise AttemptFailed("handshake_refused", detail) from None
        except _NETWORK_ERRORS as exc:
            raise AttemptFailed("network", f"WebSocket connection failed ({type(exc).__name__})") from None

    # ---- state ----------------------------------------------------------------------------------

    def _came_up(self, session: SocketSession) -> None:
        self._current, self._ever_connected = session, True
        for replaced in self._replaced:  # make before break: the successor is up
            self._retire(replaced, drain=self.timing.drain_seconds)
        self._replaced = []
        self.status = SocketModeStatus(phase=Phase.CONNECTED, down_since=None)
        SLACK_SOCKET_CONNECTED.set(1)
        log.info("slack.socket_mode_connected")

    def _went_down(self, lost: Lost, retry_in: float, *, failed: bool = False) -> None:
        was_up = self.status.phase is Phase.CONNECTED
        phase = Phase.RECONNECTING if self._ever_connected else Phase.CONNECTING
        self.status = SocketModeStatus(
            phase=Phase.FAILED if failed else phase,
            reason=lost.detail,
            attempt=self._failures + 1,
            down_since=time.monotonic() if was_up else self.status.down_since,
        )
        SLACK_SOCKET_CONNECTED.set(0)
        SLACK_SOCKET_RECONNECTS.labels(reason=lost.reason).inc()
        # Slack recycles healthy connections every few hours: that refresh is news, not a warning
        routine = lost.reason == "disconnect" and self._failures == 0
        (log.info if routine else log.warning)(
            "slack.socket_mode_reconnecting", reason=lost.detail, attempt=self.status.attempt,
            retry_in=round(retry_in, 2),
        )

    def _retire(self, session: SocketSession, *, drain: float) -> None:
        """Close a connection in the background, after its in-flight envelopes are acked."""
        task = asyncio.create_task(session.close(drain=drain), name="slack-socket-retire")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    # ---- envelopes ------------------------------------------------------------------------------

    async def _dispatch(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """Bolt's answer to one envelope, as the ack to send; None: no ack (Slack will retry)."""
        try:
            request = SocketModeRequest.from_dict(message)
        except ValueError:
            request = None
        if request is None:
            log.warning("slack.socket_mode_envelope_invalid", envelope_type=str(message.get("type"))[:64])
            return None
        headers: dict[str, str | Sequence[str]] = {}
        if request.retry_attempt is not None:  # what Bolt's HTTP mode sees in X-Slack-Retry-*
            headers["x-slack-retry-num"] = str(request.retry_attempt)
        if request.retry_reason:
            headers["x-slack-retry-reason"] = request.retry_reason
        bolt_request = AsyncBoltRequest(body=request.payload, headers=headers or None, mode="socket_mode")
        try:
            response = await self.bolt.async_dispatch(bolt_request)
        except Exception as exc:  # a listener bug must not kill the connection: one line, no ack
            log.warning("slack.socket_mode_dispatch_failed", envelope_type=request.type,
                        error=type(exc).__name__)
            return None
        if response.status != 200:
            log.info("slack.socket_mode_not_acked", envelope_type=request.type, status=response.status)
            return None
        return _ack(request.envelope_id, response)


def _ack(envelope_id: str, response: BoltResponse) -> dict[str, Any]:
    body = response.body or ""
    payload: dict[str, Any] | None = None
    if body and response.headers.get("content-type", [""])[0].startswith("application/json"):
        payload = json.loads(body)
    elif body:
        payload = {"text": body}
    return dict(SocketModeResponse(envelope_id=envelope_id, payload=payload).to_dict())
