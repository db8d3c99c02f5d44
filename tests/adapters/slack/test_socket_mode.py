"""Socket Mode through the real app against a loopback Socket Mode server (tests/fakes/socket_mode.py)
and the fake Web API: hello, envelopes and acks, `disconnect`, dropped TCP, refused upgrades,
readiness and metrics, and a burst of clicks right after a start.

Slack wants every envelope acked within 3 s: that is the only time bound asserted, as a generous one.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from prometheus_client import REGISTRY
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from adapters.slack.socket_mode import Phase, SocketModeRunner, SocketModeStatus, SocketTiming, backoff_delay
from tests.adapters.slack.slackapp import ANA, SlackApp, block_actions, button, home_opened, slack_app
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.socket_mode import FakeSocketMode

SLACK_ACK_SECONDS = 3.0


@pytest.fixture
def socket_mode() -> Iterator[FakeSocketMode]:
    with FakeSocketMode() as server:
        yield server


@asynccontextmanager
async def socket_app(database_url: str, api: FakeSlackApi, server: FakeSocketMode) -> AsyncIterator[SlackApp]:
    """The real app with Socket Mode on: apps.connections.open hands out `server`'s URLs."""
    api.serve_socket_mode(server.issue_url)
    async with slack_app(database_url, api, slack_app_token=api.app_token) as slack:
        yield slack


async def until(server: FakeSocketMode, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    return await asyncio.to_thread(server.wait_for, predicate, timeout)


async def ready(client: httpx.AsyncClient, expected: int, timeout: float = 10.0) -> dict[str, object]:
    """Poll /readyz until it answers `expected`; its body."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        reply = await client.get("/readyz")
        if reply.status_code == expected or asyncio.get_running_loop().time() > deadline:
            assert reply.status_code == expected, reply.text
            body: dict[str, object] = reply.json()
            return body
        await asyncio.sleep(0.05)


def acked_in_time(server: FakeSocketMode, envelope_id: str) -> bool:
    ack, sent = server.acks().get(envelope_id), server.sent()[envelope_id]
    return ack is not None and ack.at - sent.at < SLACK_ACK_SECONDS


def claim(user: dict[str, str], key: str) -> dict[str, object]:
    return block_actions(user, button("alert.claim", key))


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_claim_and_app_home_over_socket_mode_are_acked_and_act(
    engine: AsyncEngine, database_url: str, slack_api: FakeSlackApi, socket_mode: FakeSocketMode
) -> None:
    async with socket_app(database_url, slack_api, socket_mode) as slack:
        assert await until(socket_mode, lambda: bool(socket_mode.open_connections()))
        body = await ready(slack.client, 200)
        assert body["slack_socket_mode"] == {"state": "connected"}
        key = await slack.new_alert()

        envelope = socket_mode.send_envelope("interactive", claim(ANA, key))

        assert await until(socket_mode, lambda: envelope in socket_mode.acks())
        assert acked_in_time(socket_mode, envelope)
        assert await slack.until(lambda: _owner_is(slack, key, ANA["id"]))
        home = socket_mode.send_envelope("events_api", home_opened(ANA["id"], "Ev0SOCKETHOME"))
        assert await until(socket_mode, lambda: home in socket_mode.acks())
        assert await slack.wait(lambda: bool(slack_api.calls("views.publish")))
        metrics = (await slack.client.get("/metrics")).text
        assert "hotloop_slack_socket_mode_connected 1.0" in metrics


async def test_disconnect_opens_a_new_url_then_closes_the_old_connection(
    engine: AsyncEngine, database_url: str, slack_api: FakeSlackApi, socket_mode: FakeSocketMode
) -> None:
    async with socket_app(database_url, slack_api, socket_mode) as slack:
        assert await until(socket_mode, lambda: socket_mode.open_connections() == [1])
        before = metric("hotloop_slack_socket_mode_reconnects_total", reason="disconnect")

        socket_mode.disconnect("refresh_requested")

        assert await until(socket_mode, lambda: socket_mode.open_connections() == [2])  # old one closed
        assert len(slack_api.calls("apps.connections.open")) == 2
        tickets = [h.ticket for h in socket_mode.handshakes()]
        assert len(set(tickets)) == 2 and all(h.status == 101 for h in socket_mode.handshakes())
        envelope = socket_mode.send_envelope("slash_commands", _help_command(slack))
        assert await until(socket_mode, lambda: envelope in socket_mode.acks())
        assert socket_mode.acks()[envelope].connection == 2
        assert metric("hotloop_slack_socket_mode_reconnects_total", reason="disconnect") == before + 1
        await ready(slack.client, 200)


async def test_a_dropped_tcp_connection_reconnects_with_a_fresh_url(
    engine: AsyncEngine, database_url: str, slack_api: FakeSlackApi, socket_mode: FakeSocketMode
) -> None:
    async with socket_app(database_url, slack_api, socket_mode) as slack:
        assert await until(socket_mode, lambda: socket_mode.open_connections() == [1])
        before = metric("hotloop_slack_socket_mode_reconnects_total", reason="dropped")

        socket_mode.drop()

        assert await until(socket_mode, lambda: socket_mode.open_connections() == [2])
        assert len(slack_api.calls("apps.connections.open")) == 2
        assert metric("hotloop_slack_socket_mode_reconnects_total", reason="dropped") == before + 1
        envelope = socket_mode.send_envelope("slash_commands", _help_command(slack))
        assert await until(socket_mode, lambda: envelope in socket_mode.acks())
        assert (await ready(slack.client, 200))["slack_socket_mode"] == {"state": "connected"}


async def test_a_refused_upgrade_asks_for_a_new_url_and_readyz_reports_it_until_connected(
    engine: AsyncEngine, database_url: str, slack_api: FakeSlackApi, socket_mode: FakeSocketMode,
    caplog: pytest.LogCaptureFixture,
) -> None:
    socket_mode.refuse_next(1, status=500)
    socket_mode.refuse_next(1, status=403)
    with capture_logs() as logs, caplog.at_level(logging.INFO):
        async with socket_app(database_url, slack_api, socket_mode) as slack:
            down = await ready(slack.client, 503)
            reason = str(down["reason"])
            assert reason.startswith("Slack Socket Mode") and "upgrade refused (HTTP" in reason
            assert await until(socket_mode, lambda: bool(socket_mode.open_connections()))
            await ready(slack.client, 200)

    handshakes = socket_mode.handshakes()
    assert [h.status for h in handshakes] == [500, 403, 101]
    # a fresh URL for every attempt: each from its own apps.connections.open call, none reused
    assert len({h.ticket for h in handshakes}) == 3
    assert socket_mode.issued() == [h.ticket for h in handshakes]
    assert len(slack_api.calls("apps.connections.open")) == 3
    warnings = [e for e in logs if e["event"] == "slack.socket_mode_reconnecting"]
    assert [w["attempt"] for w in warnings] == [2, 3]  # one line per failed attempt, with its reason
    assert "HTTP 500" in warnings[0]["reason"] and "HTTP 403" in warnings[1]["reason"]
    assert not [r for r in caplog.records if r.exc_info]  # no traceback from any library


async def test_a_burst_of_clicks_right_after_start_is_acked_and_auth_test_runs_once(
    engine: AsyncEngine, database_url: str, slack_api: FakeSlackApi, socket_mode: FakeSocketMode
) -> None:
    slack_api.fail_next(60, delay=0.3, method="auth.test")  # a slow auth.test: answered, after 0.3 s
    async with socket_app(database_url, slack_api, socket_mode) as slack:
        key = await slack.new_alert()
        users = [{**ANA, "id": f"U0BURST{n:02d}", "name": f"user{n}"} for n in range(50)]
        assert await until(socket_mode, lambda: bool(socket_mode.open_connections()))

        envelopes = [socket_mode.send_envelope("interactive", claim(user, key)) for user in users]

        assert await until(socket_mode, lambda: all(e in socket_mode.acks() for e in envelopes), 20)
        assert all(acked_in_time(socket_mode, e) for e in envelopes)
        [auth_test] = slack_api.calls("auth.test")
        # connected only once authorized: no envelope waited on auth.test
        assert slack_api.calls("apps.connections.open")[0].at > auth_test.at
        assert await slack.until(lambda: _owner_is(slack, key, None, claimed=True))


async def test_a_bot_token_slack_refuses_shows_as_failed_in_readyz(
    engine: AsyncEngine, database_url: str, slack_api: FakeSlackApi, socket_mode: FakeSocketMode
) -> None:
    slack_api.fail_next(5, error="invalid_auth", method="auth.test")
    async with socket_app(database_url, slack_api, socket_mode) as slack:
        down = await ready(slack.client, 503)
        assert down["slack_socket_mode"] == {
            "state": "failed", "reason": "auth.test refused the bot token: invalid_auth", "attempt": 2,
        }
        assert not socket_mode.handshakes()  # nothing connects with a token Slack refuses


async def test_a_connection_that_stops_answering_pings_is_replaced(
    slack_api: FakeSlackApi, socket_mode: FakeSocketMode
) -> None:
    """No FIN, no RST, no close frame: only the heartbeat can tell (here every 0.2 s, not 10 s)."""
    slack_api.serve_socket_mode(socket_mode.issue_url)
    socket_mode.go_silent_next()
    bolt = AsyncApp(client=AsyncWebClient(token=slack_api.token, base_url=slack_api.url),
                    signing_secret="signing-secret-for-tests-0123")
    runner = SocketModeRunner(bolt, slack_api.app_token, timing=SocketTiming(ping_seconds=0.2))
    runner.start()
    try:
        assert await until(socket_mode, lambda: socket_mode.open_connections() == [2])
        assert len(slack_api.calls("apps.connections.open")) == 2
        assert await until(socket_mode, lambda: runner.status.phase is Phase.CONNECTED)
    finally:
        await runner.stop()
    assert await until(socket_mode, lambda: not socket_mode.open_connections())  # stop() closes it


def test_backoff_grows_exponentially_with_jitter_up_to_a_cap() -> None:
    timing, rng = SocketTiming(base=1.0, cap=30.0), random.Random(7)
    assert backoff_delay(0, timing, rng) == 0.0  # a link that was up reconnects at once
    for failures, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (40, 30.0)]:
        delays = {backoff_delay(failures, timing, rng) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (failures, delays)
        assert len(delays) > 1  # jittered: instances restarted together do not retry in step


def test_readiness_tolerates_a_short_first_reconnection_only() -> None:
    grace = 10.0
    blip = SocketModeStatus(phase=Phase.RECONNECTING, reason="refresh", attempt=1, down_since=100.0)
    assert blip.not_ready(grace=grace, now=105.0) is None
    assert "reconnecting (attempt 1): refresh" in str(blip.not_ready(grace=grace, now=111.0))
    retried = SocketModeStatus(phase=Phase.RECONNECTING, reason="HTTP 403", attempt=2, down_since=100.0)
    assert retried.not_ready(grace=grace, now=100.5) is not None
    failed = SocketModeStatus(phase=Phase.FAILED, reason="invalid_auth", attempt=1, down_since=100.0)
    assert failed.not_ready(grace=grace, now=100.5) is not None
    assert SocketModeStatus(phase=Phase.CONNECTED, down_since=None).not_ready(grace=grace, now=1e9) is None


def _help_command(slack: SlackApp) -> dict[str, str]:
    return {"token": "verification_token", "team_id": "T0TEST", "team_domain": "hotloop-test",
            "channel_id": "C0TEAM01", "channel_name": "team", "user_id": ANA["id"], "user_name": "ana",
            "command": "/hotloop", "text": "help", "api_app_id": "A0TEST",
            "response_url": slack.fake.url + "commands/T0TEST/1/x", "trigger_id": "1.1.x"}


async def _owner_is(slack: SlackApp, key: str, owner: str | None, *, claimed: bool = False) -> bool:
    alert = await slack.alert(key)
    return alert.owner_id is not None if claimed else alert.owner_id == owner
