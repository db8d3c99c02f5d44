"""The real app over real HTTP for the security suite, on SQLite and (with HOTLOOP_TEST_DATABASE_URL)
PostgreSQL: Slack against the loopback fake Web API, Teams either with token checks against a loopback
OpenID/JWKS server (`guarded`) or unauthenticated for loopback tools (`open_world`), and one source of
every kind. Everything is reused from the existing test helpers; nothing here is mocked.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.config.io import export_config
from storage.models import Alert, JobCursor, Outbox
from tests.adapters.slack.slackapp import ADMIN, SlackApp
from tests.adapters.teams.activities import MEGAN, TENANT, row_counts
from tests.adapters.teams.test_auth import APP_ID, KID, SIGNING_KEY, KeyServer, jwk
from tests.appserver import AppServer, AppWithChats, set_default_team
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi

TEAMS_CHANNEL = "19:teamcards0123456789@thread.tacv2"  # where the default team's Teams cards go
TEAMS_PASSWORD = "teams-app-password-0123456789"

# one source of every kind: (name, kind, secret)
SECRETS = {
    "generic": "source-secret-for-tests-0123456789",  # tests.appserver.SOURCE_SECRET, source "web"
    "typeform": "typeform-secret-0123456789",
    "formbricks": "whsec_" + base64.b64encode(b"formbricks-signing-key-0123").decode(),
    "delighted": "delighted-secret-0123456789",
    "qualtrics": "qualtrics-shared-key-0123456789",
    "surveymonkey": "client-id-01&api-secret-0123456789",
}
SOURCE_NAMES = {
    "generic": "web",
    "typeform": "tf",
    "formbricks": "fb",
    "delighted": "dl",
    "qualtrics": "qx",
    "surveymonkey": "smk",
}


@dataclass
class World:
    slack: SlackApp
    connector: FakeBotConnector  # the serviceUrl of every Teams activity
    keys: KeyServer | None = None  # the loopback OpenID metadata + JWKS (token checks on)

    @property
    def server(self) -> AppServer:
        return self.slack.server

    @property
    def fake(self) -> FakeSlackApi:
        return self.slack.fake

    async def rows(self) -> dict[str, int]:
        """Row counts of every table but `figureday`: a cache the figures job refreshes on its own
        timer (no request writes it), which would otherwise change at an arbitrary moment."""
        counts = await row_counts(self.server)
        counts.pop("figureday", None)
        return counts

    async def settled_rows(self, timeout: float = 20.0) -> dict[str, int]:
        """Row counts once the delivery worker and the detector have nothing left to do (two equal
        snapshots). Never a guess: if they do not settle in `timeout`, the test fails saying which."""
        deadline = time.monotonic() + timeout
        previous = await self.rows()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.15)
            # idle first, then counted: a commit between the count and the check would otherwise
            # return counts taken before the work it just finished
            idle = await self.outbox_idle() and await self.detector_caught_up()
            current = await self.rows()
            if idle and current == previous:
                return current
            previous = current
        raise AssertionError(f"background work never settled: outbox idle {await self.outbox_idle()}, "
                             f"detector caught up {await self.detector_caught_up()}")

    async def outbox_idle(self) -> bool:
        async with self.server.ctx.sessions() as session:
            pending = await session.execute(
                select(func.count()).select_from(Outbox).where(col(Outbox.status) == "pending")
            )
        return int(pending.scalar_one()) == 0

    async def detector_caught_up(self) -> bool:
        """The systemic detector (a 2 s timer) has read every customer alert: it writes signals for each."""
        async with self.server.ctx.sessions() as session:
            newest = (await session.execute(
                select(func.max(Alert.id)).where(col(Alert.kind) == "response"))).scalar_one()
            cursor = (await session.execute(select(JobCursor.last_id))).scalar_one_or_none()
        return newest is None or (cursor is not None and cursor >= newest)

    async def ephemeral_reply(self, user: Mapping[str, Any], text: str) -> str:
        """Run `/hotloop <text>` as `user` and return the private answer it got."""
        seen = len(self.slack.ephemerals(user))
        reply = await self.slack.command(user, text)
        assert reply.status_code == 200, reply.text

        def answered() -> bool:
            return len(self.slack.ephemerals(user)) > seen

        assert await self.slack.wait(answered), f"no answer to {text!r}"
        return self.slack.ephemerals(user)[-1]

    async def config(self) -> dict[str, Any]:
        return await export_config(self.server.ctx.sessions)


async def add_every_source(server: AppServer) -> None:
    for kind, name in SOURCE_NAMES.items():
        if name != "web":  # app_with_chats already added the generic "web" source with SECRETS["generic"]
            await server.add_source(name, kind=kind, secret=SECRETS[kind])


async def link_teams_channel(server: AppServer, channel: str = TEAMS_CHANNEL) -> None:
    """The default team's cards also go to this Teams channel."""
    await set_default_team(server, teams_channel=channel)


@pytest.fixture
def keys() -> Iterator[KeyServer]:
    with KeyServer([jwk(SIGNING_KEY, KID, ["msteams"])]) as server:
        yield server


@pytest.fixture
async def guarded(
    app_with_chats: AppWithChats, fake_slack: FakeSlackApi, fake_teams: FakeBotConnector, keys: KeyServer
) -> AsyncIterator[World]:
    """Slack (signed requests) and Teams with token checks ON, plus a source of every kind."""
    async with app_with_chats(
        slack=True,
        teams_app_id=APP_ID,
        teams_app_password=TEAMS_PASSWORD,
        teams_tenant_id=TENANT,
        teams_openid_metadata_url=f"{keys.url}/.well-known/openidconfiguration",
        admins=[ADMIN["id"]],
    ) as server:
        await add_every_source(server)
        yield World(slack=SlackApp(server, fake_slack), connector=fake_teams, keys=keys)


@pytest.fixture
async def open_world(
    app_with_chats: AppWithChats, fake_slack: FakeSlackApi, fake_teams: FakeBotConnector
) -> AsyncIterator[World]:
    """Slack plus unauthenticated loopback Teams (no token service to fake for replies), Teams cards going
    to the fake Bot Connector; admins: ADMIN on Slack, MEGAN on Teams."""
    async with app_with_chats(slack=True, teams=True, admins=[ADMIN["id"], MEGAN["aadObjectId"]]) as server:
        yield World(slack=SlackApp(server, fake_slack), connector=fake_teams)
