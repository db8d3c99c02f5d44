"""Issue 7 §4 — a full flow with production logging (structlog JSON on stderr) leaks nothing.

Webhook with a customer's email, phone, name and comment → Slack card → a Slack click → `/hotloop
source add` with a chosen secret and with a generated one (both printed to the admin) → the same in a
Teams channel (answered privately) → a permanent Slack delivery failure (reported to admins). Every
line written to stdout/stderr is captured (fd level) and must not contain any customer contact
detail or comment, any source secret, the Slack signing secret, the bot token or HOTLOOP_SECRET_KEY.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from sqlalchemy import select
from sqlmodel import col

from adapters.teams.render import escape_markdown
from bot.telemetry import LIBRARY_FLOORS, configure_logging
from storage.models import AlertEvent
from tests.adapters.slack.slackapp import ADMIN, ANA, SIGNING_SECRET
from tests.adapters.teams.activities import MEGAN, message
from tests.appserver import SOURCE_SECRET, TEST_SECRET_KEY
from tests.security.conftest import World

CUSTOMER = {
    "id": "cust-881",
    "name": "Fox Mulder-Scully",
    "email": "fox.mulder@fbi.example.org",
    "phone": "+1 202 555 0147",
}
COMMENT = "The cashier Veronika shouted at my daughter near aisle seventeen"
SLACK_SOURCE_SECRET = "chosen-secret-9f8e7d6c5b4a3210"
TEAMS_SOURCE_SECRET = "teams-chosen-secret-0a1b2c3d4e5f"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the test process's logging config back after `configure_logging`."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    libraries = {name: logging.getLogger(name).level for name in LIBRARY_FLOORS}
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, was in libraries.items():
        logging.getLogger(name).setLevel(was)


@pytest.mark.parametrize("level", ["info", "debug"])
async def test_a_full_flow_logs_no_customer_data_and_no_secret(
    open_world: World, restore_logging: None, capfd: pytest.CaptureFixture[str], level: str
) -> None:
    world, slack = open_world, open_world.slack
    # logging as `hotloop serve` sets it up (HOTLOOP_LOG_LEVEL), on the (captured) stderr of this phase
    configure_logging(level=level, json=True)
    capfd.readouterr()  # start from here: the flow below is what is checked

    # 1. a webhook with contact details → a card in Slack
    reply = await world.server.post_feedback({
        "id": "r-logs-1", "nps": 1, "contact_requested": True, "customer": CUSTOMER, "comment": COMMENT,
        "answers": [{"question": "Your phone", "value": CUSTOMER["phone"]},
                    {"question": "Your email", "value": CUSTOMER["email"]}],
        "attributes": {"location": "042", "contact": CUSTOMER["email"]},
    })  # fmt: skip
    assert reply.status_code == 202, reply.text
    key = str(reply.json()["alert"])
    assert await slack.wait(lambda: slack.card(key) is not None)

    # 2. a Slack click
    await slack.click(ANA, "alert.claim", key)
    assert await slack.until(lambda: _owner_is(world, key, ANA["id"]))

    # 3. source add with a chosen and with a generated secret, from Slack; then from a Teams channel
    for text in (f"source add leaky generic {SLACK_SOURCE_SECRET}", "source add leaky2 generic"):
        await world.ephemeral_reply(ADMIN, text)
    assert SLACK_SOURCE_SECRET in slack.ephemerals(ADMIN)[0]  # shown to the admin, only there
    generated = await world.server.ctx.source("leaky2")
    assert generated is not None and generated.secret in slack.ephemerals(ADMIN)[1]
    teams = await world.server.client.post(
        "/api/messages",
        json=message(world.connector.url, f"source add tleak generic {TEAMS_SOURCE_SECRET}", user=MEGAN),
    )
    assert teams.status_code == 200
    shown = escape_markdown(TEAMS_SOURCE_SECRET)  # sent privately, as Markdown
    assert any(shown in str((c.body or {}).get("text")) for c in world.connector.calls())

    # 4. a permanent delivery failure, reported to the admins
    world.fake.fail_next(error="channel_not_found", method="chat.postMessage")
    reply = await world.server.post_feedback({
        "id": "r-logs-2", "nps": 0, "customer": CUSTOMER, "comment": COMMENT + " again",
    })  # fmt: skip
    assert reply.status_code == 202
    failed_key = str(reply.json()["alert"])
    assert await slack.until(lambda: _has_event(world, failed_key, "delivery_failed"))
    assert await slack.wait(
        lambda: any(
            "could not deliver" in str(c.args.get("text")) for c in world.fake.calls("chat.postMessage")
        )
    )

    out, err = capfd.readouterr()
    captured = out + err
    lines = [line for line in captured.splitlines() if line.strip()]
    events = [json.loads(line).get("event") for line in lines if line.startswith("{")]
    # positive control: the production JSON logs of this very flow were captured
    assert {"slack.action", "delivery.failed", "teams.command"} <= set(events), events

    sensitive = {
        "customer email": CUSTOMER["email"],
        "customer phone": CUSTOMER["phone"],
        "customer phone digits": "555 0147",
        "customer name": CUSTOMER["name"],
        "customer surname": "Mulder",
        "comment": COMMENT[:30],
        "comment words": "Veronika",
        "generic source secret": SOURCE_SECRET,
        "chosen source secret (Slack)": SLACK_SOURCE_SECRET,
        "chosen source secret (Teams)": TEAMS_SOURCE_SECRET,
        "generated source secret": generated.secret,
        "Slack signing secret": SIGNING_SECRET,
        "Slack bot token": world.fake.token,
        "HOTLOOP_SECRET_KEY": TEST_SECRET_KEY,
    }
    leaks = {what: [line[:200] for line in lines if value in line] for what, value in sensitive.items()}
    leaks = {what: found for what, found in leaks.items() if found}
    assert not leaks, leaks


async def _owner_is(world: World, key: str, owner: str) -> bool:
    return (await world.slack.alert(key)).owner_id == owner


async def _has_event(world: World, key: str, kind: str) -> bool:
    alert = await world.slack.alert(key)
    async with world.server.ctx.sessions() as session:
        rows = await session.execute(
            select(col(AlertEvent.kind)).where(
                col(AlertEvent.alert_id) == alert.id, col(AlertEvent.kind) == kind
            )
        )
    return rows.first() is not None


@pytest.mark.parametrize("level", ["info", "debug"])
async def test_a_badly_signed_click_leaves_no_customer_detail_in_the_logs(
    open_world: World, restore_logging: None, capfd: pytest.CaptureFixture[str], level: str
) -> None:
    """Bolt logs the whole request body when a signature fails (a rotated signing secret or a stale
    clock is enough), and a real click carries its card: the customer's name and e-mail."""
    from tests.hotloop.test_settings_and_logs import CUSTOMER_EMAIL, badly_signed_click

    configure_logging(level=level, json=True)
    capfd.readouterr()
    body, headers = badly_signed_click()
    reply = await open_world.server.client.post("/slack/events", content=body, headers=headers)
    assert reply.status_code == 401
    out, err = capfd.readouterr()
    records = [json.loads(line) for line in (out + err).splitlines() if line.strip()]  # all JSON
    assert any("Invalid request signature" in str(r.get("event")) for r in records)  # Bolt did log it
    for leaked in (CUSTOMER_EMAIL, "fox.mulder%40", "Mulder", "mailto"):
        assert leaked not in out + err, leaked
