"""Signed Slack requests to the real app with Slack on (tests/conftest.py's `app_with_chats(slack=True)`).

async with app_with_chats(slack=True) as server:
    slack = SlackApp(server, fake_slack)
    key = await slack.new_alert()
    reply = await slack.interact(block_actions(ANA, button("alert.claim", key)))
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import select

from storage import queries
from storage.db import transaction
from storage.models import Alert, AlertEvent
from tests.appserver import SLACK_CHANNEL, SLACK_SIGNING_SECRET, AppServer, serve_with_chats
from tests.fakes.slack_api import FakeSlackApi

SIGNING_SECRET = SLACK_SIGNING_SECRET
CHANNEL = SLACK_CHANNEL  # the default team's channel
ANA = {"id": "U0ANA", "username": "ana", "name": "ana", "team_id": "T0TEST"}
BEN = {"id": "U0BEN", "username": "ben", "name": "ben", "team_id": "T0TEST"}
ADMIN = {"id": "U0ADMIN", "username": "root", "name": "root", "team_id": "T0TEST"}
# what slack_block_actions.json's response_url looks like; never called: `interact` swaps in the fake's
PLACEHOLDER_RESPONSE_URL = "https://hooks.slack.com/actions/T0TEST/1/x"

DETRACTOR = {
    "nps": 2,
    "contact_requested": True,
    "customer": {"name": "Dana", "email": "dana@example.com"},
    "comment": "Rude staff <!channel>",
    "attributes": {"location": "042"},
}


def sign(body: bytes, *, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Slack's request signature: v0=hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": ts, "x-slack-signature": f"v0={digest}"}


def block_actions(
    user: Mapping[str, Any],
    element: Mapping[str, Any],
    *,
    channel: str | None = CHANNEL,
    message_ts: str = "1.000001",
    view: Mapping[str, Any] | None = None,
    response_url: str = PLACEHOLDER_RESPONSE_URL,
) -> dict[str, Any]:
    """A block_actions payload shaped like tests/fixtures/payloads/slack_block_actions.json. Its
    `response_url` is the fixture's kind of address; `SlackApp.interact` aims it at the fake Slack."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": dict(user),
        "api_app_id": "A0TEST",
        "token": "verification_token",
        "trigger_id": f"{time.time_ns()}.trigger",
        "team": {"id": "T0TEST", "domain": "hotloop-test"},
        "response_url": response_url,
        "actions": [{"block_id": "b", "action_ts": f"{time.time():.6f}", **element}],
    }
    if channel:
        payload["container"] = {"type": "message", "message_ts": message_ts, "channel_id": channel}
        payload["channel"] = {"id": channel, "name": "team"}
    else:
        payload["container"] = {"type": "view", "view_id": "VHOME"}
        payload["view"] = dict(view or {"id": "VHOME", "type": "home"})
    return payload


def button(action_id: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "value": value,
        "text": {"type": "plain_text", "text": "x"},
    }


def menu_choice(value: str) -> dict[str, Any]:
    return {
        "type": "overflow",
        "action_id": "alert.more",
        "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": value},
    }


def view_submission(
    user: Mapping[str, Any], view: Mapping[str, Any], values: Mapping[str, Any]
) -> dict[str, Any]:
    """Submit `view` (as our app built it) with `values` = {block_id: element state}."""
    state = {block_id: {"value": element} for block_id, element in values.items()}
    return {
        "type": "view_submission",
        "team": {"id": "T0TEST", "domain": "hotloop-test"},
        "user": dict(user),
        "api_app_id": "A0TEST",
        "token": "verification_token",
        "trigger_id": f"{time.time_ns()}.trigger",
        "view": {"id": "V0MODAL", "type": "modal", **view, "state": {"values": state}},
        "response_urls": [],
    }


def home_opened(user: str, event_id: str, tab: str = "home") -> dict[str, Any]:
    """An app_home_opened event callback, shaped like
    tests/fixtures/payloads/slack_event_app_home_opened.json."""
    event = {
        "type": "app_home_opened",
        "user": user,
        "channel": "D0X",
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    return {
        "token": "verification_token",
        "team_id": "T0TEST",
        "api_app_id": "A0TEST",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event,
    }


@dataclass
class SlackApp:
    server: AppServer
    fake: FakeSlackApi

    @property
    def client(self) -> httpx.AsyncClient:
        return self.server.client

    async def post(
        self, body: bytes, *, content_type: str, headers: Mapping[str, str] | None = None, **signing: Any
    ) -> httpx.Response:
        sent = {"content-type": content_type, **sign(body, **signing), **(headers or {})}
        return await self.client.post("/slack/events", content=body, headers=sent)

    async def interact(self, payload: Mapping[str, Any], **signing: Any) -> httpx.Response:
        """Send a signed interaction; a click on a message gets a response_url of the fake Slack for that
        message (5 uses, 30 minutes) instead of the placeholder."""
        container = payload.get("container") or {}
        if payload.get("response_url") == PLACEHOLDER_RESPONSE_URL and container.get("type") == "message":
            url = self.fake.response_url_for(container["channel_id"], container["message_ts"])
            payload = {**payload, "response_url": url}
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post(body, content_type="application/x-www-form-urlencoded", **signing)

    async def event(
        self, payload: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        return await self.post(json.dumps(payload).encode(), content_type="application/json", headers=headers)

    async def command(self, user: Mapping[str, Any], text: str, *, channel: str = CHANNEL) -> httpx.Response:
        fields = {
            "token": "verification_token",
            "team_id": "T0TEST",
            "team_domain": "hotloop-test",
            "channel_id": channel,
            "channel_name": "team",
            "user_id": user["id"],
            "user_name": user["name"],
            "command": "/hotloop",
            "text": text,
            "api_app_id": "A0TEST",
            "response_url": self.fake.url + "commands/T0TEST/1/x",
            "trigger_id": "1.1.x",
        }
        return await self.post(urlencode(fields).encode(), content_type="application/x-www-form-urlencoded")

    async def click(
        self, user: Mapping[str, Any], action_id: str, value: str, **kwargs: Any
    ) -> httpx.Response:
        return await self.interact(block_actions(user, button(action_id, value), **kwargs))

    async def new_alert(self, external_id: str = "r-1", **overrides: Any) -> str:
        """An alert through the real generic webhook, once its card is on the fake Slack."""
        reply = await self.server.post_feedback({"id": external_id, **DETRACTOR, **overrides})
        assert reply.status_code == 202, reply.text
        key = str(reply.json()["alert"])
        assert await self.wait(lambda: self.card(key) is not None), f"card for {key} never posted"
        # and recorded: the worker writes the card's reference once Slack answered, and a click checks
        # its channel against the recorded ones (before that, any channel may click)
        assert await self.until(lambda: self.card_recorded(key)), f"card for {key} never recorded"
        return key

    async def card_recorded(self, key: str) -> bool:
        async with self.server.ctx.sessions() as session:
            alert = await queries.get_alert(session, key=key)
            return alert is not None and alert.id is not None and bool(
                await queries.card_refs(session, alert_id=alert.id))

    async def click_card(self, user: Mapping[str, Any], action_id: str, key: str, *, channel: str = CHANNEL,
                         **kwargs: Any) -> httpx.Response:
        """A click on the alert's own card (or digest) in `channel`: its real ts and a response_url for it."""
        ts = self.ts_of(key, channel)
        assert ts is not None, f"no message for {key} in {channel}"
        return await self.click(user, action_id, key, channel=channel, message_ts=ts, **kwargs)

    def ts_of(self, key: str, channel: str = CHANNEL) -> str | None:
        for message in self.fake.messages_in(channel):
            if "thread_ts" not in message and key in json.dumps(message.get("blocks", [])):
                return str(message["ts"])
        return None

    def card(self, key: str) -> dict[str, Any] | None:
        for message in self.fake.messages_in(CHANNEL):
            if "thread_ts" not in message and key in json.dumps(message.get("blocks", [])):
                return message
        return None

    def thread(self, key: str) -> list[str]:
        card = self.card(key)
        if card is None:
            return []
        return [m["text"] for m in self.fake.messages_in(CHANNEL) if m.get("thread_ts") == card["ts"]]

    def ephemerals(self, user: Mapping[str, Any]) -> list[str]:
        return [
            str(c.args.get("text"))
            for c in self.fake.calls("chat.postEphemeral")
            if c.args.get("user") == user["id"]
        ]

    async def wait(self, predicate: Callable[[], bool], timeout: float = 8.0) -> bool:
        """Wait off the event loop (the app under test runs on it)."""
        return await asyncio.to_thread(self.fake.wait_for, predicate, timeout)

    async def alert(self, key: str) -> Alert:
        async with self.server.ctx.sessions() as session:
            alert = await queries.get_alert(session, key=key)
        assert alert is not None
        return alert

    async def events(self, key: str) -> list[str]:
        alert = await self.alert(key)
        async with self.server.ctx.sessions() as session:
            rows = (
                await session.execute(select(AlertEvent.kind).where(AlertEvent.alert_id == alert.id))
            ).all()
        return [row[0] for row in rows]

    async def until(self, check: Callable[[], Any], timeout: float = 8.0) -> bool:
        """Poll an async condition on the database (the listener runs after the HTTP response)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await check():
                return True
            await asyncio.sleep(0.05)
        return False

    async def make_admin(self, user_id: str) -> None:
        from storage.models import Admin

        async with transaction(self.server.ctx.sessions) as session:
            session.add(Admin(user_id=user_id, platform="slack", added_by="test"))
        self.server.ctx.config.invalidate()


@asynccontextmanager
async def slack_app(database_url: str, fake: FakeSlackApi, **overrides: Any) -> AsyncIterator[SlackApp]:
    """`app_with_chats(slack=True, **overrides)` wrapped in a SlackApp, for callers without the fixture."""
    async with serve_with_chats(database_url, slack=fake, **overrides) as server:
        yield SlackApp(server=server, fake=fake)
