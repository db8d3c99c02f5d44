from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from adapters.sources import typeform
from adapters.sources.base import IgnoredEvent, PayloadError, SignatureError
from tests.adapters.sources.conftest import dumps, payload, payload_bytes

SECRET = "tf-test-secret"
NOW = time.time()


def _signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"typeform-signature": typeform.sign(secret, body)}


def _with(fields: list[dict[str, Any]], answers: list[dict[str, Any]]) -> bytes:
    data = payload("typeform_form_response.json")
    data["form_response"]["definition"]["fields"] += fields
    data["form_response"]["answers"] += answers
    return dumps(data)


# --- verify --------------------------------------------------------------------------------------


def test_verify_accepts_the_signed_real_payload() -> None:
    body = payload_bytes("typeform_form_response.json")
    typeform.verify(_signed(body), body, secret=SECRET, now=NOW)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"typeform-signature": "sha1=abc"}, "sha256="),
        ({"typeform-signature": "sha256="}, "sha256="),
        ({"typeform-signature": "sha256=bm90LWl0"}, "does not match"),
    ],
)
def test_verify_rejects_missing_or_malformed_headers(headers: dict[str, str], reason: str) -> None:
    body = payload_bytes("typeform_form_response.json")
    with pytest.raises(SignatureError, match=reason):
        typeform.verify(headers, body, secret=SECRET, now=NOW)


def test_verify_rejects_another_secret_and_a_tampered_body() -> None:
    body = payload_bytes("typeform_form_response.json")
    with pytest.raises(SignatureError):
        typeform.verify(_signed(body, "someone-else"), body, secret=SECRET, now=NOW)
    with pytest.raises(SignatureError):
        typeform.verify(_signed(body), body.replace(b"Laura", b"Mallory"), secret=SECRET, now=NOW)


# --- parse: the real payload ---------------------------------------------------------------------


def test_parse_real_payload() -> None:
    feedback = typeform.parse({}, payload_bytes("typeform_form_response.json"), mapping={})
    assert feedback.external_id == "a3a12ec67a1365927098a606107fac15"
    assert (
        feedback.submitted_at is not None and feedback.submitted_at.isoformat() == "2018-01-18T18:17:02+00:00"
    )
    assert feedback.customer.email == "laura@example.com"
    assert feedback.comment is not None and feedback.comment.startswith("It's cold right now!")
    assert feedback.nps is None  # no recommend question in this form
    assert feedback.contact_requested is False  # the yes/no question is about cities
    assert feedback.attributes == {
        "form_id": "lT4Z3j",
        "survey": "Webhooks example",
        "user_id": "abc123456",
        "score": "4",
        "name": "typeform",
    }
    assert feedback.partial is False
    by_ref = {a.ref: a for a in feedback.answers}
    assert len(feedback.answers) == 13
    assert by_ref["PNe8ZKBK8C2Q"].value == "London, Sydney"
    assert by_ref["k6TP9oLGgHjl"].value == "London"
    assert by_ref["RUqkXSeXBXSd"].value is False
    assert by_ref["WOTdC00F8A3h"].question.startswith("How would you rate the weather")
    assert by_ref["WOTdC00F8A3h"].value == 3


def test_answers_are_matched_by_field_id_not_position() -> None:
    data = payload("typeform_form_response.json")
    data["form_response"]["answers"].reverse()
    data["form_response"]["definition"]["fields"].insert(
        0, data["form_response"]["definition"]["fields"].pop()
    )
    feedback = typeform.parse({}, dumps(data), mapping={})
    by_ref = {a.ref: a for a in feedback.answers}
    assert by_ref["NRsxU591jIW9"].question.startswith("How important is the weather")
    assert by_ref["NRsxU591jIW9"].value == 2
    assert feedback.customer.email == "laura@example.com"


# --- parse: detection ----------------------------------------------------------------------------

NPS_FIELD = {
    "id": "npsQ",
    "ref": "nps_ref",
    "title": "How likely are you to recommend us to a friend?",
    "type": "opinion_scale",
    "properties": {"steps": 11, "start_at_one": False},
}
CONTACT_FIELD = {"id": "okQ", "title": "May we contact you about your visit?", "type": "yes_no"}
PHONE_FIELD = {"id": "telQ", "title": "Your phone", "type": "phone_number"}


def test_recommend_opinion_scale_is_nps_and_yes_to_contact_requests_contact() -> None:
    body = _with(
        [NPS_FIELD, CONTACT_FIELD, PHONE_FIELD],
        [
            {"type": "number", "number": 3, "field": {"id": "npsQ", "type": "opinion_scale"}},
            {"type": "boolean", "boolean": True, "field": {"id": "okQ", "type": "yes_no"}},
            {"type": "phone_number", "phone_number": "+15551234567", "field": {"id": "telQ"}},
        ],
    )
    feedback = typeform.parse({}, body, mapping={})
    assert feedback.nps == 3
    assert feedback.contact_requested is True
    assert feedback.customer.phone == "+15551234567"
    nps_answer = next(a for a in feedback.answers if a.ref == "npsQ")
    assert (nps_answer.kind, nps_answer.scale_min, nps_answer.scale_max) == ("nps", 0, 10)


def test_opinion_scale_scale_comes_from_the_definition() -> None:
    field = {
        **NPS_FIELD,
        "id": "fiveQ",
        "title": "How was the food?",
        "properties": {"steps": 5, "start_at_one": True},
    }
    body = _with(
        [field], [{"type": "number", "number": 2, "field": {"id": "fiveQ", "type": "opinion_scale"}}]
    )
    answer = next(a for a in typeform.parse({}, body, mapping={}).answers if a.ref == "fiveQ")
    assert (answer.scale_min, answer.scale_max, answer.position) == (1, 5, 0.25)


def test_a_ten_step_recommend_scale_starting_at_one_is_not_nps() -> None:
    field = {**NPS_FIELD, "properties": {"steps": 10, "start_at_one": True}}
    body = _with([field], [{"type": "number", "number": 3, "field": {"id": "npsQ", "type": "opinion_scale"}}])
    assert typeform.parse({}, body, mapping={}).nps is None


def test_contact_question_answered_no_does_not_request_contact() -> None:
    body = _with([CONTACT_FIELD], [{"type": "boolean", "boolean": False, "field": {"id": "okQ"}}])
    assert typeform.parse({}, body, mapping={}).contact_requested is False


def test_mapping_overrides_detection() -> None:
    mapping = {
        "nps": "readable_ref_opinion_scale",
        "comment": "readable_ref_short_text",
        "customer_name": "JwWggjAKtOkA",
        "contact": "readable_ref_legal",
        "attributes": {"city": "readable_ref_multiple_choice", "uid": "user_id"},
    }
    feedback = typeform.parse({}, payload_bytes("typeform_form_response.json"), mapping=mapping)
    assert feedback.nps == 2
    assert feedback.comment == "Laura"
    assert feedback.customer.name == "Laura"
    assert feedback.contact_requested is True
    assert feedback.attributes["city"] == "London"
    assert feedback.attributes["uid"] == "abc123456"


# --- parse: events and bad shapes ----------------------------------------------------------------


def test_other_event_types_are_ignored() -> None:
    data = payload("typeform_form_response.json")
    data["event_type"] = "form_response_partial"
    with pytest.raises(IgnoredEvent):
        typeform.parse({}, dumps(data), mapping={})


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda d: d.pop("event_type"), 422),
        (lambda d: d.__setitem__("form_response", []), 422),
        (lambda d: d["form_response"].pop("token"), 422),
        (lambda d: d["form_response"].__setitem__("token", ""), 422),
        (lambda d: d["form_response"].__setitem__("token", "x" * 300), 422),
        (lambda d: d["form_response"].__setitem__("answers", {"a": 1}), 422),
    ],
)
def test_wrong_shapes_are_422(mutate: Any, status: int) -> None:
    data = copy.deepcopy(payload("typeform_form_response.json"))
    mutate(data)
    with pytest.raises(PayloadError) as info:
        typeform.parse({}, dumps(data), mapping={})
    assert info.value.status == status


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b"\xff\xfe", b"[" * 100])
def test_undecodable_bodies_are_400(body: bytes) -> None:
    with pytest.raises(PayloadError) as info:
        typeform.parse({}, body, mapping={})
    assert info.value.status == 400
