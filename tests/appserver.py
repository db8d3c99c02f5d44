"""Run the real ASGI app under uvicorn on a loopback port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from adapters.sources.generic import sign
from adapters.web import create_app
from bot.context import Context
from bot.settings import Role, Settings, build_settings
from bot.sources import add_source

TEST_SECRET_KEY = "test-secret-key-0123456789abcdef"
SOURCE_SECRET = "source-secret-for-tests-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AppServer:
    app: FastAPI
    url: str
    client: httpx.AsyncClient

    @property
    def ctx(self) -> Context:
        ctx: Context = self.app.state.ctx
        return ctx

    async def add_source(
        self, name: str = "web", *, kind: str = "generic", secret: str = SOURCE_SECRET
    ) -> None:
        await add_source(self.ctx.sessions, self.ctx.secrets, name=name, kind=kind, secret=secret)

    async def post_feedback(
        self,
        payload: Mapping[str, Any] | bytes,
        *,
        source: str = "web",
        secret: str = SOURCE_SECRET,
        timestamp: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        signature = sign(secret, body, int(time.time()) if timestamp is None else timestamp)
        sent = {"content-type": "application/json", "x-hotloop-signature": signature, **(headers or {})}
        return await self.client.post(f"/webhooks/{source}", content=body, headers=sent)


def test_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"mode": "test", "database_url": database_url, "secret_key": TEST_SECRET_KEY,
                              "log_json": False, "delivery_poll_seconds": 0.2}
    values.update(overrides)
    return build_settings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test, when imported into a test module


@asynccontextmanager
async def serve_app(settings: Settings, *, role: Role = Role.ALL, **kwargs: Any) -> AsyncIterator[AppServer]:
    port = free_port()
    app = create_app(settings, role=role, **kwargs)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        try:
            yield AppServer(app=app, url=url, client=client)
        finally:
            server.should_exit = True
            await task
