"""Every change from the dashboard carries the session's CSRF token: without it, or with another one, the
answer is 403 and nothing changes; without a session, 401."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from storage import queries
from storage.models import WebSession
from tests.adapters.web.signin_helpers import sign_in
from tests.appserver import AppServer, AppWithChats

DETRACTOR = {"id": "r-1", "nps": 1, "customer": {"name": "Dana"}, "comment": "rude staff"}


@pytest.fixture
async def server(app_with_chats: AppWithChats) -> AsyncIterator[AppServer]:
    async with app_with_chats(admins=["slack:U0ADMIN"], public_url="http://127.0.0.1") as server:
        yield server


async def revoked(server: AppServer) -> list[bool]:
    async with server.ctx.sessions() as session:
        rows = (await session.execute(select(WebSession).order_by(WebSession.id))).scalars().all()  # type: ignore[arg-type]
    return [row.revoked_at is not None for row in rows]


@pytest.mark.parametrize("token", [None, "", "wrong", "csrf-of-the-other-session"])
async def test_sign_out_without_the_right_token_is_refused(server: AppServer, token: str | None) -> None:
    web = await sign_in(server)
    other = await sign_in(server, user_id="U0BEN", name="ben")
    try:
        value = other.csrf if token == "csrf-of-the-other-session" else token
        data = {} if value is None else {"csrf_token": value}
        reply = await web.client.post("/app/logout", data=data)
        assert reply.status_code == 403 and "Nothing was changed" in reply.text
        assert await revoked(server) == [False, False]
        assert (await web.post_form("/app/logout")).status_code == 303
        assert await revoked(server) == [True, False]
    finally:
        await web.aclose()
        await other.aclose()


async def test_a_claim_without_the_token_changes_nothing(server: AppServer) -> None:
    posted = await server.post_feedback(DETRACTOR)
    key = str(posted.json()["alert"])
    web = await sign_in(server, user_id="U0ADMIN", name="root")
    try:
        for data in ({}, {"csrf_token": "forged"}):
            reply = await web.client.post(f"/app/alerts/{key}/claim", data=data)
            assert reply.status_code == 403
            async with server.ctx.sessions() as session:
                alert = await queries.get_alert(session, key=key)
            assert alert is not None and alert.owner_id is None and alert.status == "open"
        claimed = await web.post_form(f"/app/alerts/{key}/claim")
        assert claimed.status_code in (200, 303)
        async with server.ctx.sessions() as session:
            alert = await queries.get_alert(session, key=key)
        assert alert is not None and alert.owner_id == "U0ADMIN"
    finally:
        await web.aclose()


async def test_posting_without_a_session_is_401(server: AppServer) -> None:
    reply = await server.client.post("/app/logout", data={"csrf_token": "x"})
    assert reply.status_code == 401


async def test_an_oversized_form_is_400_and_changes_nothing(server: AppServer) -> None:
    web = await sign_in(server)
    try:
        reply = await web.client.post("/app/logout", data={"csrf_token": web.csrf, "pad": "x" * 70_000})
        assert reply.status_code == 400
        assert await revoked(server) == [False]
        bad = await web.client.post("/app/logout", content=b"\xff\xfe=\xff",
                                    headers={"content-type": "application/x-www-form-urlencoded"})
        assert bad.status_code in (400, 403)
        assert await revoked(server) == [False]
    finally:
        await web.aclose()
