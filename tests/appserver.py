"""Run the real ASGI app under uvicorn on a loopback port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import uvicorn
from fastapi import FastAPI

from adapters.sources.generic import sign
from adapters.teams.wiring import SERVICE_URL_ENV
from bot.config.sources import add_source
from bot.context import Context
from bot.settings import Role, Settings, build_settings
from hotloop.app import create_app
from storage import queries
from storage.db import transaction
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi

TEST_SECRET_KEY = "test-secret-key-0123456789abcdef"
SOURCE_SECRET = "source-secret-for-tests-0123456789"
# tests/adapters/slack/slackapp.py signs requests with it
SLACK_SIGNING_SECRET = "signing-secret-for-tests-0123"
SLACK_CHANNEL = "C0TEAM01"  # the default team's Slack channel when Slack is on


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


class AppWithChats(Protocol):
    """The `app_with_chats` fixture: `serve_with_chats` on the test's database, with the fakes asked for."""

    def __call__(
        self,
        *,
        slack: bool = False,
        teams: bool = False,
        default_team: Mapping[str, Any] | None = None,
        source: str | None = "web",
        role: Role = ...,
        **settings: Any,
    ) -> AbstractAsyncContextManager[AppServer]: ...


@asynccontextmanager
async def serve_with_chats(
    database_url: str,
    *,
    slack: FakeSlackApi | None = None,
    teams: FakeBotConnector | None = None,
    default_team: Mapping[str, Any] | None = None,
    source: str | None = "web",
    role: Role = Role.ALL,
    **overrides: Any,
) -> AsyncIterator[AppServer]:
    """The real app (`serve_app`) with its chats on the loopback fakes; every app test starts here
    (tests/conftest.py's `app_with_chats` fixture binds the database and the fakes).

    `slack`: Slack on, against this fake Web API; the default team's cards go to SLACK_CHANNEL.
    `teams`: Teams on in loopback mode (no token checks) and its cards and direct messages sent to this
    fake Bot Connector (HOTLOOP_TEAMS_SERVICE_URL). Teams with token checks: pass `teams_app_id=…`.
    `default_team`: columns of the default team to set (`slack_channel`, `managers_teams_channel`…).
    `source`: a generic source of that name is added (None: no source). `overrides`: any settings."""
    values: dict[str, Any] = {}
    team: dict[str, Any] = {}
    if slack is not None:
        values.update(slack_bot_token=slack.token, slack_signing_secret=SLACK_SIGNING_SECRET,
                      slack_api_url=slack.url)
        team["slack_channel"] = SLACK_CHANNEL
    if teams is not None:
        values["teams_allow_unauthenticated"] = True
    values.update(overrides)
    team.update(default_team or {})
    with _environment(SERVICE_URL_ENV, teams.url if teams is not None else None):
        async with serve_app(test_settings(database_url, **values), role=role) as server:
            if team:
                await set_default_team(server, **team)
            if source is not None:
                await server.add_source(source)
            yield server


async def set_default_team(server: AppServer, **columns: Any) -> None:
    async with transaction(server.ctx.sessions) as session:
        team = await queries.default_team(session)
        assert team is not None
        for name, value in columns.items():
            setattr(team, name, value)
        session.add(team)
    server.ctx.config.invalidate()


@contextmanager
def _environment(name: str, value: str | None) -> Iterator[None]:
    """`name` set to `value` while the app starts and runs (read when its chats are built)."""
    if value is None:
        yield
        return
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
