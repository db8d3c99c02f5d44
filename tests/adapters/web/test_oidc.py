"""Signing in to the dashboard with OpenID Connect, against a real provider on loopback
(tests/adapters/web/oidc_provider.py): discovery, JWKS, a token endpoint issuing RS256 ID tokens.

The account must be a chat user hotloop serves — an Entra `oid` from the Teams tenant, a Slack user of
the workspace, or a listed verified e-mail; a token for another audience, another nonce or state, or
signed by another key opens no session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from adapters.web.oidc import CALLBACK_PATH, FLOW_COOKIE, START_PATH
from adapters.web.session import COOKIE
from bot.settings import SettingsError, build_settings
from storage.models import WebSession
from tests.adapters.web.oidc_provider import OidcProvider, new_key
from tests.appserver import TEST_SECRET_KEY, AppServer, AppWithChats

CLIENT_ID = "hotloop-web"
CLIENT_SECRET = "oidc-client-secret-for-tests-4242"
PUBLIC = "http://127.0.0.1"  # plain http: the test client sends the (then not Secure) cookies back
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
MEGAN = "5e1b7a3c-2d4f-4a6b-8c9d-0e1f2a3b4c5d"
ENTRA = {"tid": TENANT, "oid": MEGAN, "name": "Megan Bowen", "email": "megan@contoso.example"}
SLACK_ANA = {"https://slack.com/user_id": "U0ANA", "https://slack.com/team_id": "T0TEST", "name": "ana",
             "email": "ana@acme.example", "email_verified": True}


@dataclass
class Oidc:
    server: AppServer
    provider: OidcProvider
    browser: httpx.AsyncClient

    async def start(self) -> httpx.Response:
        """GET /app/login/oidc, then the provider's authorization endpoint: the redirect back to us."""
        started = await self.browser.get(START_PATH)
        assert started.status_code == 302, started.text
        assert started.headers["location"].startswith(f"{self.provider.url}/authorize?")
        async with httpx.AsyncClient() as at_provider:
            back = await at_provider.get(started.headers["location"])
        assert back.status_code == 302, back.text
        assert back.headers["location"].startswith(f"{PUBLIC}{CALLBACK_PATH}?")
        return back

    async def sign_in(self, *, callback: str | None = None) -> httpx.Response:
        back = await self.start()
        return await self.browser.get(callback or back.headers["location"][len(PUBLIC):])

    async def sessions(self) -> list[WebSession]:
        async with self.server.ctx.sessions() as session:
            return list((await session.execute(select(WebSession))).scalars().all())


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    with OidcProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, claims=dict(ENTRA)) as running:
        yield running


def oidc_settings(provider: OidcProvider, **more: Any) -> dict[str, Any]:
    return {"public_url": PUBLIC, "oidc_issuer": provider.url, "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET, "teams_tenant_id": TENANT, "slack_team_id": "T0TEST",
            "oidc_email_users": ["bea@acme.example=slack:U0BEA"], "admins": [f"teams:{MEGAN}"], **more}


@pytest.fixture
async def oidc(app_with_chats: AppWithChats, provider: OidcProvider) -> AsyncIterator[Oidc]:
    async with app_with_chats(**oidc_settings(provider)) as server, \
            httpx.AsyncClient(base_url=server.url, timeout=30) as browser:
        yield Oidc(server=server, provider=provider, browser=browser)


async def test_an_entra_account_of_the_tenant_signs_in_as_its_teams_user(oidc: Oidc) -> None:
    reply = await oidc.sign_in()
    assert reply.status_code == 303 and reply.headers["location"] == "/app"
    cookies = reply.headers.get_list("set-cookie")
    assert any(c.startswith(f"{COOKIE}=") and "HttpOnly" in c and "SameSite=lax" in c for c in cookies)
    assert any(c.startswith(f'{FLOW_COOKIE}=""') for c in cookies)  # the flow state is cleared
    [row] = await oidc.sessions()
    assert (row.platform, row.user_id, row.user_name, row.teams) == ("teams", MEGAN, "Megan Bowen", [])
    page = await oidc.browser.get("/app")
    assert page.status_code == 200 and "Megan Bowen" in page.text and "role-admin" in page.text
    [asked] = oidc.provider.authorizations  # the authorization request: code flow, PKCE S256, a nonce
    assert asked["code_challenge_method"] == "S256" and asked["nonce"] and asked["state"]
    assert set(asked["scope"].split()) == {"openid", "email", "profile"}
    assert asked["redirect_uri"] == f"{PUBLIC}{CALLBACK_PATH}"


async def test_a_slack_account_of_the_workspace_signs_in_as_its_slack_user(oidc: Oidc) -> None:
    oidc.provider.claims = dict(SLACK_ANA)
    assert (await oidc.sign_in()).status_code == 303
    [row] = await oidc.sessions()
    assert (row.platform, row.user_id, row.user_name) == ("slack", "U0ANA", "ana")
    page = await oidc.browser.get("/app")
    assert page.status_code == 200 and "role-member" in page.text


async def test_a_listed_verified_email_signs_in_as_its_chat_user(oidc: Oidc) -> None:
    oidc.provider.claims = {"email": "Bea@Acme.example", "email_verified": True, "name": "Bea"}
    assert (await oidc.sign_in()).status_code == 303
    [row] = await oidc.sessions()
    assert (row.platform, row.user_id) == ("slack", "U0BEA")


@pytest.mark.parametrize(("claims", "reason"), [
    ({**ENTRA, "tid": "0b0b0b0b-1111-4222-8333-444444444444"}, "(tenant) hotloop does not serve"),
    ({**SLACK_ANA, "https://slack.com/team_id": "T0OTHER"}, "workspace hotloop does not serve"),
    ({"email": "bea@acme.example", "email_verified": False}, "No hotloop user matches"),
    ({"email": "zoe@acme.example", "email_verified": True}, "No hotloop user matches"),
    ({"tid": TENANT, "name": "no oid"}, "no object id"),
])
async def test_an_account_that_is_no_hotloop_user_gets_403_and_no_session(
        oidc: Oidc, claims: dict[str, Any], reason: str) -> None:
    oidc.provider.claims = claims
    reply = await oidc.sign_in()
    assert reply.status_code == 403 and reason in reply.text, reply.text
    assert COOKIE not in reply.headers.get("set-cookie", "")
    assert await oidc.sessions() == []
    assert (await oidc.browser.get("/app")).status_code == 401


@pytest.mark.parametrize("tamper", [{"aud": "another-app"}, {"aud": ["another-app"], "azp": CLIENT_ID},
                                    {"nonce": "not-the-nonce-we-sent"}, {"nonce": None},
                                    {"iss": "https://evil.example"}, {"exp": 1_000_000}])
async def test_an_id_token_not_for_this_sign_in_is_refused(oidc: Oidc, tamper: dict[str, Any]) -> None:
    oidc.provider.tamper = tamper
    reply = await oidc.sign_in()
    assert reply.status_code == 403 and "could not be verified" in reply.text, reply.text
    assert await oidc.sessions() == []


async def test_a_token_signed_by_another_key_is_refused(oidc: Oidc) -> None:
    oidc.provider.signing_key = new_key()  # same kid, not the published key
    reply = await oidc.sign_in()
    assert reply.status_code == 403 and "could not be verified" in reply.text
    assert await oidc.sessions() == []


async def test_a_callback_with_another_state_or_from_another_browser_is_refused(oidc: Oidc) -> None:
    back = await oidc.start()
    location = back.headers["location"][len(PUBLIC):]
    forged = location.replace("state=", "state=x")
    reply = await oidc.browser.get(forged)
    assert reply.status_code == 403 and "could not be finished" in reply.text
    async with httpx.AsyncClient(base_url=oidc.server.url) as elsewhere:  # no flow cookie: not started here
        other = await elsewhere.get(location)
    assert other.status_code == 403 and "could not be finished" in other.text
    assert await oidc.sessions() == []
    assert oidc.provider.token_requests == 0  # refused before the code is used
    oidc.browser.cookies.set(FLOW_COOKIE, "e30.forged", path=START_PATH)
    assert (await oidc.browser.get(location)).status_code == 403


async def test_a_provider_error_is_403_and_a_replayed_code_is_refused(oidc: Oidc) -> None:
    reply = await oidc.browser.get(f"{CALLBACK_PATH}?error=access_denied&state=x")
    assert reply.status_code == 403 and "access_denied" in reply.text
    back = await oidc.start()
    callback = back.headers["location"][len(PUBLIC):]
    assert (await oidc.browser.get(callback)).status_code == 303
    assert (await oidc.browser.get(callback)).status_code == 403  # the flow cookie is gone
    assert len(await oidc.sessions()) == 1


async def test_the_sign_in_page_offers_oidc_only_when_configured(oidc: Oidc,
                                                                 app_with_chats: AppWithChats) -> None:
    assert 'href="/app/login/oidc"' in (await oidc.browser.get("/app/login")).text
    assert "/app/login/oidc" in (await oidc.browser.get("/app/tab")).text
    async with app_with_chats(public_url=PUBLIC, source=None) as plain:
        assert 'href="/app/login/oidc"' not in (await plain.client.get("/app/login")).text
        off = await plain.client.get(START_PATH)
        assert off.status_code == 404 and "location" not in off.headers
        assert (await plain.client.get(f"{CALLBACK_PATH}?code=x&state=y")).status_code == 404


async def test_an_unreachable_or_mismatched_provider_is_502(app_with_chats: AppWithChats,
                                                            provider: OidcProvider) -> None:
    provider.issuer_override = "https://login.example.com/other"
    async with app_with_chats(source=None, **oidc_settings(provider)) as server:
        reply = await server.client.get(START_PATH)
        assert reply.status_code == 502 and "location" not in reply.headers
    provider.stop()
    async with app_with_chats(source=None, **oidc_settings(provider)) as server:
        reply = await server.client.get(START_PATH)
        assert reply.status_code == 502 and "unavailable" in reply.text


async def test_the_client_secret_is_never_logged(oidc: Oidc, capsys: pytest.CaptureFixture[str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    assert (await oidc.sign_in()).status_code == 303
    oidc.provider.tamper = {"aud": "x"}
    assert (await oidc.sign_in()).status_code == 403
    captured = capsys.readouterr()
    assert CLIENT_SECRET not in captured.out + captured.err + caplog.text


@pytest.mark.parametrize(("settings", "problem"), [
    ({"oidc_issuer": "https://login.example.com"}, "set together"),
    ({"oidc_client_id": "x", "oidc_client_secret": CLIENT_SECRET}, "set together"),
    ({"oidc_issuer": "http://idp.example.com", "oidc_client_id": "x", "oidc_client_secret": CLIENT_SECRET,
      "public_url": PUBLIC}, "https://"),
    ({"oidc_issuer": "https://idp.example.com", "oidc_client_id": "x", "oidc_client_secret": "changeme",
      "public_url": PUBLIC}, "placeholder"),
    ({"oidc_issuer": "https://idp.example.com", "oidc_client_id": "x", "oidc_client_secret": CLIENT_SECRET},
     "HOTLOOP_PUBLIC_URL"),
    ({"oidc_email_users": "bea@acme.example"}, "HOTLOOP_OIDC_EMAIL_USERS"),
    ({"oidc_email_users": "bea@acme.example=nobody"}, "HOTLOOP_OIDC_EMAIL_USERS"),
])
def test_settings_refuse_a_half_or_unsafe_oidc_configuration(settings: dict[str, Any], problem: str) -> None:
    with pytest.raises(SettingsError) as refused:
        build_settings(mode="production", secret_key=TEST_SECRET_KEY, database_url="sqlite+aiosqlite://",
                       **settings)
    assert problem in str(refused.value) and CLIENT_SECRET not in str(refused.value)
