"""Every source kind's mapping can fill the frontline employee (issue 15 item 3), and the card says
"Served by <name>".

Each test sends the platform's captured payload (tests/fixtures/payloads; Qualtrics and SurveyMonkey:
the documented API answers in their own test modules) with the employee, store and product in a field the
platform really has — a hidden field, a question, a person property, embedded data, a custom variable —
under a name that is NOT `employee`, so only the source's mapping can put it there. Then: the stored
feedback's attributes, and the facts of the card at the fake Slack. Real app, real database (SQLite, and
PostgreSQL with HOTLOOP_TEST_DATABASE_URL).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from adapters.sources import delighted, formbricks, generic, qualtrics, surveymonkey, typeform
from bot.config.sources import add_source, set_mapping
from storage.models import Alert, Feedback
from tests.adapters.sources import test_qualtrics as q
from tests.adapters.sources import test_surveymonkey as sm
from tests.adapters.sources.conftest import FakeApi, dumps
from tests.appserver import SLACK_CHANNEL, AppServer, AppWithChats
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlackApi
from tests.fixtures import payload

EMPLOYEE = "Jessica C"
STORE = "042"
PRODUCT = "Broadband"


@pytest.fixture
async def server(app_with_chats: AppWithChats) -> AsyncIterator[AppServer]:
    async with app_with_chats(slack=True, source=None) as app:
        yield app


@pytest.fixture(autouse=True)
def _no_cached_surveys() -> Iterator[None]:
    surveymonkey._survey_cache.clear()
    yield
    surveymonkey._survey_cache.clear()


async def send(server: AppServer, kind: str, secret: str, body: bytes, headers: dict[str, str],
               **source: Any) -> None:
    await add_source(server.ctx.sessions, server.ctx.secrets, name=kind, kind=kind, secret=secret, **source)
    await post(server, kind, body, headers)


async def post(server: AppServer, kind: str, body: bytes, headers: dict[str, str]) -> None:
    reply = await server.client.post(f"/webhooks/{kind}", content=body, headers=headers)
    assert reply.status_code == 202, reply.text


async def stored(server: AppServer) -> tuple[str, dict[str, str]]:
    """The (only) alert's key and its feedback's attributes, once the alert exists (fetching sources
    raise it from the ingest queue)."""
    for _ in range(200):
        async with server.ctx.sessions() as session:
            found = (await session.execute(select(Alert, Feedback).join(Feedback))).all()
        if found:
            [(alert, feedback)] = found
            assert alert.key
            return alert.key, dict(feedback.attributes)
        await asyncio.sleep(0.05)
    raise AssertionError("no alert was raised")


async def slack_facts(slack: FakeSlackApi, key: str) -> list[str]:
    """The texts of the card's facts line (`*Name:* value` each) as posted to the team's channel."""
    for _ in range(200):
        posts = [c.args for c in slack.calls("chat.postMessage") if key in str(c.args.get("text"))]
        if posts:
            assert posts[0]["channel"] == SLACK_CHANNEL
            blocks = [b for b in posts[0]["blocks"] if str(b.get("block_id", "")).endswith(".facts")]
            assert len(blocks) == 1, posts[0]["blocks"]
            return [part for e in blocks[0]["elements"] for part in str(e["text"]).split("\n")]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no card for {key} reached Slack")


async def assert_served_by(server: AppServer, slack: FakeSlackApi, *, location: str | None = STORE,
                           product: str | None = None, employee: str = EMPLOYEE) -> None:
    key, attributes = await stored(server)
    assert attributes.get("employee") == employee, attributes
    assert attributes.get("location") == location, attributes
    assert attributes.get("product") == product, attributes
    facts = " · ".join(await slack_facts(slack, key))
    assert facts.startswith(f"*Served by:* {employee}"), facts  # the first fact
    if location:
        assert f"*Location:* {location}" in facts, facts
    if product:
        assert f"*Product:* {product}" in facts, facts


# --- platforms that post the whole response ------------------------------------------------------


@pytest.mark.parametrize("where", ["hidden field", "question"])
async def test_typeform(server: AppServer, slack: FakeSlackApi, where: str) -> None:
    data = payload("typeform_form_response.json")
    response = data["form_response"]
    response["hidden"] |= {"store_id": STORE, "sku": PRODUCT, "staff_name": EMPLOYEE}
    for answer in response["answers"]:
        if answer["type"] == "number":
            answer["number"] = 1  # the NPS below: a detractor
        if answer["field"]["id"] == "JwWggjAKtOkA":  # "What is your first name?" (short_text)
            answer["text"] = EMPLOYEE if where == "question" else "Laura"
    staff = "staff_name" if where == "hidden field" else "readable_ref_short_text"
    mapping = {"nps": "readable_ref_number1",
               "attributes": {"employee": staff, "location": "store_id", "product": "sku"}}
    body, secret = dumps(data), "typeform-secret"
    await send(server, "typeform", secret, body, {"typeform-signature": typeform.sign(secret, body)},
               mapping=mapping)
    await assert_served_by(server, slack, product=PRODUCT)


async def test_formbricks(server: AppServer, slack: FakeSlackApi) -> None:
    secret = "whsec_" + base64.b64encode(b"formbricks-key").decode()
    data = payload("formbricks_responseFinished.json")
    data["data"]["data"] |= {"nps": 2, "comment": "Nobody helped me", "who_served_you": EMPLOYEE}
    data["data"]["variables"] = {"storeCode": STORE}
    body, ts = dumps(data), int(time.time())
    headers = {"webhook-id": "msg-1", "webhook-timestamp": str(ts),
               "webhook-signature": formbricks.sign(secret, body, msg_id="msg-1", timestamp=ts)}
    await send(server, "formbricks", secret, body, headers,
               mapping={"attributes": {"employee": "who_served_you", "location": "storeCode"}})
    await assert_served_by(server, slack)


async def test_delighted(server: AppServer, slack: FakeSlackApi) -> None:
    data = payload("delighted_survey_response_updated.json")
    data["event_data"] |= {"score": 3, "comment": "The installer was late",
                           "person_properties": {"Agent": EMPLOYEE, "Store": STORE, "Plan": PRODUCT}}
    body, secret = dumps(data), "delighted-secret"
    headers = {"x-delighted-webhook-signature": delighted.sign(secret, body)}
    await send(server, "delighted", secret, body, headers,
               mapping={"attributes": {"employee": "Agent", "location": "Store", "product": "Plan"}})
    await assert_served_by(server, slack, product=PRODUCT)


# --- platforms that post ids; hotloop fetches the response ---------------------------------------


async def test_qualtrics_embedded_data(server: AppServer, slack: FakeSlackApi, fake_api: FakeApi) -> None:
    """A source that already maps `attr.location` gains `attr.employee` later (`hotloop source map`):
    the location mapping stays."""
    answer: dict[str, Any] = copy.deepcopy(q.API_RESPONSE)
    answer["result"]["values"] |= {"AgentName": EMPLOYEE, "ProductLine": PRODUCT}
    fake_api.required_header = ("X-API-TOKEN", q.TOKEN)
    fake_api.routes[q.RESPONSE_PATH] = (200, answer)
    assert q.MAPPING["attributes"] == {"location": "StoreID"}
    await add_source(server.ctx.sessions, server.ctx.secrets, name="qualtrics", kind="qualtrics",
                     secret=q.SECRET, api_url=fake_api.url, api_token=q.TOKEN, mapping=q.MAPPING)
    await set_mapping(server.ctx.sessions, name="qualtrics",
                      mapping={"attributes": {"employee": "AgentName", "product": "ProductLine"}})
    await post(server, "qualtrics", qualtrics.form_body(q.BRAND_TOPIC, q.MSG, q.SECRET),
               {"content-type": "application/x-www-form-urlencoded"})
    await assert_served_by(server, slack, product=PRODUCT)


async def test_surveymonkey_custom_variables(
    server: AppServer, slack: FakeSlackApi, fake_api: FakeApi
) -> None:
    response = copy.deepcopy(sm.RESPONSE)
    response["custom_variables"] = {"store": STORE, "agent": EMPLOYEE}
    fake_api.required_header = ("Authorization", f"Bearer {sm.TOKEN}")
    fake_api.routes[sm.RESPONSE_PATH] = (200, response)
    fake_api.routes[sm.SURVEY_PATH] = (200, sm.SURVEY)
    await send(server, "surveymonkey", sm.SECRET, sm.BODY,
               {"sm-signature": surveymonkey.sign(sm.SECRET, sm.BODY), "content-type": "application/json"},
               api_url=fake_api.url, api_token=sm.TOKEN,
               mapping={"attributes": {"employee": "agent", "location": "store"}})
    await assert_served_by(server, slack)


# --- hotloop's own webhook -----------------------------------------------------------------------

GENERIC_SECRET = "generic-secret-0123456789"


def generic_body(**fields: Any) -> dict[str, Any]:
    """The documented example body (GenericFeedback's OpenAPI example), `fields` on top."""
    body: dict[str, Any] = copy.deepcopy(generic.GenericFeedback.model_json_schema()["examples"][0])
    return body | fields


async def send_generic(
    server: AppServer, body: dict[str, Any], mapping: dict[str, Any] | None = None
) -> None:
    raw = json.dumps(body).encode()
    headers = {"content-type": "application/json",
               "x-hotloop-signature": generic.sign(GENERIC_SECRET, raw, int(time.time()))}
    await send(server, "generic", GENERIC_SECRET, raw, headers, mapping=mapping)


async def test_generic_body_names_the_employee(server: AppServer, slack: FakeSlackApi) -> None:
    await send_generic(server, generic_body())  # attributes.employee, as documented: no mapping needed
    await assert_served_by(server, slack)


@pytest.mark.parametrize("where", ["attribute", "answer"])
async def test_generic_mapping(server: AppServer, slack: FakeSlackApi, where: str) -> None:
    """A sender that cannot rename its fields: the mapping reads another attribute, or an answer."""
    body = generic_body(attributes={"store": STORE, "staff": EMPLOYEE, "line": PRODUCT})
    if where == "answer":
        body["attributes"].pop("staff")
        body["answers"].append({"question": "Who served you?", "value": EMPLOYEE})
    staff = "staff" if where == "attribute" else "who served you?"  # questions match without case
    mapping = {"attributes": {"employee": staff, "location": "store", "product": "line"}}
    await send_generic(server, body, mapping)
    await assert_served_by(server, slack, product=PRODUCT)


def test_generic_mapping_keeps_what_it_cannot_find_and_the_attribute_limit() -> None:
    def parsed(body: dict[str, Any], mapping: dict[str, Any]) -> dict[str, str]:
        return generic.parse({}, json.dumps(body).encode(), mapping=mapping).attributes

    assert parsed(generic_body(), {"attributes": {"employee": "nosuch"}})["employee"] == EMPLOYEE
    assert parsed(generic_body(), {"attributes": {"staff": "employee"}})["staff"] == EMPLOYEE
    full = {f"k{i}": "v" for i in range(99)} | {"employee": EMPLOYEE}
    capped = parsed(generic_body(attributes=full), {"attributes": {"extra": "employee", "k0": "employee"}})
    assert len(capped) == 100 and "extra" not in capped and capped["k0"] == EMPLOYEE  # replaced, not added


async def test_teams_card_says_served_by(app_with_chats: AppWithChats, fake_teams: FakeBotConnector) -> None:
    channel = {"teams_channel": "19:store@thread.tacv2"}
    async with app_with_chats(teams=True, source=None, default_team=channel) as app:
        body = generic_body(attributes={"staff": EMPLOYEE})
        await send_generic(app, body, {"attributes": {"employee": "staff"}})
        served = {"title": "Served by", "value": EMPLOYEE}
        for _ in range(200):  # the delivery worker posts the card
            cards = [facts(c.body) for c in fake_teams.calls() if facts(c.body)]
            if cards:
                break
            await asyncio.sleep(0.05)
        assert cards and cards[0][0] == served, cards  # the first fact


def facts(body: Any) -> list[Any]:
    """Every fact of every FactSet in an activity."""
    if isinstance(body, dict):
        own = body.get("facts") if body.get("type") == "FactSet" else None
        return [*(own or []), *(f for v in body.values() for f in facts(v))]
    if isinstance(body, list):
        return [f for v in body for f in facts(v)]
    return []
