"""Signing in to the dashboard: `/hotloop web` through the real Slack route answers the caller only with a
link; the link shows a button (a GET changes nothing), signs in once, for five minutes, for its user only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from adapters.web.session import COOKIE
from bot.web.signin import LOGIN_PATH
from storage.models import WebSession, WebSignin
from storage.types import utcnow
from tests.adapters.slack.slackapp import ANA, CHANNEL, SlackApp
from tests.adapters.teams.activities import CHANNEL as TEAMS_CHANNEL
from tests.adapters.teams.activities import MEGAN, message
from tests.adapters.web.signin_helpers import login_token, sign_in
from tests.appserver import AppServer, AppWithChats, serve_app, set_default_team, test_settings
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi

PUBLIC = "https://hotloop.example.test"
LINK_URL = re.escape(PUBLIC) + r"(/app/login/[A-Za-z0-9._-]+)"
LINK = re.compile(LINK_URL)
SLACK_LINK = re.compile(r"\n<" + LINK_URL + r"\|Sign in to the hotloop dashboard>$")
TEAMS_LINK = re.compile(r"\n\n\[Sign in to the hotloop dashboard\]\(" + LINK_URL + r"\)$")


@pytest.fixture
async def slack(app_with_chats: AppWithChats, fake_slack: FakeSlackApi) -> AsyncIterator[SlackApp]:
    async with app_with_chats(slack=True, public_url=PUBLIC) as server:
        yield SlackApp(server=server, fake=fake_slack)


@pytest.fixture
async def server(app_with_chats: AppWithChats) -> AsyncIterator[AppServer]:
    async with app_with_chats(public_url="http://127.0.0.1") as server:
        yield server


async def sessions_count(server: AppServer) -> int:
    async with server.ctx.sessions() as session:
        return len((await session.execute(select(WebSession))).scalars().all())


async def test_web_command_answers_only_the_caller_with_a_sign_in_link(slack: SlackApp) -> None:
    reply = await slack.command(ANA, "web")
    assert reply.status_code == 200
    assert await slack.wait(lambda: bool(slack.ephemerals(ANA)))
    [call] = slack.fake.calls("chat.postEphemeral")
    assert (call.args["channel"], call.args["user"]) == (CHANNEL, "U0ANA")
    assert SLACK_LINK.search(call.args["text"]), call.args["text"]  # clickable, on its own line
    assert "works once, for 5 minutes" in call.args["text"]
    assert not slack.fake.calls("chat.postMessage")  # never visible to the channel
    async with slack.server.ctx.sessions() as session:
        [row] = (await session.execute(select(WebSignin))).scalars().all()
    assert (row.platform, row.user_id, row.user_name) == ("slack", "U0ANA", "ana")
    assert row.teams == [(await slack.server.ctx.config.get()).default_team_id]  # asked in its channel
    assert timedelta(minutes=4) < row.expires_at - row.created_at <= timedelta(minutes=5)


async def test_the_link_from_chat_signs_in_once(slack: SlackApp) -> None:
    await slack.command(ANA, "web")
    assert await slack.wait(lambda: bool(slack.ephemerals(ANA)))
    found = LINK.search(slack.fake.calls("chat.postEphemeral")[0].args["text"])
    assert found
    path = found.group(1)
    async with httpx.AsyncClient(base_url=slack.server.url) as browser:
        page = await browser.get(path)  # a link scanner's GET changes nothing
        assert page.status_code == 200 and "Sign in as ana" in page.text
        assert f'action="{path}"' in page.text and page.headers["referrer-policy"] == "no-referrer"
        assert await sessions_count(slack.server) == 0
        signed = await browser.post(path)
        assert signed.status_code == 303 and signed.headers["location"] == "/app"
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/app" in cookie
        assert "Secure" in cookie  # the public address is https
        again = await browser.post(path)
        assert again.status_code == 403 and "already used" in again.text
        assert COOKIE not in again.headers.get("set-cookie", "")
        assert (await browser.get(path)).status_code == 403
    assert await sessions_count(slack.server) == 1


async def test_cookie_is_not_secure_over_plain_http(server: AppServer) -> None:
    token = await login_token(server)
    reply = await server.client.post(f"{LOGIN_PATH}{token}")
    assert reply.status_code == 303
    assert "Secure" not in reply.headers["set-cookie"] and "HttpOnly" in reply.headers["set-cookie"]


async def test_a_link_expires_after_five_minutes(server: AppServer) -> None:
    token = await login_token(server)
    server.app.state.web_clock = lambda: utcnow() + timedelta(minutes=5, seconds=1)
    page = await server.client.get(f"{LOGIN_PATH}{token}")
    assert page.status_code == 403 and "expired" in page.text
    reply = await server.client.post(f"{LOGIN_PATH}{token}")
    assert reply.status_code == 403 and "expired" in reply.text and "set-cookie" not in reply.headers
    server.app.state.web_clock = lambda: utcnow() + timedelta(minutes=4, seconds=50)
    assert (await server.client.post(f"{LOGIN_PATH}{token}")).status_code == 303  # still inside the five
    assert await sessions_count(server) == 1


@pytest.mark.parametrize("change", ["signature", "nonce", "cut", "garbage"])
async def test_a_tampered_link_is_refused(server: AppServer, change: str) -> None:
    token = await login_token(server)
    version, nonce, signature = token.split(".")
    def flip(part: str) -> str:  # another first character: the part always changes
        return ("A" if part[0] != "A" else "B") + part[1:]

    tampered = {
        "signature": f"{version}.{nonce}.{flip(signature)}",
        "nonce": f"{version}.{flip(nonce)}.{signature}",
        "cut": token[:-3],
        "garbage": "<script>alert(1)",
    }[change]
    reply = await server.client.post(f"{LOGIN_PATH}{tampered}")
    assert reply.status_code == 400 and "not a valid sign-in link" in reply.text
    assert "set-cookie" not in reply.headers and "<script>alert" not in reply.text
    assert await sessions_count(server) == 0
    assert (await server.client.post(f"{LOGIN_PATH}{token}")).status_code == 303  # the real one still works


async def test_a_link_is_bound_to_its_user(server: AppServer) -> None:
    """Changing the row's user (or teams) breaks the signature: the link names whom it signs in."""
    token = await login_token(server, user_id="U0ANA")
    async with server.ctx.sessions() as session, session.begin():
        row = (await session.execute(select(WebSignin))).scalar_one()
        row.user_id = "U0ADMIN"
    assert (await server.client.post(f"{LOGIN_PATH}{token}")).status_code == 400
    assert await sessions_count(server) == 0


async def test_only_the_session_token_hash_is_stored_and_sign_out_revokes(server: AppServer) -> None:
    web = await sign_in(server)
    cookie = web.client.cookies.get(COOKIE)
    assert cookie
    async with server.ctx.sessions() as session:
        row = (await session.execute(select(WebSession))).scalar_one()
    assert row.token_hash != cookie and cookie not in row.token_hash and len(row.token_hash) == 64
    assert row.expires_at - row.created_at == timedelta(hours=12)
    out = await web.post_form("/app/logout")
    assert out.status_code == 303 and out.headers["location"] == "/app/login"
    async with server.ctx.sessions() as session:
        revoked = (await session.execute(select(WebSession).where(col(WebSession.id) == row.id))).scalar_one()
    assert revoked.revoked_at is not None
    # the old cookie opens nothing any more, even if a copy of it was kept
    async with httpx.AsyncClient(base_url=server.url, cookies={COOKIE: cookie}) as kept:
        assert (await kept.get("/app")).status_code == 401
    await web.aclose()


async def test_a_session_expires_after_twelve_hours(server: AppServer) -> None:
    web = await sign_in(server)
    await web.post_form("/app/logout")  # nothing: only checks the path works before the clock moves
    await web.aclose()
    web = await sign_in(server)
    server.app.state.web_clock = lambda: utcnow() + timedelta(hours=12, seconds=1)
    assert (await web.client.get("/app")).status_code == 401
    await web.aclose()


# ---- Teams: the same command, sent to the bot -------------------------------------------------------


@pytest.fixture
async def teams_server(engine: object, database_url: str) -> AsyncIterator[AppServer]:
    settings = test_settings(database_url, teams_allow_unauthenticated=True, public_url=PUBLIC)
    async with serve_app(settings) as app:
        yield app


def texts(fake: FakeBotConnector, conversation: str) -> list[str]:
    return [a.get("text", "") for a in fake.activities_in(conversation) if isinstance(a, dict)]


async def test_web_in_a_teams_channel_is_answered_privately(teams_server: AppServer,
                                                            fake_teams: FakeBotConnector) -> None:
    await set_default_team(teams_server, teams_channel=TEAMS_CHANNEL)
    activity = message(fake_teams.url, "web")
    await teams_server.client.post("/api/messages", json=activity)
    conversation = activity["conversation"]["id"]
    assert fake_teams.wait_for(lambda calls: any(c.conversation == conversation for c in calls))
    assert texts(fake_teams, conversation) == ["I've sent it to you privately."]  # no link in the channel
    direct = texts(fake_teams, f"a:dm-{MEGAN['id']}")
    assert any(TEAMS_LINK.search(text) for text in direct), direct  # a clickable markdown link
    async with teams_server.ctx.sessions() as session:
        [row] = (await session.execute(select(WebSignin))).scalars().all()
    assert (row.platform, row.user_id) == ("teams", MEGAN["aadObjectId"])
    assert row.teams == [(await teams_server.ctx.config.get()).default_team_id]


async def test_web_in_a_personal_teams_chat_is_answered_there(teams_server: AppServer,
                                                              fake_teams: FakeBotConnector) -> None:
    activity = message(fake_teams.url, "web", personal=True)
    await teams_server.client.post("/api/messages", json=activity)
    conversation = activity["conversation"]["id"]
    assert fake_teams.wait_for(lambda calls: any(c.conversation == conversation for c in calls))
    assert any(TEAMS_LINK.search(text) for text in texts(fake_teams, conversation))
    async with teams_server.ctx.sessions() as session:
        [row] = (await session.execute(select(WebSignin))).scalars().all()
    assert row.teams == []  # asked from no team's channel: the member sees the default team


async def test_without_a_public_url_the_command_says_what_to_set(app_with_chats: AppWithChats,
                                                                 fake_slack: FakeSlackApi) -> None:
    async with app_with_chats(slack=True) as server:
        slack = SlackApp(server=server, fake=fake_slack)
        await slack.command(ANA, "web")
        assert await slack.wait(lambda: bool(slack.ephemerals(ANA)))
        text = slack.fake.calls("chat.postEphemeral")[0].args["text"]
        assert "HOTLOOP_PUBLIC_URL" in text and "/app/login/" not in text
        async with server.ctx.sessions() as session:
            assert (await session.execute(select(WebSignin))).first() is None
