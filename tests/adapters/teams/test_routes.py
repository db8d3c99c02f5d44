"""POST /api/messages end to end: the real app under uvicorn, a loopback fake Bot Connector as the
activities' serviceUrl, real activities built from the documented payloads. No mocks.

These run with HOTLOOP_TEAMS_ALLOW_UNAUTHENTICATED (no token check); tests/adapters/teams/test_auth.py covers
the JWT path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import SettingsError
from storage import queries
from storage.db import transaction
from storage.models import Alert, Conversation, Team
from tests.adapters.teams.activities import (
    ADELE,
    CARD_ID,
    CHANNEL,
    DETRACTOR,
    MEGAN,
    execute,
    message,
    row_counts,
    submit,
    verbs,
)
from tests.appserver import AppServer, serve_app, test_settings
from tests.fakes.bot_connector import FakeBotConnector

CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"


@pytest.fixture
def fake() -> Iterator[FakeBotConnector]:
    with FakeBotConnector() as connector:
        yield connector


@pytest.fixture
async def server(engine: AsyncEngine, database_url: str) -> AsyncIterator[AppServer]:
    settings = test_settings(database_url, teams_allow_unauthenticated=True, admins=[MEGAN["aadObjectId"]])
    async with serve_app(settings) as app:
        await app.add_source("web")
        yield app


async def new_alert(server: AppServer) -> str:
    reply = await server.post_feedback(DETRACTOR)
    assert reply.status_code == 202, reply.text
    key: str = reply.json()["alert"]
    return key


async def send(server: AppServer, activity: dict[str, Any]) -> httpx.Response:
    return await server.client.post("/api/messages", json=activity)


async def alert(server: AppServer, key: str) -> Alert:
    async with server.ctx.sessions() as session:
        row = await queries.get_alert(session, key=key)
    assert row is not None
    return row


def posted_texts(fake: FakeBotConnector, conversation: str) -> list[str]:
    return [a.get("text", "") for a in fake.activities_in(conversation) if isinstance(a, dict)]


# ---- Action.Execute -----------------------------------------------------------------------------


async def test_claim_answers_with_the_refreshed_card_and_claims_the_alert(
    server: AppServer, fake: FakeBotConnector
) -> None:
    key = await new_alert(server)
    reply = await send(server, execute(fake.url, "alert.claim", key))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["statusCode"] == 200 and body["type"] == CARD
    card = body["value"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert "alert.claim" not in verbs(card)
    assert {"alert.resolve", "alert.unclaim", "alert.escalate"} <= verbs(card)
    assert "Megan Bowen" in str(card)
    assert "dana@example.com" not in str(card)  # the managers' channel: no customer contact details
    row = await alert(server, key)
    assert (row.status, row.owner_id, row.owner_name, row.owner_platform) == (
        "claimed",
        MEGAN["aadObjectId"],
        "Megan Bowen",
        "teams",
    )


async def test_second_claim_is_told_who_owns_it(server: AppServer, fake: FakeBotConnector) -> None:
    key = await new_alert(server)
    assert (await send(server, execute(fake.url, "alert.claim", key))).json()["type"] == CARD
    reply = await send(server, execute(fake.url, "alert.claim", key, user=ADELE))
    assert reply.status_code == 200
    body = reply.json()
    assert body["type"] == MESSAGE and body["statusCode"] == 200
    assert "already claimed by Megan Bowen" in body["value"]
    assert (await alert(server, key)).owner_id == MEGAN["aadObjectId"]


async def test_resolve_with_the_form_inputs(server: AppServer, fake: FakeBotConnector) -> None:
    key = await new_alert(server)
    await send(server, execute(fake.url, "alert.claim", key))
    reply = await send(
        server,
        execute(
            fake.url,
            "alert.resolve",
            key,
            outcome="recovered",
            root_cause="staff",
            note="Called her, refunded the visit",
            survey="true",
        ),
    )
    body = reply.json()
    assert body["type"] == CARD, body
    assert verbs(body["value"]) == {"alert.reopen"}
    row = await alert(server, key)
    assert (row.status, row.outcome, row.root_cause) == ("resolved", "recovered", "staff")
    assert row.resolution_note == "Called her, refunded the visit"
    assert row.resolved_by == "Megan Bowen"


async def test_snooze_option_and_refusals_are_messages(server: AppServer, fake: FakeBotConnector) -> None:
    key = await new_alert(server)
    body = (await send(server, execute(fake.url, "alert.snooze", key, option="4h"))).json()
    assert body["type"] == CARD
    assert (await alert(server, key)).status == "snoozed"
    bad_verb = (await send(server, execute(fake.url, "alert.explode", key))).json()
    assert bad_verb["type"] == MESSAGE and "Unknown action" in bad_verb["value"]
    missing = (await send(server, execute(fake.url, "alert.claim", "HA-9999"))).json()
    assert missing["type"] == MESSAGE and "HA-9999" in missing["value"]
    no_outcome = (await send(server, execute(fake.url, "alert.resolve", key))).json()
    assert no_outcome["type"] == MESSAGE and "outcome" in no_outcome["value"].lower()


async def test_form_inputs_follow_the_same_rules_as_slacks_modal(
    server: AppServer, fake: FakeBotConnector
) -> None:
    key = await new_alert(server)
    too_long = (await send(server, execute(fake.url, "alert.note", key, note="n" * 3001))).json()
    assert too_long["type"] == MESSAGE and too_long["value"] == "Keep the note under 3000 characters"
    not_here = (await send(server, execute(fake.url, "alert.resolve", key, outcome="not_actionable"))).json()
    assert not_here["type"] == MESSAGE and not_here["value"] == "Pick an outcome"
    row = await alert(server, key)
    assert (row.status, row.version) == ("open", 1)


async def test_team_channel_card_shows_contact_details(server: AppServer, fake: FakeBotConnector) -> None:
    key = await new_alert(server)
    async with transaction(server.ctx.sessions) as session:
        team = (await session.execute(select(Team).where(Team.is_default))).scalar_one()  # type: ignore[arg-type]
        team.teams_channel = CHANNEL
    server.ctx.config.invalidate()
    card = (await send(server, execute(fake.url, "alert.claim", key))).json()["value"]
    assert "dana@example\\.com" in str(card).replace("\\\\", "\\")  # escaped: no client links it


# ---- Action.Submit fallback ---------------------------------------------------------------------


async def test_submit_fallback_updates_the_message(server: AppServer, fake: FakeBotConnector) -> None:
    key = await new_alert(server)
    activity = submit(fake.url, "alert.claim", key)
    reply = await send(server, activity)
    assert reply.status_code == 200
    conversation = activity["conversation"]["id"]
    assert fake.wait_for(lambda calls: any(c.method == "PUT" for c in calls))
    put = next(c for c in fake.calls() if c.method == "PUT")
    assert (put.conversation, put.activity_id) == (conversation, CARD_ID)
    attachment = put.body["attachments"][0]
    assert attachment["contentType"] == CARD
    assert "alert.resolve" in verbs(attachment["content"]) and "alert.claim" not in verbs(
        attachment["content"]
    )
    assert (await alert(server, key)).status == "claimed"


async def test_submit_refusal_is_a_reply_in_the_thread(server: AppServer, fake: FakeBotConnector) -> None:
    key = await new_alert(server)
    await send(server, execute(fake.url, "alert.claim", key))
    activity = submit(fake.url, "alert.claim", key, user=ADELE)
    assert (await send(server, activity)).status_code == 200
    conversation = activity["conversation"]["id"]
    assert fake.wait_for(lambda calls: any(c.conversation == conversation for c in calls))
    assert any("already claimed by Megan Bowen" in t for t in posted_texts(fake, conversation))
    assert not any(c.method == "PUT" for c in fake.calls())


# ---- commands -----------------------------------------------------------------------------------


async def test_help_message_gets_a_reply(server: AppServer, fake: FakeBotConnector) -> None:
    activity = message(fake.url, "help")
    assert (await send(server, activity)).status_code == 200
    conversation = activity["conversation"]["id"]
    assert fake.wait_for(lambda calls: any(c.conversation == conversation for c in calls))
    texts = posted_texts(fake, conversation)
    assert len(texts) == 1 and "hotloop commands" in texts[0]
    assert "<at>" not in texts[0]


async def test_a_retried_message_runs_once(server: AppServer, fake: FakeBotConnector) -> None:
    activity = message(fake.url, "help")
    await send(server, activity)
    await send(server, activity)
    assert len(posted_texts(fake, activity["conversation"]["id"])) == 1


async def test_link_team_binds_the_channel_id(server: AppServer, fake: FakeBotConnector) -> None:
    await send(server, message(fake.url, "link team support"))
    async with server.ctx.sessions() as session:
        team = (await session.execute(select(Team).where(Team.name == "support"))).scalar_one()  # type: ignore[arg-type]
    assert team.teams_channel == CHANNEL  # not "…;messageid=…": new card threads start in the channel


async def test_secret_reply_goes_to_a_private_chat(server: AppServer, fake: FakeBotConnector) -> None:
    activity = message(fake.url, "source add typeform-eu typeform")
    await send(server, activity)
    conversation = activity["conversation"]["id"]
    assert fake.wait_for(lambda calls: any(c.conversation == conversation for c in calls))
    channel_texts = posted_texts(fake, conversation)
    assert channel_texts == ["I've sent it to you privately."]
    direct = f"a:dm-{MEGAN['id']}"
    assert any("Signing secret" in t for t in posted_texts(fake, direct))


async def test_secret_reply_in_personal_chat_is_answered_there(
    server: AppServer, fake: FakeBotConnector
) -> None:
    activity = message(fake.url, "source add typeform-eu typeform", personal=True)
    await send(server, activity)
    conversation = activity["conversation"]["id"]
    assert fake.wait_for(lambda calls: any(c.conversation == conversation for c in calls))
    assert any("Signing secret" in t for t in posted_texts(fake, conversation))


# ---- conversation references --------------------------------------------------------------------


async def test_conversation_reference_is_stored(server: AppServer, fake: FakeBotConnector) -> None:
    await send(server, message(fake.url, "help"))
    await send(server, message(fake.url, "help", personal=True))
    async with server.ctx.sessions() as session:
        rows = {r.conversation_id: r for r in (await session.execute(select(Conversation))).scalars()}
    channel = rows[CHANNEL]
    assert channel.platform == "teams" and channel.name == "Retail / Store managers"
    assert channel.reference["serviceUrl"] == fake.url
    assert channel.reference["conversation"]["id"].startswith(CHANNEL)
    assert channel.reference["bot"]["id"].startswith("28:")
    personal = [r for r in rows.values() if r.conversation_id.startswith("a:")]
    assert len(personal) == 1 and personal[0].reference["user"]["aadObjectId"] == MEGAN["aadObjectId"]


async def test_a_reference_is_written_once_not_on_every_activity(
    server: AppServer, fake: FakeBotConnector
) -> None:
    """One bot serves every request (built at mount), so what it stored lately is not written again."""
    await send(server, message(fake.url, "help"))
    query = select(Conversation).where(Conversation.conversation_id == CHANNEL)  # type: ignore[arg-type]
    async with transaction(server.ctx.sessions) as session:
        (await session.execute(query)).scalar_one().name = "renamed since"
    assert (await send(server, message(fake.url, "help"))).status_code == 200
    assert (await send(server, execute(fake.url, "alert.claim", await new_alert(server)))).status_code == 200
    async with server.ctx.sessions() as session:
        assert (await session.execute(query)).scalar_one().name == "renamed since"


# ---- HTTP contract ------------------------------------------------------------------------------


async def test_bad_bodies(server: AppServer, fake: FakeBotConnector) -> None:
    before = await row_counts(server)
    post = server.client.post
    assert (await post("/api/messages", content=b"{not json")).status_code == 400
    assert (await post("/api/messages", json=[1, 2])).status_code == 400
    assert (await post("/api/messages", json={"text": "no type"})).status_code == 400
    big = b'{"type": "message", "text": "' + b"a" * (300 * 1024) + b'"}'
    too_big = await post("/api/messages", content=big)
    assert too_big.status_code == 413 and too_big.json()["error"]
    assert await row_counts(server) == before


async def test_without_an_app_id_the_endpoint_is_503(engine: AsyncEngine, database_url: str) -> None:
    async with serve_app(test_settings(database_url)) as app:
        reply = await app.client.post("/api/messages", json={"type": "message", "text": "help"})
    assert reply.status_code == 503
    assert "HOTLOOP_TEAMS_APP_ID" in reply.json()["error"]


def test_unauthenticated_with_an_app_id_is_refused(database_url: str) -> None:
    with pytest.raises(SettingsError, match="ALLOW_UNAUTHENTICATED"):
        test_settings(
            database_url,
            teams_app_id="8a1f0c2e-3b4d-4e5f-9a6b-7c8d9e0f1a2b",
            teams_app_password="pw-0123456789abcdef",
            teams_allow_unauthenticated=True,
        )


async def test_linked_channel_gets_new_cards_at_its_stored_service_url(
    server: AppServer, fake: FakeBotConnector
) -> None:
    """`link team` in a channel stores the reference; the delivery worker then starts card threads in
    that channel at the serviceUrl Teams gave (the fake), not at the global default."""
    await send(server, message(fake.url, "link team support"))
    await new_alert(server)
    for _ in range(500):  # the worker runs in this event loop: wait without blocking it
        if any(c.path == "/v3/conversations" for c in fake.calls()):
            break
        await asyncio.sleep(0.02)
    started = next(c for c in fake.calls() if c.path == "/v3/conversations")
    assert started.body["channelData"]["channel"]["id"] == CHANNEL
    assert started.body["activity"]["attachments"][0]["contentType"] == CARD
    assert "text" not in started.body["activity"]
