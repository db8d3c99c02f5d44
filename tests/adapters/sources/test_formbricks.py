from __future__ import annotations

import base64
from typing import Any

import pytest

from adapters.sources import formbricks
from adapters.sources.base import IgnoredEvent, PayloadError, SignatureError
from tests.adapters.sources.conftest import dumps, payload, payload_bytes

KEY = b"formbricks-test-key-32-bytes!!!!"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NOW = 1_753_343_276
MSG_ID = "msg_2abc"


def _headers(body: bytes, secret: str = SECRET, ts: int = NOW, msg_id: str = MSG_ID) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": formbricks.sign(secret, body, msg_id=msg_id, timestamp=ts),
    }


def _finished(**data: Any) -> bytes:
    doc = payload("formbricks_responseFinished.json")
    doc["data"].update(data)
    return dumps(doc)


# --- verify --------------------------------------------------------------------------------------


def test_verify_accepts_good_signatures() -> None:
    body = payload_bytes("formbricks_responseFinished.json")
    formbricks.verify(_headers(body), body, secret=SECRET, now=NOW + 299)
    formbricks.verify(_headers(body), body, secret=SECRET, now=NOW - 299)


def test_verify_accepts_any_of_several_signatures_during_rotation() -> None:
    body = payload_bytes("formbricks_responseCreated.json")
    headers = _headers(body)
    old = _headers(body, secret="whsec_" + base64.b64encode(b"old-key").decode())["webhook-signature"]
    headers["webhook-signature"] = f"{old} v1a,ignored {headers['webhook-signature']}"
    formbricks.verify(headers, body, secret=SECRET, now=NOW)


def test_verify_accepts_a_raw_secret_without_prefix() -> None:
    body = payload_bytes("formbricks_responseCreated.json")
    formbricks.verify(_headers(body, secret="plain secret"), body, secret="plain secret", now=NOW)
    bare_base64 = SECRET.removeprefix("whsec_")  # the whsec_ key pasted without its prefix
    formbricks.verify(_headers(body), body, secret=bare_base64, now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_rejects_missing_headers(missing: str) -> None:
    body = payload_bytes("formbricks_responseFinished.json")
    headers = _headers(body)
    del headers[missing]
    with pytest.raises(SignatureError, match="missing"):
        formbricks.verify(headers, body, secret=SECRET, now=NOW)


@pytest.mark.parametrize("now", [NOW + 301, NOW - 301])
def test_verify_rejects_stale_and_future_timestamps(now: int) -> None:
    body = payload_bytes("formbricks_responseFinished.json")
    with pytest.raises(SignatureError, match="300-second"):
        formbricks.verify(_headers(body), body, secret=SECRET, now=now)


def test_verify_rejects_other_secret_tampering_and_garbage() -> None:
    body = payload_bytes("formbricks_responseFinished.json")
    other = "whsec_" + base64.b64encode(b"another-key").decode()
    with pytest.raises(SignatureError, match="does not match"):
        formbricks.verify(_headers(body, secret=other), body, secret=SECRET, now=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        formbricks.verify(_headers(body), body.replace(b"DE", b"FR"), secret=SECRET, now=NOW)
    headers = _headers(body)
    headers["webhook-id"] = "msg_other"  # the id is signed too
    with pytest.raises(SignatureError, match="does not match"):
        formbricks.verify(headers, body, secret=SECRET, now=NOW)
    with pytest.raises(SignatureError, match="unix seconds"):
        formbricks.verify({**_headers(body), "webhook-timestamp": "soon"}, body, secret=SECRET, now=NOW)
    with pytest.raises(SignatureError, match="no v1"):
        formbricks.verify({**_headers(body), "webhook-signature": "v2,abc"}, body, secret=SECRET, now=NOW)
    with pytest.raises(SignatureError, match="base64"):
        formbricks.verify(_headers(body), body, secret="whsec_%%%", now=NOW)


# --- parse ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "partial"),
    [
        ("formbricks_responseCreated.json", True),
        ("formbricks_responseUpdated.json", True),
        ("formbricks_responseFinished.json", False),
    ],
)
def test_parse_real_payloads(name: str, partial: bool) -> None:
    feedback = formbricks.parse({}, payload_bytes(name), mapping={})
    assert feedback.external_id == "responseId"
    assert feedback.partial is partial
    assert feedback.attributes["survey"] == "Customer Satisfaction Survey"
    assert feedback.attributes["country"] == "DE"
    assert feedback.attributes["url"] == "https://app.formbricks.com/s/surveyId"
    assert (feedback.attributes["browser"], feedback.attributes["device"]) == ("Chrome", "desktop")
    assert feedback.nps is None


def test_parse_finished_answers_and_time() -> None:
    feedback = formbricks.parse({}, payload_bytes("formbricks_responseFinished.json"), mapping={})
    assert {a.ref: a.value for a in feedback.answers} == {
        "newsletter_consent": "accepted",
        "welcome_card_cta": "clicked",
    }
    assert feedback.submitted_at is not None and feedback.submitted_at.isoformat().startswith(
        "2025-07-24T07:47:56"
    )


def test_nps_contact_comment_and_customer_are_detected() -> None:
    body = _finished(
        data={"nps": 2, "contact_me": "Yes", "comment": "Rude staff", "q_email": "ann@example.com"},
        contact={"id": "ct_1", "userId": "user-77"},
        contactAttributes={"email": "ann@example.com", "firstName": "Ann", "lastName": "Lee", "plan": "gold"},
        variables={"store": "042"},
    )
    feedback = formbricks.parse({}, body, mapping={})
    assert feedback.nps == 2
    assert feedback.contact_requested is True
    assert feedback.comment == "Rude staff"
    assert (feedback.customer.id, feedback.customer.email, feedback.customer.name) == (
        "user-77",
        "ann@example.com",
        "Ann Lee",
    )
    assert feedback.attributes["plan"] == "gold"
    assert feedback.attributes["store"] == "042"
    nps_answer = next(a for a in feedback.answers if a.ref == "nps")
    assert (nps_answer.kind, nps_answer.scale_min, nps_answer.scale_max) == ("nps", 0, 10)


def test_out_of_range_nps_key_is_not_an_nps() -> None:
    assert formbricks.parse({}, _finished(data={"nps": 42}), mapping={}).nps is None


def test_mapping_overrides_detection() -> None:
    body = _finished(data={"q1x": 6, "q2y": "accepted", "q3z": "Slow", "hidden_store": 17, "nps": 9})
    mapping = {"nps": "q1x", "contact": "q2y", "comment": "q3z", "attributes": {"store": "hidden_store"}}
    feedback = formbricks.parse({}, body, mapping=mapping)
    assert (feedback.nps, feedback.contact_requested, feedback.comment) == (6, True, "Slow")
    assert feedback.attributes["store"] == "17"


def test_other_events_are_ignored_and_bad_shapes_are_422() -> None:
    doc = payload("formbricks_responseFinished.json")
    with pytest.raises(IgnoredEvent):
        formbricks.parse({}, dumps({**doc, "event": "testEndpoint"}), mapping={})
    for bad in (
        {**doc, "event": None},
        {**doc, "data": "x"},
        {**doc, "data": {**doc["data"], "data": [1]}},
        {**doc, "data": {**doc["data"], "id": None}},
    ):
        with pytest.raises(PayloadError) as info:
            formbricks.parse({}, dumps(bad), mapping={})
        assert info.value.status == 422
