"""Issue 11 §3 — only the configured Entra tenants get in, in every mode.

A valid Bot Framework token proves the Bot Connector sent the activity for this app id, not that it
came from the organisation hotloop serves. With HOTLOOP_TEAMS_TENANT_ID set, an activity from another
tenant used to claim alerts, read the configuration and — with an admin's object id — re-link a
team's channel. Now it is answered 403 before anything is read or written, with or without token
checks; invokes get the Universal Actions error the Teams client shows.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from adapters.teams.tenants import OTHER_TENANT
from bot.settings import Role, SettingsError, build_settings
from storage import queries
from tests.adapters.teams.activities import DETRACTOR, MEGAN, TENANT, execute, message, row_counts, submit
from tests.adapters.teams.test_auth import APP_ID, KID, SIGNING_KEY, KeyServer, jwk, token
from tests.appserver import TEST_SECRET_KEY, AppServer, AppWithChats
from tests.fakes.bot_connector import FakeBotConnector

ATTACKER = "0badc0de-0000-4000-8000-00000000beef"
PARTNER = "5e1f0000-0000-4000-8000-0000000a11ed"
ERROR = "application/vnd.microsoft.error"


def from_tenant(
    activity: dict[str, Any], tenant: str | None, *, conversation: str | None = None
) -> dict[str, Any]:
    """The activity as Teams would send it from `tenant` (channelData.tenant.id and
    conversation.tenantId), or naming no tenant at all."""
    moved = copy.deepcopy(activity)
    moved.setdefault("channelData", {})
    moved["channelData"].pop("tenant", None)
    moved["conversation"].pop("tenantId", None)
    if tenant is not None:
        moved["channelData"]["tenant"] = {"id": tenant}
        moved["conversation"]["tenantId"] = conversation or tenant
    return moved


@pytest.fixture
async def server(app_with_chats: AppWithChats) -> AsyncIterator[AppServer]:
    """Unauthenticated local mode, one tenant configured; Megan's object id is an admin."""
    async with app_with_chats(
        role=Role.WEB,  # no worker: row counts stay still
        teams_allow_unauthenticated=True, teams_tenant_id=TENANT, teams_allowed_tenants=PARTNER,
        admins=[MEGAN["aadObjectId"]],
    ) as app:
        yield app


async def new_alert(server: AppServer) -> str:
    reply = await server.post_feedback(DETRACTOR)
    assert reply.status_code == 202, reply.text
    return str(reply.json()["alert"])


async def alert_state(server: AppServer, key: str) -> tuple[Any, ...]:
    async with server.ctx.sessions() as session:
        alert = await queries.get_alert(session, key=key)
    assert alert is not None
    return alert.status, alert.owner_id, alert.version


async def test_another_tenant_is_refused_everything_and_nothing_changes(
    server: AppServer, connector: FakeBotConnector
) -> None:
    key = await new_alert(server)
    before = await row_counts(server)
    url = connector.url
    stranger = from_tenant(execute(url, "alert.claim", key), ATTACKER)
    claim = await server.client.post("/api/messages", json=stranger)
    assert claim.status_code == 403  # and the error Teams shows in the card:
    assert claim.json() == {
        "statusCode": 403, "type": ERROR, "value": {"code": "Forbidden", "message": OTHER_TENANT}
    }
    # the admin's object id, arriving from the attacker's tenant, may not re-link or read anything
    for text in ("link team support", "config export", "team list", "help"):
        reply = await server.client.post("/api/messages", json=from_tenant(message(url, text), ATTACKER))
        assert reply.status_code == 403 and reply.json() == {"error": OTHER_TENANT}, text
    fallback = from_tenant(submit(url, "alert.claim", key), ATTACKER)
    assert (await server.client.post("/api/messages", json=fallback)).status_code == 403
    assert await alert_state(server, key) == ("open", None, 1)
    assert await row_counts(server) == before  # not even the conversation reference was stored
    assert connector.calls() == []  # no reply was sent anywhere


async def test_no_tenant_or_a_body_that_disagrees_with_itself_is_refused(
    server: AppServer, connector: FakeBotConnector
) -> None:
    key = await new_alert(server)
    before = await row_counts(server)
    for activity in (
        from_tenant(execute(connector.url, "alert.claim", key), None),
        from_tenant(execute(connector.url, "alert.claim", key), TENANT, conversation=ATTACKER),
    ):
        assert (await server.client.post("/api/messages", json=activity)).status_code == 403
    assert await alert_state(server, key) == ("open", None, 1)
    assert await row_counts(server) == before


@pytest.mark.parametrize("tenant", [TENANT, TENANT.upper(), PARTNER])
async def test_the_configured_and_allowed_tenants_are_served(
    server: AppServer, connector: FakeBotConnector, tenant: str
) -> None:
    key = await new_alert(server)
    reply = await server.client.post(
        "/api/messages", json=from_tenant(execute(connector.url, "alert.claim", key), tenant)
    )
    assert reply.status_code == 200 and reply.json()["type"] == "application/vnd.microsoft.card.adaptive"
    assert await alert_state(server, key) == ("claimed", MEGAN["aadObjectId"], 2)


# ---- with token checks on -----------------------------------------------------------------------


@pytest.fixture
def keys() -> Iterator[KeyServer]:
    with KeyServer([jwk(SIGNING_KEY, KID, ["msteams"])]) as key_server:
        yield key_server


async def test_a_valid_token_from_another_tenant_is_refused(
    app_with_chats: AppWithChats, keys: KeyServer, connector: FakeBotConnector
) -> None:
    async with app_with_chats(
        role=Role.WEB, teams_app_id=APP_ID, teams_app_password="pw-0123456789abcdef", teams_tenant_id=TENANT,
        teams_openid_metadata_url=f"{keys.url}/.well-known/openidconfiguration",
    ) as app:
        key = await new_alert(app)
        bearer = {"Authorization": f"Bearer {token(connector.url)}"}
        stranger = from_tenant(execute(connector.url, "alert.claim", key), ATTACKER)
        refused = await app.client.post("/api/messages", json=stranger, headers=bearer)
        assert refused.status_code == 403 and refused.json()["value"]["message"] == OTHER_TENANT
        assert await alert_state(app, key) == ("open", None, 1)
        ours = execute(connector.url, "alert.claim", key)  # control: same token, our tenant
        assert (await app.client.post("/api/messages", json=ours, headers=bearer)).status_code == 200
        assert (await alert_state(app, key))[0] == "claimed"


def test_an_app_id_without_a_tenant_is_refused_at_start() -> None:
    common: dict[str, Any] = {"secret_key": TEST_SECRET_KEY, "teams_app_id": APP_ID,
                              "teams_app_password": "pw-0123456789abcdef"}
    with pytest.raises(SettingsError, match="HOTLOOP_TEAMS_TENANT_ID"):
        build_settings(**common)
    assert build_settings(**common, teams_tenant_id=TENANT).teams_tenants == {TENANT}
    assert "*" in build_settings(**common, teams_allowed_tenants="*").teams_tenants  # every tenant, meant
    listed = build_settings(**common, teams_allowed_tenants=f"{TENANT}, {PARTNER.upper()}")
    assert listed.teams_tenants == {TENANT, PARTNER}
