"""A loopback Socket Mode server: the WebSocket side of Slack's Socket Mode, for tests.

    with FakeSocketMode() as socket_mode:
        slack_api.serve_socket_mode(socket_mode.issue_url)  # apps.connections.open hands out its URLs
        ...
        envelope_id = socket_mode.send_envelope("interactive", payload)
        assert socket_mode.wait_for(lambda: envelope_id in socket_mode.acks())

It speaks the protocol as Slack does (https://docs.slack.dev/apis/events-api/using-socket-mode/):
`issue_url()` makes a URL with a new one-time ticket; an upgrade with an unknown or already used
ticket is refused with HTTP 403 (so a client that retries an old URL never gets in), and the next
upgrades can be refused with any status (`refuse_next`); an accepted connection first receives
`{"type": "hello", …}`; envelopes (`events_api`, `interactive`, `slash_commands`) carry an
`envelope_id` that the client acks by sending `{"envelope_id": …, "payload"?: …}` back;
`disconnect()` sends `{"type": "disconnect", "reason": …}`; `drop()` cuts the TCP connection without a
close frame; `go_silent_next()` makes a connection stop answering pings. aiohttp runs in its own
thread and event loop, like a remote server; every method here is thread-safe, and `wait_for`
blocks (call it through `asyncio.to_thread` from async tests).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes import wait_until

APP_ID = "A0TEST"


@dataclass(frozen=True)
class Handshake:
    ticket: str
    status: int  # 101 when the upgrade was accepted


@dataclass(frozen=True)
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None
    connection: int
    at: float  # time.monotonic()


@dataclass(frozen=True)
class Sent:
    envelope_id: str
    connection: int
    at: float


@dataclass
class _Connection:
    number: int
    ws: web.WebSocketResponse
    transport: asyncio.BaseTransport | None


class FakeSocketMode:
    def __init__(self, app_id: str = APP_ID) -> None:
        self.app_id = app_id
        self._lock = threading.Condition()
        self._issued: list[str] = []
        self._used: set[str] = set()
        self._refusals: deque[int] = deque()
        self._silent = 0
        self._handshakes: list[Handshake] = []
        self._open: dict[int, _Connection] = {}
        self._count = 0
        self._sent: dict[str, Sent] = {}
        self._acks: dict[str, Ack] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-socket-mode", daemon=True)
        self._runner: web.AppRunner | None = None
        self._port = 0

    # ---- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeSocketMode:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self._port = int(sock.getsockname()[1])
        self._thread.start()
        self._call(self._serve(sock))
        return self

    def stop(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- apps.connections.open -----------------------------------------------------------------

    def issue_url(self) -> str:
        """What apps.connections.open answers: a URL with a fresh one-time ticket."""
        ticket = uuid.uuid4().hex
        with self._lock:
            self._issued.append(ticket)
        return f"ws://127.0.0.1:{self._port}/link/?ticket={ticket}&app_id={self.app_id}"

    def refuse_next(self, count: int = 1, *, status: int = 403) -> None:
        """The next `count` upgrades are answered with HTTP `status` instead of 101."""
        with self._lock:
            self._refusals.extend([status] * count)

    def go_silent_next(self, count: int = 1) -> None:
        """The next `count` connections get their hello, then never answer a ping (a dead path that
        sends no FIN or RST, e.g. a NAT entry that expired): only the client's heartbeat notices."""
        with self._lock:
            self._silent += count

    def accept_all(self) -> None:
        with self._lock:
            self._refusals.clear()

    # ---- inspection ----------------------------------------------------------------------------

    def issued(self) -> list[str]:
        with self._lock:
            return list(self._issued)

    def handshakes(self) -> list[Handshake]:
        with self._lock:
            return list(self._handshakes)

    def open_connections(self) -> list[int]:
        with self._lock:
            return sorted(self._open)

    def acks(self) -> dict[str, Ack]:
        with self._lock:
            return dict(self._acks)

    def sent(self) -> dict[str, Sent]:
        with self._lock:
            return dict(self._sent)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 8.0) -> bool:
        return wait_until(self._lock, predicate, timeout)

    # ---- acting as Slack -----------------------------------------------------------------------

    def send_envelope(self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool = False,
                      connection: int | None = None) -> str:
        """Send an envelope on `connection` (default: the newest open one); returns its envelope_id."""
        envelope_id = str(uuid.uuid4())
        frame = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                 "accepts_response_payload": accepts_response_payload}
        if kind == "events_api":
            frame.update(retry_attempt=0, retry_reason="")
        number = self._send(frame, connection)
        with self._lock:
            self._sent[envelope_id] = Sent(envelope_id, number, time.monotonic())
        return envelope_id

    def disconnect(self, reason: str = "refresh_requested", *, connection: int | None = None) -> int:
        """Ask the client to reconnect, as Slack does before it recycles a connection."""
        frame = {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}
        return self._send(frame, connection)

    def drop(self, connection: int | None = None) -> int:
        """Cut the TCP connection: no close frame, as when a network path dies or a host restarts."""
        with self._lock:
            target = self._pick(connection)
        self._loop.call_soon_threadsafe(_abort, target)
        return target.number

    # ---- server side (the fake's own thread) ---------------------------------------------------

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=5)

    def _pick(self, connection: int | None) -> _Connection:
        if not self._open:
            raise AssertionError("no open Socket Mode connection")
        return self._open[connection if connection is not None else max(self._open)]

    def _send(self, frame: dict[str, Any], connection: int | None) -> int:
        with self._lock:
            target = self._pick(connection)
        self._call(target.ws.send_str(json.dumps(frame)))
        return target.number

    async def _serve(self, sock: socket.socket) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def _shutdown(self) -> None:
        with self._lock:
            open_now = list(self._open.values())
        for connection in open_now:
            _abort(connection)
        if self._runner is not None:
            await self._runner.cleanup()

    def _upgrade_status(self, ticket: str) -> int:
        if self._refusals:
            return self._refusals.popleft()
        if ticket not in self._issued or ticket in self._used:
            return 403  # an unknown or reused ticket: a temporary URL works once
        return 101

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        with self._lock:
            status = self._upgrade_status(ticket)
            self._used.add(ticket)
            self._handshakes.append(Handshake(ticket, status))
            self._lock.notify_all()
        if status != 101:
            return web.Response(status=status, text="refused")
        with self._lock:
            silent, self._silent = self._silent > 0, max(self._silent - 1, 0)
        ws = web.WebSocketResponse(autoping=not silent)
        await ws.prepare(request)
        with self._lock:
            self._count += 1
            number = self._count
            self._open[number] = _Connection(number, ws, request.transport)
            self._lock.notify_all()
        try:
            await ws.send_str(json.dumps(self._hello()))
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._on_text(number, message.data)
        finally:
            with self._lock:
                self._open.pop(number, None)
                self._lock.notify_all()
        return ws

    def _hello(self) -> dict[str, Any]:
        with self._lock:
            count = len(self._open)
        return {"type": "hello", "num_connections": count,
                "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                "connection_info": {"app_id": self.app_id}}

    def _on_text(self, number: int, data: str) -> None:
        message = json.loads(data)
        envelope_id = message.get("envelope_id")
        if isinstance(envelope_id, str):
            with self._lock:
                self._acks.setdefault(
                    envelope_id, Ack(envelope_id, message.get("payload"), number, time.monotonic())
                )
                self._lock.notify_all()


def _abort(connection: _Connection) -> None:
    if isinstance(connection.transport, asyncio.Transport):
        connection.transport.abort()
