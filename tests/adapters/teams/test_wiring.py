"""build_teams_chat's pieces: serviceUrl from stored conversation references, pacing, bot tokens."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from adapters.teams.auth import BotConfig
from adapters.teams.tokens import BotTokenProvider
from adapters.teams.wiring import PACE_SECONDS, ReferencedTeamsChat
from bot.chat.port import ChatError
from storage.db import SessionFactory, transaction
from storage.models import Conversation
from tests.factories import sample_card
from tests.fakes.bot_connector import FakeBotConnector

CHANNEL = "19:linked@thread.tacv2"


async def test_new_threads_use_the_channel_reference(
    sessions: SessionFactory, fake_teams: FakeBotConnector
) -> None:
    async with transaction(sessions) as session:
        session.add(
            Conversation(
                platform="teams",
                conversation_id=CHANNEL,
                reference={"serviceUrl": fake_teams.url, "conversation": {"id": CHANNEL, "tenantId": "t-1"}},
            )
        )
    chat = ReferencedTeamsChat(
        sessions=sessions, configured_url=None, token_provider=None, tenant_id=None, bot_id="28:bot"
    )
    async with chat:
        assert chat.pace_seconds == PACE_SECONDS
        posted = await chat.post_card(channel=CHANNEL, card=sample_card())
        # an unknown channel falls back to the most recently heard-from conversation's serviceUrl
        await chat.send_direct(user="29:someone", text="hello")
    assert posted.conversation_ref is not None
    assert posted.conversation_ref["serviceUrl"] == fake_teams.url.rstrip("/")
    first = fake_teams.calls()[0]
    assert first.body["channelData"] == {"channel": {"id": CHANNEL}, "tenant": {"id": "t-1"}}
    assert first.body["bot"] == {"id": "28:bot"}
    assert any(c.conversation == "a:dm-29:someone" for c in fake_teams.calls())


async def test_configured_url_is_used_when_the_channel_is_unknown(
    sessions: SessionFactory, fake_teams: FakeBotConnector
) -> None:
    chat = ReferencedTeamsChat(
        sessions=sessions, configured_url=fake_teams.url, token_provider=None, tenant_id="t-2", bot_id=None
    )
    async with chat:
        await chat.post_card(channel="19:never-seen@thread.tacv2", card=sample_card())
    assert [c.path for c in fake_teams.calls()] == ["/v3/conversations"]


class TokenEndpoint:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                endpoint.requests.append((self.path, parse_qs(raw)))
                body = {"access_token": f"tok-{len(endpoint.requests)}", "expires_in": 3599}
                payload = json.dumps(body if endpoint.status == 200 else {"error": "invalid_client"}).encode()
                self.send_response(endpoint.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> TokenEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


async def test_bot_token_is_fetched_once_and_cached() -> None:
    config = BotConfig(
        APP_ID="app-1", APP_PASSWORD="pw-0123456789abcdef", APP_TYPE="SingleTenant", APP_TENANTID="tenant-9"
    )
    with TokenEndpoint() as endpoint:
        provider = BotTokenProvider(config, login_url=endpoint.url)
        assert await provider() == "tok-1"
        assert await provider() == "tok-1"
    assert len(endpoint.requests) == 1
    path, form = endpoint.requests[0]
    assert path == "/tenant-9/oauth2/v2.0/token"
    assert form["grant_type"] == ["client_credentials"] and form["client_id"] == ["app-1"]
    assert form["scope"] == ["https://api.botframework.com/.default"]


async def test_multitenant_uses_botframework_tenant_and_errors_are_chat_errors() -> None:
    config = BotConfig(APP_ID="app-1", APP_PASSWORD="wrong-password-000000")
    with TokenEndpoint(status=401) as endpoint:
        provider = BotTokenProvider(config, login_url=endpoint.url)
        with pytest.raises(ChatError) as failure:
            await provider()
    assert endpoint.requests[0][0] == "/botframework.com/oauth2/v2.0/token"
    assert not failure.value.permanent
    assert "wrong-password" not in failure.value.reason


async def test_no_app_id_means_no_token() -> None:
    assert await BotTokenProvider(BotConfig(APP_ID="", APP_PASSWORD=""))() == ""
