"""The live stream (GET /app/events) through the real app over real HTTP, on SQLite and PostgreSQL.

An open page hears of a change made anywhere: a click on the Slack card (the fake Slack Web API's
response_url, the app's signed /slack/events) or the action table called directly. It hears only of the
alerts of the teams its user may see, and of those only the key, version and status: never customer
text, which the page then fetches as an escaped HTML fragment. Without a session it hears nothing (401).
A client that goes away leaves no subscriber and no poller behind.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from adapters.web.events import EventHub
from bot.action_ids import ActionId, Arg
from bot.actions.table import ActionRequest, run_action
from bot.alerts.lifecycle import Actor
from storage.db import transaction
from storage.models import AlertEvent
from tests.adapters.slack.slackapp import SlackApp
from tests.adapters.web.queue_helpers import add_alert, add_team
from tests.adapters.web.signin_helpers import SignedIn, sign_in
from tests.appserver import AppServer, AppWithChats
from tests.fakes.slack_api import FakeSlackApi

ADMIN_ID = "U0ADMIN"
BEN = {"id": "U0BEN", "name": "ben"}
EVENT_STREAM = {"accept": "text/event-stream"}
WAIT_SECONDS = 20.0  # a guard against a hung stream, not a measurement: a loopback event takes ms
KEY = re.compile(r"^[A-Z]{1,8}-\d+$")
SSE_LINE = re.compile(r"^(|retry: \d+|id: \d+|event: alert|data: .*|: heartbeat)$")
STREAM_URL = re.compile(r'data-sse="(/app/events\?after=\d+)"')
HOSTILE = ('</script><script>alert("x")</script>\n\nevent: alert\ndata: {"key": "EVIL-1"}\n\n'
           "<img src=x onerror=alert(1)>")


@dataclass
class World:
    server: AppServer
    slack: SlackApp
    ana: SignedIn  # a member: sees the default team only
    admin: SignedIn  # sees every team

    @property
    def hub(self) -> EventHub | None:
        hub: EventHub | None = getattr(self.server.app.state, "web_event_hub", None)
        return hub


@pytest.fixture
async def world(app_with_chats: AppWithChats, fake_slack: FakeSlackApi) -> AsyncIterator[World]:
    async with app_with_chats(slack=True, public_url="http://127.0.0.1", admins=[f"slack:{ADMIN_ID}"],
                              systemic_min_count=1_000_000) as server:
        server.app.state.web_event_poll_seconds = 0.05  # read before the hub is made (first stream)
        # a stream a failed test left open ends by itself soon after: the server's shutdown waits for it
        server.app.state.web_event_lifetime = WAIT_SECONDS + 5
        ana = await sign_in(server, user_id="U0ANA", name="ana")
        admin = await sign_in(server, user_id=ADMIN_ID, name="root")
        yield World(server, SlackApp(server=server, fake=fake_slack), ana, admin)
        await ana.aclose()
        await admin.aclose()


@dataclass
class Stream:
    """An open event stream: its frames as they come, and every line read (for what must not be sent)."""

    lines: AsyncIterator[str]
    seen: list[str] = field(default_factory=list)

    async def frame(self) -> list[str]:
        """The next frame's lines (up to the blank line that ends it)."""
        lines: list[str] = []
        async with asyncio.timeout(WAIT_SECONDS):
            async for line in self.lines:
                self.seen.append(line)
                if line == "":
                    if lines:
                        return lines
                    continue
                lines.append(line)
        raise AssertionError(f"the stream ended; it said {self.seen}")

    async def change(self) -> dict[str, Any]:
        """The next `alert` event's data."""
        while True:
            lines = await self.frame()
            if "event: alert" in lines:
                data = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
                assert len(data) == 1, lines
                parsed: dict[str, Any] = json.loads(data[0])
                return parsed

    async def changes_until(self, key: str, status: str) -> list[dict[str, Any]]:
        """Every `alert` event up to and including the first one saying `key` is now `status`."""
        heard: list[dict[str, Any]] = []
        while not heard or (heard[-1]["key"], heard[-1]["status"]) != (key, status):
            heard.append(await self.change())
        return heard


@asynccontextmanager
async def listening(web: SignedIn, url: str = "/app/events", **headers: str) -> AsyncIterator[Stream]:
    """An open stream for this signed-in client, once the server has subscribed it (its first frame)."""
    async with web.client.stream("GET", url, headers={**EVENT_STREAM, **headers}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        stream = Stream(response.aiter_lines())
        assert await stream.frame() == ["retry: 3000"]
        yield stream


def ben() -> Actor:
    return Actor(id=BEN["id"], name=BEN["name"], platform="slack")


async def act(world: World, action: ActionId, key: str, **args: str) -> None:
    reply = await run_action(world.server.ctx, ActionRequest(action, key, actor=ben(), args=args))
    assert reply.ok, reply.message


async def test_the_stream_needs_a_session(world: World) -> None:
    await add_alert(world.server, "HA-7001", feedback={"customer_name": "Secret Customer"})
    anonymous = await world.server.client.get("/app/events", headers=EVENT_STREAM)
    forged = await world.server.client.get("/app/events", headers=EVENT_STREAM,
                                           cookies={"hotloop_session": "not-a-session"})
    for reply in (anonymous, forged):
        assert reply.status_code == 401
        assert reply.headers["content-type"].startswith("application/json")
        assert "error" in reply.json()
        assert "HA-7001" not in reply.text and "Secret Customer" not in reply.text
    assert world.hub is None or not world.hub.subscribers  # nobody was subscribed


async def test_a_claim_made_in_slack_reaches_an_open_stream(world: World) -> None:
    key = await world.slack.new_alert()
    async with listening(world.ana) as stream:
        clicked = await world.slack.click_card(BEN, ActionId.CLAIM, key)
        assert clicked.status_code == 200, clicked.text
        heard = await stream.changes_until(key, "claimed")
    alert = await world.slack.alert(key)
    assert (alert.status, alert.owner_id) == ("claimed", BEN["id"])
    assert set(heard[-1]) == {"key", "version", "status"}
    assert 0 < heard[-1]["version"] <= alert.version


async def test_an_action_through_the_action_table_reaches_an_open_stream(world: World) -> None:
    key = await world.slack.new_alert()
    async with listening(world.ana) as stream:
        await act(world, ActionId.NOTE, key, **{Arg.NOTE: "Called back"})
        await act(world, ActionId.CLAIM, key)
        heard = await stream.changes_until(key, "claimed")
        await act(world, ActionId.RESOLVE, key, **{Arg.OUTCOME: "recovered"})
        resolved = await stream.changes_until(key, "resolved")
    assert [change["key"] for change in heard + resolved] == [key] * len(heard + resolved)
    versions = [change["version"] for change in heard + resolved]
    assert versions == sorted(versions) and versions[0] < versions[-1]


async def test_a_user_hears_only_of_the_teams_they_may_see(world: World) -> None:
    other = await add_team(world.server, "other-team")
    hidden = await add_alert(world.server, "HB-9001", team_id=other)
    shown = await add_alert(world.server, "HA-9002")
    async with listening(world.ana) as ana, listening(world.admin) as admin:
        await act(world, ActionId.CLAIM, hidden.key)  # first: ana's stream would carry it before…
        await act(world, ActionId.CLAIM, shown.key)  # …this one, had the filter let it through
        heard_by_ana = await ana.changes_until(shown.key, "claimed")
        heard_by_admin = await admin.changes_until(shown.key, "claimed")
    assert hidden.key not in {change["key"] for change in heard_by_ana}
    assert hidden.key not in "\n".join(ana.seen)
    assert [c["key"] for c in heard_by_admin] == [hidden.key, shown.key]  # it was sent: to an admin


async def until(condition: Any, what: str) -> None:
    """Wait (off nothing: the server shares this loop) until `condition()` holds."""
    async with asyncio.timeout(WAIT_SECONDS):
        while not condition():
            await asyncio.sleep(0.02)
    assert condition(), what


def live_pollers() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks()
            if task.get_name() == "hotloop.web.events" and not task.done()]


async def test_a_client_that_goes_away_leaves_no_subscriber_and_no_task(world: World) -> None:
    key = await world.slack.new_alert()
    clients = [httpx.AsyncClient(base_url=world.server.url, cookies=world.ana.client.cookies, timeout=30)
               for _ in range(3)]
    try:
        opened = [await client.send(client.build_request("GET", "/app/events", headers=EVENT_STREAM),
                                    stream=True) for client in clients]
        assert [response.status_code for response in opened] == [200, 200, 200]
        hub = world.hub
        assert hub is not None and len(hub.subscribers) == 3 and len(live_pollers()) == 1
        poller = live_pollers()[0]
        for response in opened:  # the browser tab closes: the connection drops mid-stream
            await response.aclose()
    finally:
        for client in clients:
            await client.aclose()
    await until(lambda: not hub.subscribers, "a stream outlived its client")
    await until(lambda: poller.done() and not live_pollers(), "the poller outlived its last client")
    assert hub.task is None
    async with listening(world.ana) as stream:  # the server still streams: a new poller, the same hub
        await act(world, ActionId.CLAIM, key)
        assert (await stream.changes_until(key, "claimed"))[-1]["key"] == key
    await until(lambda: not hub.subscribers and not live_pollers(), "a closed stream left a subscriber")


async def test_the_stream_never_carries_customer_text(world: World) -> None:
    key = await world.slack.new_alert("r-evil", comment=HOSTILE, customer={"name": "<b>Eve</b> Mallory",
                                                                          "email": "eve@example.com"})
    async with listening(world.ana) as stream:
        await act(world, ActionId.NOTE, key, **{Arg.NOTE: HOSTILE})
        await act(world, ActionId.CLAIM, key)
        heard = await stream.changes_until(key, "claimed")
    said = "\n".join(stream.seen)
    for text in ("script", "EVIL", "onerror", "Eve", "Mallory", "eve@example.com"):
        assert text not in said
    assert all(SSE_LINE.match(line) for line in stream.seen), stream.seen
    for change in heard:
        assert set(change) == {"key", "version", "status"} and KEY.match(change["key"])
    # what the page then fetches to show the change: the customer's text, escaped
    fragment = await world.ana.client.get(f"/app/alerts/{key}/fragment")
    assert fragment.status_code == 200
    assert "&lt;/script&gt;&lt;script&gt;" in fragment.text and "<script>alert" not in fragment.text
    assert "<img src=x" not in fragment.text


async def test_a_change_made_while_the_page_loaded_still_reaches_it(world: World) -> None:
    key = await world.slack.new_alert()
    for path in ("/app", f"/app/alerts/{key}"):
        page = await world.ana.client.get(path)
        assert page.status_code == 200 and STREAM_URL.search(page.text), path
    found = STREAM_URL.search(page.text)
    assert found is not None
    await act(world, ActionId.CLAIM, key)  # after the page was read, before its script opened the stream
    async with listening(world.ana, found.group(1)) as stream:
        assert (await stream.changes_until(key, "claimed"))[-1]["key"] == key


async def test_a_reconnecting_browser_resumes_after_the_last_event_it_heard(world: World) -> None:
    key = await world.slack.new_alert()
    async with listening(world.ana) as stream:
        await act(world, ActionId.CLAIM, key)
        await stream.changes_until(key, "claimed")
        last_id = next(line for line in reversed(stream.seen) if line.startswith("id: ")).removeprefix("id: ")
    await act(world, ActionId.NOTE, key, **{Arg.NOTE: "while the stream was away"})
    await act(world, ActionId.UNCLAIM, key)
    async with listening(world.ana, "/app/events?after=0", **{"last-event-id": last_id}) as again:
        heard = [await again.change(), await again.change()]  # the note and the unclaim
    # the header wins over the page's older `after`: nothing from before the id (the claim, the creation)
    ids = [int(line.removeprefix("id: ")) for line in again.seen if line.startswith("id: ")]
    assert len(ids) == 2 and min(ids) > int(last_id)
    assert [change["key"] for change in heard] == [key, key] and heard[-1]["status"] == "open"


@pytest.mark.parametrize("after", ["-1", "1e9", "x", "9" * 19])
async def test_a_bad_resume_point_is_422_with_the_reason(world: World, after: str) -> None:
    reply = await world.ana.client.get("/app/events", params={"after": after}, headers=EVENT_STREAM)
    assert reply.status_code == 422
    assert "event id" in reply.json()["error"]
    assert world.hub is None or not world.hub.subscribers


async def test_a_gap_too_long_to_replay_asks_the_page_to_reload(world: World) -> None:
    made = await add_alert(world.server, "HA-9100")
    async with transaction(world.server.ctx.sessions) as session:
        session.add_all(AlertEvent(alert_id=made.alert_id, kind="noted", data={}) for _ in range(300))
    async with listening(world.ana, "/app/events?after=0") as stream:
        assert await stream.frame() == ["event: stale", "data: {}"]
        await act(world, ActionId.CLAIM, made.key)  # and the stream goes on
        assert (await stream.changes_until(made.key, "claimed"))[-1]["key"] == made.key


async def test_a_stream_without_a_resume_point_starts_from_now(world: World) -> None:
    earlier, later = await world.slack.new_alert("r-1"), await world.slack.new_alert("r-2")
    async with listening(world.ana) as stream:  # the poller runs, then stops with its last client
        await act(world, ActionId.CLAIM, later)
        await stream.changes_until(later, "claimed")
    hub = world.hub
    await until(lambda: hub is not None and hub.task is None, "the poller outlived its last client")
    await act(world, ActionId.CLAIM, earlier)  # while nobody listens: no page to tell
    async with listening(world.ana) as stream:
        await act(world, ActionId.UNCLAIM, later)
        heard = await stream.changes_until(later, "open")
    assert [change["key"] for change in heard] == [later]  # not the claim made before it opened
