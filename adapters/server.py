"""The uvicorn server `hotloop serve` runs, hardened against slow and numerous clients.

uvicorn times out idle keep-alive connections but not a request whose headers arrive slowly (or never):
`GuardedHttpToolsProtocol` closes a connection whose request line and headers are
not complete `HOTLOOP_HTTP_HEADER_TIMEOUT_SECONDS` after it opened (or after its previous response), and
closes new connections at once past twice `HOTLOOP_HTTP_MAX_CONNECTIONS`. A trickled body is answered
408 by `adapters.http_guards`. Past `HOTLOOP_HTTP_MAX_CONNECTIONS` uvicorn answers 503
(`limit_concurrency`), and on SIGTERM requests still running after `HOTLOOP_HTTP_SHUTDOWN_TIMEOUT_SECONDS`
are cancelled, so the process always ends.

The listening socket is bound first (`bind_socket`), before anything touches the database, so a port
already in use is reported at once.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

import structlog
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bot.settings import Settings

log = structlog.get_logger("hotloop.http")


class PortError(Exception):
    """The address cannot be listened on; the message is one line naming the port."""


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers, never a live listener
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortError(f"port {port} on {host} is already in use: stop the other server or pick "
                            "another with --port") from None
        raise PortError(f"cannot listen on {host} port {port}: {error.strerror}") from None
    sock.set_inheritable(True)
    return sock


class HotloopConfig(uvicorn.Config):
    """uvicorn's Config plus what the guarded protocols read."""

    def __init__(self, app: Any, *, header_timeout: float, max_connections: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout
        self.hard_connection_cap = 2 * max_connections


class _HeaderDeadline:
    """Closes the connection unless the current request's headers are complete in time."""

    def __init__(self, transport: asyncio.BaseTransport, timeout: float) -> None:
        self.transport = transport
        self.timeout = timeout
        self.timer: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.timeout, self._expire)

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expire(self) -> None:
        self.timer = None
        if not self.transport.is_closing():
            log.info("http.header_timeout", timeout=self.timeout)
            self.transport.close()


def _admit(protocol: Any, transport: asyncio.Transport) -> _HeaderDeadline:
    config: HotloopConfig = protocol.config
    deadline = _HeaderDeadline(transport, config.header_timeout)
    if len(protocol.server_state.connections) > config.hard_connection_cap:
        transport.close()  # far past the cap: not even a 503 (that needs the request's headers)
    else:
        deadline.arm()
    return deadline


def _awaiting_headers(protocol: Any) -> bool:
    """No request yet, or the last one answered: the next bytes start a new request."""
    cycle = protocol.cycle
    return cycle is None or bool(cycle.response_complete)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (uvicorn[standard] is a dependency) with a header deadline."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.header_deadline = _admit(self, transport)

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        if _awaiting_headers(self):
            self.header_deadline.arm()
        super().data_received(data)
        if self.cycle is not before:  # a new request's headers are complete
            self.header_deadline.disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.header_deadline.disarm()
        super().connection_lost(exc)


def build_server(app: Any, settings: Settings, *, log_level: str | None = None) -> uvicorn.Server:
    """A uvicorn Server for `app` with hotloop's limits; serve it with `server.serve(sockets=[sock])`.
    Its log records go to the root logger, formatted like every other line (bot/telemetry.py)."""
    config = HotloopConfig(
        app,
        header_timeout=settings.http_header_timeout_seconds,
        max_connections=settings.http_max_connections,
        http=GuardedHttpToolsProtocol,
        limit_concurrency=settings.http_max_connections,
        timeout_graceful_shutdown=settings.http_shutdown_timeout_seconds,
        timeout_keep_alive=5,
        log_config=None,
        log_level=log_level or settings.log_level,
        access_log=False,
        lifespan="on",
    )
    return uvicorn.Server(config)


def run_server(server: uvicorn.Server, listener: socket.socket) -> None:
    """Serve on `listener` until SIGTERM/SIGINT; says `hotloop.listening` once requests are accepted
    (uvicorn does not, for a socket it was handed)."""

    async def main() -> None:
        serving = asyncio.create_task(server.serve(sockets=[listener]))
        while not (server.started or serving.done()):  # noqa: ASYNC110  (uvicorn only has a flag)
            await asyncio.sleep(0.05)
        if server.started:
            host, port = listener.getsockname()[:2]
            log.info("hotloop.listening", host=host, port=port)
        await serving

    with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
        runner.run(main())
