"""One Socket Mode WebSocket connection: read frames, hand envelopes on, ack on the same socket.

The supervisor in `adapters/slack/socket_mode.py` owns the lifecycle (which URL, when to reconnect);
a `SocketSession` only knows its socket:

- `{"type": "hello"}` → `hello` is set (the connection is usable);
- `{"type": "disconnect", "reason": …}` → `replace` is set: Slack wants a new connection, and this one
  keeps reading until the supervisor retires it (envelopes may still arrive on it meanwhile);
- `{"envelope_id": …, "payload": …}` → `handle(message)` in its own task (a slow listener never
  holds up the next envelope); its answer is the ack, sent back on this socket;
- a close frame, end of stream, a heartbeat timeout or an error → `run()` returns why (`Lost`).

Nothing from a frame is logged but its type: envelopes carry customer text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog

log = structlog.get_logger("hotloop.slack")

CLOSE_SECONDS = 2.0
EnvelopeHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class Lost:
    """Why a connection ended: `reason` is a metric label (few values), `detail` is for people."""

    reason: str
    detail: str


class SocketSession:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, handle: EnvelopeHandler) -> None:
        self.ws = ws
        self.hello = asyncio.Event()
        self.replace = asyncio.Event()
        self.disconnect_reason = ""
        self.connected_at: float | None = None  # time.monotonic() of `hello`
        self._handle = handle
        self._inflight: set[asyncio.Task[None]] = set()
        self._reader: asyncio.Task[Lost] = asyncio.create_task(self._read(), name="slack-socket-read")

    async def wait_hello(self, *, within: float) -> Lost | None:
        """None once `hello` arrived; else why not (the socket ended, or no hello `within` seconds)."""
        hello = asyncio.create_task(self.hello.wait())
        try:
            await asyncio.wait({hello, self._reader}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hello.cancel()
        if self.hello.is_set():
            return None
        if self._reader.done():
            return self._reader.result()
        return Lost("no_hello", f"no hello from Slack within {within:g} s")

    async def until_lost_or_replaced(self) -> Lost:
        """Wait until the socket ends, or Slack asks for a new connection (`disconnect`)."""
        replace = asyncio.create_task(self.replace.wait())
        try:
            await asyncio.wait({replace, self._reader}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            replace.cancel()
        if self._reader.done():
            return self._reader.result()
        return Lost("disconnect", f"Slack asked to reconnect ({self.disconnect_reason or 'no reason'})")

    async def close(self, *, drain: float) -> None:
        """Let in-flight envelopes finish and ack (up to `drain` s), then close the socket."""
        if self._inflight and drain > 0:
            await asyncio.wait(set(self._inflight), timeout=drain)
        for task in set(self._inflight):
            task.cancel()
        with contextlib.suppress(Exception):  # TimeoutError too: a peer that never answers the close
            async with asyncio.timeout(CLOSE_SECONDS):
                await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader

    async def _read(self) -> Lost:
        while True:
            message = await self.ws.receive()
            if message.type is aiohttp.WSMsgType.TEXT:
                self._on_text(message.data)
            elif message.type is aiohttp.WSMsgType.CLOSE:
                return Lost("closed", f"closed by Slack (code {message.data})")
            elif message.type is aiohttp.WSMsgType.ERROR:
                error = self.ws.exception()
                return Lost("dropped", f"connection lost ({type(error).__name__ if error else 'error'})")
            elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                return Lost("dropped", "connection lost (closed without a close frame)")
            # BINARY, PING and PONG carry nothing for us (aiohttp answers pings itself)

    def _on_text(self, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            log.warning("slack.socket_mode_frame_invalid", error="not JSON")
            return
        if not isinstance(message, dict):
            log.warning("slack.socket_mode_frame_invalid", error="not an object")
            return
        kind = message.get("type")
        if kind == "hello":
            self.connected_at = time.monotonic()
            self.hello.set()
        elif kind == "disconnect":
            self.disconnect_reason = str(message.get("reason") or "")[:64]
            self.replace.set()
        elif "envelope_id" in message:
            task = asyncio.create_task(self._envelope(message), name="slack-socket-envelope")
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        else:
            log.info("slack.socket_mode_frame_ignored", frame_type=str(kind)[:64])

    async def _envelope(self, message: dict[str, Any]) -> None:
        ack = await self._handle(message)
        if ack is None:
            return
        try:
            await self.ws.send_str(json.dumps(ack))
        except (ConnectionError, RuntimeError, aiohttp.ClientError) as exc:
            # Slack sends an unacked envelope again (on this or another connection): one line, no traceback
            log.warning("slack.socket_mode_ack_failed", error=type(exc).__name__)
