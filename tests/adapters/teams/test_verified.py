"""A Bot Framework token is checked once per (token, channelId, serviceUrl) while it lasts
(adapters/teams/verified.py): reusing it for those three is served without a second check, and any
other channel or serviceUrl is still checked in full and refused when the token does not fit."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from botframework.connector.auth import ClaimsIdentity
from botframework.connector.auth.authenticate_request_result import AuthenticateRequestResult

from adapters.teams.verified import VerifiedTokens, cache_key
from tests.adapters.teams.activities import DETRACTOR, execute
from tests.adapters.teams.test_auth import keys, new_alert, server, status_of, token  # noqa: F401
from tests.appserver import AppServer
from tests.fakes.bot_connector import FakeBotConnector


async def test_a_reused_token_is_still_refused_for_another_service_url_or_channel(
    server: AppServer, fake_teams: FakeBotConnector  # noqa: F811
) -> None:
    bearer = {"Authorization": f"Bearer {token(fake_teams.url)}"}
    first, second = await new_alert(server), await _another_alert(server)
    ok = await server.client.post("/api/messages", json=execute(fake_teams.url, "alert.claim", first),
                                  headers=bearer)
    assert ok.status_code == 200, ok.text
    again = await server.client.post("/api/messages", json=execute(fake_teams.url, "alert.note", first,
                                                                   note="called"), headers=bearer)
    assert again.status_code == 200, again.text  # the same token, channel and serviceUrl: served
    elsewhere = execute("https://smba.trafficmanager.net/evil/", "alert.claim", second)
    other_channel = {**execute(fake_teams.url, "alert.claim", second), "channelId": "directline"}
    for activity in (elsewhere, other_channel):
        reply = await server.client.post("/api/messages", json=activity, headers=bearer)
        assert reply.status_code == 401, reply.text
    assert await status_of(server, second) == "open"


async def _another_alert(app: AppServer) -> str:
    reply = await app.post_feedback({**DETRACTOR, "id": "r-2"})
    assert reply.status_code == 202, reply.text
    key: str = reply.json()["alert"]
    return key


def _result(exp: float | None) -> AuthenticateRequestResult:
    result = AuthenticateRequestResult()
    claims: dict[str, Any] = {"aud": "app"} if exp is None else {"aud": "app", "exp": exp}
    result.claims_identity = ClaimsIdentity(claims, True)
    return result


async def test_overlapping_checks_of_one_token_share_one_check() -> None:
    verified, calls = VerifiedTokens(), []

    async def check() -> AuthenticateRequestResult:
        calls.append(1)
        await asyncio.sleep(0.05)
        return _result(time.time() + 600)

    key = cache_key("tok", "msteams", "https://smba/")
    results = await asyncio.gather(*(verified.check(key, check) for _ in range(20)))
    assert len(calls) == 1 and all(r is results[0] for r in results)
    assert await verified.check(key, check) is results[0] and len(calls) == 1  # kept
    assert cache_key("tok", "msteams", "https://other/") != key != cache_key("tok", "webchat", "https://smba/")


async def test_failures_and_expired_or_undated_tokens_are_not_kept() -> None:
    verified, calls = VerifiedTokens(), []

    async def failing() -> AuthenticateRequestResult:
        calls.append("fail")
        raise PermissionError("no")

    for _ in range(2):
        with pytest.raises(PermissionError):
            await verified.check("k", failing)
    assert calls == ["fail", "fail"] and len(verified) == 0
    for exp in (time.time() - 1, None):
        result = _result(exp)

        async def expired(result: AuthenticateRequestResult = result) -> AuthenticateRequestResult:
            calls.append("checked")
            return result

        await verified.check("e", expired)
        await verified.check("e", expired)
    assert calls.count("checked") == 4 and len(verified) == 0


async def test_the_cache_is_bounded() -> None:
    verified = VerifiedTokens(max_entries=3)
    for i in range(10):
        await verified.check(str(i), lambda: asyncio.sleep(0, _result(time.time() + 600)))
    assert len(verified) == 3 and verified.recall("9") is not None and verified.recall("0") is None
