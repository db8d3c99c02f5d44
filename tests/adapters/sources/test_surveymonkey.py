from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.sources import surveymonkey
from adapters.sources.base import FetchNeeded, IgnoredEvent, PayloadError, SignatureError, SourceConfig
from tests.adapters.sources.conftest import FakeApi, dumps

SECRET = "sm-client-id&sm-api-secret"
TOKEN = "sm-access-token"
NOW = time.time()
# The shape SurveyMonkey documents for a webhook callback.
EVENT = {
    "name": "hotloop",
    "filter_type": "survey",
    "filter_id": "405060",
    "event_type": "response_completed",
    "event_id": "9001",
    "object_type": "response",
    "object_id": "11223344",
    "event_datetime": "2026-11-20T09:55:00.182613+00:00",
    "resources": {
        "respondent_id": "11223344",
        "recipient_id": "0",
        "user_id": "77",
        "collector_id": "5566",
        "survey_id": "405060",
    },
}
BODY = dumps(EVENT)
RESPONSE_PATH = "/v3/surveys/405060/responses/11223344/details"
SURVEY_PATH = "/v3/surveys/405060/details"
NPS_CHOICES = [{"id": f"n{i}", "text": str(i), "position": i + 1} for i in range(11)]
SURVEY = {
    "id": "405060",
    "title": "Store visit",
    "pages": [
        {
            "id": "p1",
            "questions": [
                {
                    "id": "q_nps",
                    "family": "matrix",
                    "subtype": "rating",
                    "headings": [{"heading": "<b>How likely</b> are you to recommend our store?"}],
                    "answers": {"rows": [{"id": "r1", "text": ""}], "choices": NPS_CHOICES},
                },
                {
                    "id": "q_contact",
                    "family": "single_choice",
                    "subtype": "vertical",
                    "headings": [{"heading": "May we contact you about your visit?"}],
                    "answers": {"choices": [{"id": "y", "text": "Yes"}, {"id": "n", "text": "No"}]},
                },
                {
                    "id": "q_why",
                    "family": "open_ended",
                    "subtype": "essay",
                    "headings": [{"heading": "What should we improve?"}],
                },
                {
                    "id": "q_mail",
                    "family": "open_ended",
                    "subtype": "single",
                    "headings": [{"heading": "Your email address"}],
                },
            ],
        }
    ],
}
RESPONSE = {
    "id": "11223344",
    "survey_id": "405060",
    "collector_id": "5566",
    "response_status": "completed",
    "custom_value": "cust-9",
    "first_name": "Fox",
    "last_name": "Mulder",
    "email_address": "",
    "ip_address": "203.0.113.9",
    "custom_variables": {"store": "042"},
    "date_modified": "2026-11-20T09:55:00+00:00",
    "pages": [
        {
            "id": "p1",
            "questions": [
                {"id": "q_nps", "answers": [{"row_id": "r1", "choice_id": "n4"}]},
                {"id": "q_contact", "answers": [{"choice_id": "y"}]},
                {"id": "q_why", "answers": [{"text": "Queue at checkout"}]},
                {"id": "q_mail", "answers": [{"text": "fox@example.com"}]},
            ],
        }
    ],
}


@pytest.fixture(autouse=True)
def _no_cached_surveys() -> Iterator[None]:
    surveymonkey._survey_cache.clear()
    yield
    surveymonkey._survey_cache.clear()


# --- verify / parse ------------------------------------------------------------------------------


def test_verify_accepts_the_client_id_and_secret_key() -> None:
    surveymonkey.verify({"sm-signature": surveymonkey.sign(SECRET, BODY)}, BODY, secret=SECRET, now=NOW)


def test_verify_rejects_missing_wrong_other_secret_and_tampered() -> None:
    with pytest.raises(SignatureError, match="missing"):
        surveymonkey.verify({}, BODY, secret=SECRET, now=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        surveymonkey.verify({"sm-signature": "AAAA"}, BODY, secret=SECRET, now=NOW)
    only_secret = surveymonkey.sign("sm-api-secret", BODY)  # keyed without the client id
    with pytest.raises(SignatureError):
        surveymonkey.verify({"sm-signature": only_secret}, BODY, secret=SECRET, now=NOW)
    signed = {"sm-signature": surveymonkey.sign(SECRET, BODY)}
    with pytest.raises(SignatureError):
        surveymonkey.verify(signed, BODY.replace(b"11223344", b"11223345"), secret=SECRET, now=NOW)


def test_parse_returns_fetch_needed() -> None:
    needed = surveymonkey.parse({}, BODY, mapping={})
    assert needed == FetchNeeded(
        external_id="11223344", ref={"survey_id": "405060", "response_id": "11223344"}
    )


def test_parse_ignores_other_events_and_rejects_bad_shapes() -> None:
    for event in ("collector_created", "response_deleted", "app_uninstalled"):
        with pytest.raises(IgnoredEvent):
            surveymonkey.parse({}, dumps({**EVENT, "event_type": event}), mapping={})
    bad = [
        {**EVENT, "resources": None},
        {**EVENT, "object_id": "../1"},
        {**EVENT, "event_type": None},
        {**EVENT, "resources": {"survey_id": "1/2"}},
    ]
    for body in bad:
        with pytest.raises(PayloadError) as info:
            surveymonkey.parse({}, dumps(body), mapping={})
        assert info.value.status == 422


# --- fetch against a loopback API ----------------------------------------------------------------


@pytest.fixture
def api(fake_api: FakeApi) -> FakeApi:
    fake_api.required_header = ("Authorization", f"Bearer {TOKEN}")
    fake_api.routes[RESPONSE_PATH] = (200, RESPONSE)
    fake_api.routes[SURVEY_PATH] = (200, SURVEY)
    return fake_api


def _config(api: FakeApi, mapping: dict[str, Any] | None = None, token: str = TOKEN) -> SourceConfig:
    return SourceConfig(
        name="sm", kind="surveymonkey", secret=SECRET, mapping=mapping or {}, api_url=api.url, api_token=token
    )


async def _fetch(config: SourceConfig) -> Any:
    async with httpx.AsyncClient(timeout=5) as client:
        return await surveymonkey.fetch(client, config, surveymonkey.parse({}, BODY, mapping={}))


async def test_fetch_detects_nps_contact_comment_and_customer(api: FakeApi) -> None:
    feedback = await _fetch(_config(api))
    assert feedback.external_id == "11223344"
    assert feedback.nps == 4
    assert feedback.contact_requested is True
    assert feedback.comment == "Queue at checkout"
    assert (feedback.customer.id, feedback.customer.name, feedback.customer.email) == (
        "cust-9",
        "Fox Mulder",
        "fox@example.com",
    )
    assert feedback.attributes == {
        "survey": "Store visit",
        "survey_id": "405060",
        "collector_id": "5566",
        "store": "042",
    }
    assert feedback.partial is False
    nps = next(a for a in feedback.answers if a.ref == "q_nps")
    assert nps.question == "How likely are you to recommend our store?"  # HTML stripped
    assert (nps.kind, nps.value, nps.scale_min, nps.scale_max) == ("nps", 4, 0, 10)


async def test_survey_details_are_cached(api: FakeApi) -> None:
    await _fetch(_config(api))
    await _fetch(_config(api))
    assert api.seen.count(SURVEY_PATH) == 1
    assert api.seen.count(RESPONSE_PATH) == 2


async def test_mapping_overrides_detection(api: FakeApi) -> None:
    mapping = {
        "contact": "q_why",
        "comment": "q_mail",
        "customer_email": "q_mail",
        "attributes": {"loc": "store"},
    }
    feedback = await _fetch(_config(api, mapping))
    assert feedback.contact_requested is False
    assert feedback.comment == "fox@example.com"
    assert feedback.attributes["loc"] == "042"


async def test_without_survey_details_mapping_still_works(api: FakeApi) -> None:
    api.routes[SURVEY_PATH] = (403, {"error": "scope surveys_read missing"})
    feedback = await _fetch(_config(api, {"comment": "q_why"}))
    assert feedback.comment == "Queue at checkout"
    assert feedback.nps is None  # no choice texts to read a score from
    assert {a.ref: a.value for a in feedback.answers}["q_contact"] == "y"


async def test_partial_responses_are_marked(api: FakeApi) -> None:
    api.routes[RESPONSE_PATH] = (200, {**RESPONSE, "response_status": "partial"})
    assert (await _fetch(_config(api))).partial is True


async def test_wrong_token_and_server_errors_raise_http_errors_to_retry(api: FakeApi) -> None:
    with pytest.raises(httpx.HTTPStatusError):
        await _fetch(_config(api, token="wrong"))
    api.routes[SURVEY_PATH] = (503, {"error": "busy"})
    with pytest.raises(httpx.HTTPStatusError):
        await _fetch(_config(api))
