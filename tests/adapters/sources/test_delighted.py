from __future__ import annotations

import time
from typing import Any

import pytest

from adapters.sources import delighted
from adapters.sources.base import IgnoredEvent, PayloadError, SignatureError
from tests.adapters.sources.conftest import dumps, payload, payload_bytes

SECRET = "delighted-test-secret"
NOW = time.time()
REAL = "delighted_survey_response_updated.json"


def _body(event_type: str | None = None, **event_data: Any) -> bytes:
    doc = payload(REAL)
    if event_type:
        doc["event_type"] = event_type
    doc["event_data"].update(event_data)
    return dumps(doc)


def test_verify_accepts_good_signature_in_any_hex_case() -> None:
    body = payload_bytes(REAL)
    delighted.verify(
        {"x-delighted-webhook-signature": delighted.sign(SECRET, body)}, body, secret=SECRET, now=NOW
    )
    upper = "sha256=" + delighted.sign(SECRET, body).split("=", 1)[1].upper()
    delighted.verify({"x-delighted-webhook-signature": upper}, body, secret=SECRET, now=NOW)


@pytest.mark.parametrize(
    ("header", "reason"),
    [(None, "missing"), ("md5=abc", "sha256="), ("sha256=00ff", "does not match")],
)
def test_verify_rejects_missing_malformed_and_wrong(header: str | None, reason: str) -> None:
    body = payload_bytes(REAL)
    headers = {"x-delighted-webhook-signature": header} if header else {}
    with pytest.raises(SignatureError, match=reason):
        delighted.verify(headers, body, secret=SECRET, now=NOW)


def test_verify_rejects_other_secret_and_tampered_body() -> None:
    body = payload_bytes(REAL)
    with pytest.raises(SignatureError):
        delighted.verify(
            {"x-delighted-webhook-signature": delighted.sign("other", body)}, body, secret=SECRET, now=NOW
        )
    signed = {"x-delighted-webhook-signature": delighted.sign(SECRET, body)}
    with pytest.raises(SignatureError):
        delighted.verify(signed, body.replace(b'"score": 9', b'"score": 0'), secret=SECRET, now=NOW)


def test_parse_real_payload() -> None:
    feedback = delighted.parse({}, payload_bytes(REAL), mapping={})
    assert feedback.external_id == "5435"
    assert feedback.nps == 9
    assert feedback.comment == "Your service is fast and flawless!"
    assert (feedback.customer.id, feedback.customer.name, feedback.customer.email) == (
        "5975",
        "Charlie Gravis",
        "charlie_gravis@example.com",
    )
    assert feedback.attributes == {"permalink": "https://delighted.com/r/5pFDpmlyC8GUc5oxU6USto5VonSKAqOa"}
    assert (
        feedback.submitted_at is not None and feedback.submitted_at.isoformat() == "2016-12-24T14:23:29+00:00"
    )
    assert feedback.partial is False


def test_created_without_comment_is_partial_and_with_comment_is_not() -> None:
    assert delighted.parse({}, _body("survey_response.created", comment=None), mapping={}).partial is True
    assert delighted.parse({}, _body("survey_response.created", comment="  "), mapping={}).partial is True
    assert delighted.parse({}, _body("survey_response.created"), mapping={}).partial is False


def test_person_properties_become_string_attributes() -> None:
    props = {"Store": "042", "Seats": 12, "Trial": True, "Delighted Source": "Email", "Gone": None}
    feedback = delighted.parse({}, _body(person_properties=props, tags=["vip", "north"]), mapping={})
    assert feedback.attributes["Store"] == "042"
    assert feedback.attributes["Seats"] == "12"
    assert feedback.attributes["Trial"] == "true"
    assert feedback.attributes["tags"] == "vip, north"
    assert "Gone" not in feedback.attributes


ADDITIONAL = [
    {
        "id": "aa1",
        "value": {"free_response": None, "scale": None, "select_one": {"id": "c1", "text": "Yes, call me"}},
        "question": {"id": "q_contact", "type": "select_one", "text": "May we contact you?"},
    },
    {
        "id": "aa2",
        "value": {"scale": 2},
        "question": {"id": "q_speed", "type": "scale", "text": "How fast was delivery?"},
    },
    {
        "id": "aa3",
        "value": {"select_many": [{"id": "x", "text": "Price"}, {"id": "y", "text": "Staff"}]},
        "question": {"id": "q_why", "type": "select_many", "text": "What mattered?"},
    },
]


def test_additional_answers_become_answers_and_drive_contact() -> None:
    feedback = delighted.parse({}, _body(additional_answers=ADDITIONAL), mapping={})
    by_ref = {a.ref: a for a in feedback.answers}
    assert by_ref["q_contact"].value == "Yes, call me"
    assert by_ref["q_speed"].value == 2 and by_ref["q_speed"].question == "How fast was delivery?"
    assert by_ref["q_why"].value == "Price, Staff"
    assert feedback.contact_requested is True


def test_mapping_overrides_and_adds_attributes() -> None:
    mapping = {"nps": "q_speed", "contact": "q_why", "attributes": {"store": "Store"}}
    body = _body(additional_answers=ADDITIONAL, person_properties={"Store": "042"})
    feedback = delighted.parse({}, body, mapping=mapping)
    assert (feedback.nps, feedback.contact_requested, feedback.attributes["store"]) == (2, False, "042")


def test_non_nps_survey_types_do_not_set_nps() -> None:
    feedback = delighted.parse({}, _body(survey_type="csat", score=2), mapping={})
    assert feedback.nps is None
    score = next(a for a in feedback.answers if a.ref == "score")
    assert (score.value, score.kind, score.scale_min, score.scale_max) == (2, "csat", 1, 5)


def test_other_events_are_ignored_and_bad_shapes_are_422() -> None:
    with pytest.raises(IgnoredEvent):
        delighted.parse({}, dumps({"event_type": "unsubscribe.created", "event_data": {}}), mapping={})
    bad_bodies = [
        {"event_type": "survey_response.created"},
        {"event_type": "survey_response.created", "event_data": {"score": 3}},
        {"event_type": 7, "event_data": {}},
        {"event_type": "survey_response.created", "event_data": {"id": "1", "additional_answers": "x"}},
    ]
    for bad in bad_bodies:
        with pytest.raises(PayloadError) as info:
            delighted.parse({}, dumps(bad), mapping={})
        assert info.value.status == 422
