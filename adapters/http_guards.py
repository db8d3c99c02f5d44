"""`RequestGuards`: one pure ASGI middleware around every route, FastAPI's and plain Starlette's alike.

- A body that has not fully arrived `body_timeout` seconds after the headers is answered 408 (a client
  trickling a body would otherwise hold its request open for ever).
- A database that cannot be reached (stopped, restarting, connections killed: `is_database_outage`)
  is answered 503 with a reason and Retry-After, never a 500 and never a dropped connection; nothing
  was stored, and the next request opens a fresh connection, so service resumes by itself.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.telemetry import DATABASE_UNAVAILABLE, WEBHOOKS_REJECTED
from storage.outage import DATABASE_UNAVAILABLE as UNAVAILABLE_REASON
from storage.outage import RETRY_AFTER_SECONDS, is_database_outage

log = structlog.get_logger("hotloop.http")


class BodyTimeoutError(Exception):
    """The request body did not arrive in time."""


class RequestGuards:
    def __init__(self, app: ASGIApp, *, body_timeout: float) -> None:
        self.app = app
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, _receive_before(receive, self.body_timeout), send_tracked)
        except BodyTimeoutError:
            if started:
                raise
            _count_refusal(scope, 408)
            await _answer(send, 408, f"the request body did not arrive within {self.body_timeout:g} s",
                          [(b"connection", b"close")])
        except Exception as error:
            if started or not is_database_outage(error):
                raise
            DATABASE_UNAVAILABLE.inc()
            _count_refusal(scope, 503)
            log.warning("database.unavailable", path=scope.get("path"), error=type(error).__name__)
            retry_after = (b"retry-after", str(RETRY_AFTER_SECONDS).encode())
            await _answer(send, 503, UNAVAILABLE_REASON, [retry_after])


def _receive_before(receive: Receive, timeout: float) -> Receive:
    """`receive`, failing with BodyTimeoutError past the deadline until the body is complete."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    body_done = False

    async def receive_in_time() -> Message:
        nonlocal body_done
        if body_done:  # afterwards the app only listens for a disconnect: no deadline for that
            return await receive()
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise BodyTimeoutError from None
        body_done = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return receive_in_time


def _count_refusal(scope: Scope, status: int) -> None:
    if str(scope.get("path", "")).startswith("/webhooks/"):
        WEBHOOKS_REJECTED.labels(status=str(status)).inc()


async def _answer(send: Send, status: int, reason: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"error": reason}).encode()
    headers: list[Any] = [(b"content-type", b"application/json"),
                          (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
