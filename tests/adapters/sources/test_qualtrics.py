from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from adapters.sources import qualtrics
from adapters.sources.base import (
    FetchNeeded,
    IgnoredEvent,
    PayloadError,
    SignatureError,
    SourceConfig,
    SourceError,
)
from tests.adapters.sources.conftest import FakeApi

SECRET = "qualtrics-shared-key"
TOKEN = "qualtrics-api-token"
NOW = time.time()
TOPIC = "surveyengine.completedResponse.SV_abc123"
# what a real event subscription sends: the brand id first (the documentation's examples omit it)
BRAND_TOPIC = "acme.surveyengine.completedResponse.SV_abc123"
MSG = json.dumps(
    {
        "Status": "Complete",
        "SurveyID": "SV_abc123",
        "ResponseID": "R_1xyz",
        "CompletedDate": "2026-11-20 09:55:00",
        "BrandID": "acme",
    }
)
RESPONSE_PATH = "/API/v3/surveys/SV_abc123/responses/R_1xyz"
API_RESPONSE = {
    "result": {
        "responseId": "R_1xyz",
        "values": {
            "startDate": "2026-11-20T09:50:00Z",
            "endDate": "2026-11-20T09:55:00Z",
            "recordedDate": "2026-11-20T09:55:01.123Z",
            "status": 0,
            "ipAddress": "203.0.113.9",
            "progress": 100,
            "finished": 1,
            "_recordId": "R_1xyz",
            "distributionChannel": "email",
            "userLanguage": "EN",
            "recipientEmail": "dana@example.com",
            "recipientFirstName": "Dana",
            "recipientLastName": "Scully",
            "externalDataReference": "c-77",
            "QID1": 3,
            "QID1_NPS_GROUP": 1,
            "QID2": 2,
            "QID3_TEXT": "Waited 40 minutes.",
            "QID5": 1,
            "QID4_DO": ["1", "2"],
            "StoreID": "042",
            "Region": "north",
        },
        "labels": {"QID1": "3", "QID1_NPS_GROUP": "Detractor", "QID2": "Dissatisfied", "QID5": "Yes"},
    },
    "meta": {"httpStatus": "200 - OK", "requestId": "req-1"},
}
MAPPING = {"nps": "QID1", "contact": "QID5", "comment": "QID3_TEXT", "attributes": {"location": "StoreID"}}


def _config(api: FakeApi, mapping: dict[str, Any] | None = None, **kw: Any) -> SourceConfig:
    settings: dict[str, Any] = {"api_url": api.url, "api_token": TOKEN} | kw
    return SourceConfig(name="q", kind="qualtrics", secret=SECRET, mapping=mapping or {}, **settings)


# --- verify --------------------------------------------------------------------------------------


def test_verify_accepts_hmac_of_msg() -> None:
    body = qualtrics.form_body(TOPIC, MSG, SECRET)
    qualtrics.verify({}, body, secret=SECRET, now=NOW)
    upper = urlencode({"Topic": TOPIC, "MSG": MSG, "HMAC": qualtrics.sign(SECRET, MSG).upper()}).encode()
    qualtrics.verify({}, upper, secret=SECRET, now=NOW)


def test_verify_rejects_missing_wrong_and_tampered() -> None:
    with pytest.raises(SignatureError, match="shared key"):
        qualtrics.verify({}, qualtrics.form_body(TOPIC, MSG, None), secret=SECRET, now=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        qualtrics.verify({}, qualtrics.form_body(TOPIC, MSG, "other-key"), secret=SECRET, now=NOW)
    tampered = urlencode(
        {"Topic": TOPIC, "MSG": MSG.replace("R_1xyz", "R_2"), "HMAC": qualtrics.sign(SECRET, MSG)}
    )
    with pytest.raises(SignatureError, match="does not match"):
        qualtrics.verify({}, tampered.encode(), secret=SECRET, now=NOW)
    with pytest.raises(SignatureError, match="MSG"):
        qualtrics.verify({}, urlencode({"HMAC": "00"}).encode(), secret=SECRET, now=NOW)
    with pytest.raises(SignatureError, match="form-encoded"):
        qualtrics.verify({}, b"\xff\xfe", secret=SECRET, now=NOW)


# --- parse ---------------------------------------------------------------------------------------


def test_parse_returns_fetch_needed_with_ids() -> None:
    needed = qualtrics.parse({}, qualtrics.form_body(TOPIC, MSG, SECRET), mapping={})
    assert needed == FetchNeeded(
        external_id="R_1xyz", ref={"survey_id": "SV_abc123", "response_id": "R_1xyz"}
    )


def test_parse_accepts_the_real_topic_with_the_brand_id_first() -> None:
    for topic in (BRAND_TOPIC, "acme.surveyengine.completedResponse", "surveyengine.completedResponse"):
        needed = qualtrics.parse({}, qualtrics.form_body(topic, MSG, SECRET), mapping={})
        assert needed.external_id == "R_1xyz", topic


def test_parse_ignores_other_topics_and_rejects_bad_bodies() -> None:
    for topic in ("controlpanel.activateSurvey", "acme.surveyengine.partialResponse.SV_abc123",
                  "acme.controlpanel.completedResponse.SV_abc123", "surveyengine"):
        with pytest.raises(IgnoredEvent):
            qualtrics.parse({}, qualtrics.form_body(topic, MSG, SECRET), mapping={})
    cases = [
        (b"\xff", 400),
        (qualtrics.form_body(TOPIC, "not json", None), 400),
        (qualtrics.form_body(TOPIC, "[1]", None), 400),
        (urlencode({"MSG": MSG}).encode(), 422),
        (qualtrics.form_body(TOPIC, json.dumps({"SurveyID": "SV_1"}), None), 422),
        # ids go into an API path: no traversal, no query strings
        (qualtrics.form_body(TOPIC, json.dumps({"SurveyID": "../../admin", "ResponseID": "R_1"}), None), 422),
        (qualtrics.form_body(TOPIC, json.dumps({"SurveyID": "SV_1", "ResponseID": "R_1?x=1"}), None), 422),
    ]
    for body, status in cases:
        with pytest.raises(PayloadError) as info:
            qualtrics.parse({}, body, mapping={})
        assert info.value.status == status, body


# --- fetch against a loopback API ----------------------------------------------------------------


@pytest.fixture
def api(fake_api: FakeApi) -> FakeApi:
    fake_api.required_header = ("X-API-TOKEN", TOKEN)
    fake_api.routes[RESPONSE_PATH] = (200, API_RESPONSE)
    return fake_api


async def _fetch(config: SourceConfig) -> Any:
    needed = qualtrics.parse({}, qualtrics.form_body(TOPIC, MSG, SECRET), mapping=config.mapping)
    async with httpx.AsyncClient(timeout=5) as client:
        return await qualtrics.fetch(client, config, needed)


async def test_fetch_maps_values_with_the_source_mapping(api: FakeApi) -> None:
    feedback = await _fetch(_config(api, MAPPING))
    assert api.seen == [RESPONSE_PATH]
    assert feedback.external_id == "R_1xyz"
    assert feedback.nps == 3
    assert feedback.contact_requested is True
    assert feedback.comment == "Waited 40 minutes."
    assert feedback.attributes["location"] == "042"
    assert feedback.attributes["Region"] == "north"
    assert feedback.attributes["survey_id"] == "SV_abc123"
    assert "ipAddress" not in feedback.attributes and "203.0.113.9" not in feedback.attributes.values()
    assert (feedback.customer.email, feedback.customer.name, feedback.customer.id) == (
        "dana@example.com",
        "Dana Scully",
        "c-77",
    )
    assert feedback.submitted_at is not None and feedback.submitted_at.isoformat().startswith(
        "2026-11-20T09:55:01"
    )
    answers = {a.ref: a for a in feedback.answers}
    assert answers["QID2"].value == "Dissatisfied"
    assert answers["QID5"].value == "Yes"
    assert "QID1_NPS_GROUP" not in answers and "QID4_DO" not in answers


async def test_fetch_detects_nps_from_nps_group_without_mapping(api: FakeApi) -> None:
    feedback = await _fetch(_config(api))
    assert feedback.nps == 3
    assert feedback.comment == "Waited 40 minutes."  # the text-entry question
    assert feedback.contact_requested is False  # no question texts: contact needs the mapping
    nps = next(a for a in feedback.answers if a.ref == "QID1")
    assert (nps.kind, nps.scale_min, nps.scale_max) == ("nps", 0, 10)


async def test_fetch_accepts_an_api_url_that_already_ends_in_api_v3(api: FakeApi) -> None:
    feedback = await _fetch(_config(api, MAPPING, api_url=api.url + "/API/v3/"))
    assert feedback.nps == 3


async def test_fetch_with_a_wrong_token_raises_an_http_error_to_retry(api: FakeApi) -> None:
    with pytest.raises(httpx.HTTPStatusError) as info:
        await _fetch(_config(api, api_token="wrong"))
    assert info.value.response.status_code == 401


async def test_fetch_with_a_malformed_api_answer_is_a_payload_error(api: FakeApi) -> None:
    api.routes[RESPONSE_PATH] = (200, {"result": {"values": [1, 2]}})
    with pytest.raises(PayloadError):
        await _fetch(_config(api))


async def test_fetch_needs_api_url_and_token(api: FakeApi) -> None:
    with pytest.raises(SourceError, match="api-url"):
        await _fetch(_config(api, api_url=None))
    with pytest.raises(SourceError, match="api-token"):
        await _fetch(_config(api, api_token=None))
