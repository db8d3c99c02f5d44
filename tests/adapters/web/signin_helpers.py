"""Signing in to the dashboard in tests, the way a user does: a link made for a chat user (as
`/hotloop web` makes it), then the POST that opens the session.

    async with app_with_chats(admins=["slack:U0ADMIN"]) as server:
        web = await sign_in(server, user_id="U0ANA", name="ana")
        page = await web.client.get("/app")
        await web.post_form("/app/alerts/HA-1/claim")  # carries the csrf_token field
        await web.aclose()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.web.session import COOKIE
from bot.web.signin import LOGIN_PATH, SigninLinks, hash_session_token, issue
from storage.queries import web as queries
from storage.types import utcnow
from tests.appserver import AppServer


@dataclass
class SignedIn:
    client: httpx.AsyncClient  # carries the session cookie; close it with `aclose`
    csrf: str  # the session's CSRF token, for the hidden `csrf_token` field of forms

    async def post_form(self, path: str, fields: dict[str, str] | None = None,
                        **kwargs: Any) -> httpx.Response:
        return await self.client.post(path, data={"csrf_token": self.csrf, **(fields or {})}, **kwargs)

    async def aclose(self) -> None:
        await self.client.aclose()


async def login_token(server: AppServer, *, platform: str = "slack", user_id: str = "U0ANA",
                      name: str = "ana", teams: Sequence[int] = ()) -> str:
    """A sign-in token for this chat user, as `/hotloop web` makes one (the path is LOGIN_PATH + token)."""
    ctx = server.ctx
    return await issue(ctx.sessions, SigninLinks.from_settings(ctx.settings), platform=platform,
                       user_id=user_id, user_name=name, teams=teams, now=utcnow())


async def sign_in(server: AppServer, *, platform: str = "slack", user_id: str = "U0ANA", name: str = "ana",
                  teams: Sequence[int] = ()) -> SignedIn:
    """A new client signed in as this chat user (role from the app's admins and team managers)."""
    token = await login_token(server, platform=platform, user_id=user_id, name=name, teams=teams)
    client = httpx.AsyncClient(base_url=server.url, timeout=30)
    reply = await client.post(f"{LOGIN_PATH}{token}")
    assert reply.status_code == 303, reply.text
    cookie = client.cookies.get(COOKIE)
    assert cookie, "no session cookie"
    async with server.ctx.sessions() as session:
        row = await queries.live_session(session, token_hash=hash_session_token(cookie), now=utcnow())
    assert row is not None and row.user_id == user_id
    return SignedIn(client=client, csrf=row.csrf_token)
