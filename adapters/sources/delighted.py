"""Delighted webhooks (`kind: delighted`): `survey_response.created` / `survey_response.updated`.

Signature: `X-Delighted-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`.
The score arrives in `created`; the comment usually only in a later `updated` for the same
response id, so a `created` without a comment is marked partial and the update completes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.sources.base import (
    PayloadError,
    event_name,
    hmac_digest,
    load_json_object,
    verify_sha256_header,
)
from adapters.sources.mapping import (
    Draft,
    Item,
    as_dict,
    as_list,
    build,
    mentions_contact,
    mentions_nps,
    nps_value,
    scalar,
    text,
    timestamp,
)
from bot.domain import FeedbackIn

kind = "delighted"
SIGNATURE_HEADER = "x-delighted-webhook-signature"
_EVENTS = {"survey_response.created", "survey_response.updated"}
_NPS_TYPES = (None, "nps", "enps")  # a tuple: survey_type may be any JSON value
# Score ranges of Delighted's other survey types: the score becomes a scaled answer, not an NPS.
_SCALES: dict[str, tuple[float, float]] = {
    "csat": (1, 5),
    "ces": (1, 7),
    "smileys": (1, 5),
    "five_star": (1, 5),
}


def sign(secret: str, body: bytes) -> str:
    """The `X-Delighted-Webhook-Signature` header value for `body`."""
    return "sha256=" + hmac_digest(secret.encode(), body).hex()


def verify(headers: Mapping[str, str], body: bytes, *, secret: str, now: float) -> None:
    verify_sha256_header(headers, name=SIGNATURE_HEADER, label="X-Delighted-Webhook-Signature",
                         platform="Delighted", expected=sign(secret, body), hex_digest=True)


def _additional(entry: object) -> Item | None:
    """One `additional_answers[]` entry: {question: {id, type, text}, value: {<type>: …}}."""
    entry = as_dict(entry)
    question = as_dict(entry.get("question"))
    qtype = question.get("type")
    value = as_dict(entry.get("value")).get(qtype) if isinstance(qtype, str) else None
    if qtype == "select_one":
        value = as_dict(value).get("text")
    elif qtype == "select_many":
        value = [as_dict(v).get("text") for v in as_list(value)]
    title = text(question.get("text"), 1000) or ""
    keys = tuple(k for k in (text(question.get("id"), 255), text(entry.get("id"), 255)) if k)
    if not keys and not title:
        return None
    value = scalar(value)
    is_choice = isinstance(qtype, str) and qtype.startswith("select")
    role = "contact" if is_choice and mentions_contact(title) else None
    if qtype == "scale" and mentions_nps(title) and nps_value(value) is not None:
        return Item(keys, title, value, "nps", 0, 10, "nps")
    return Item(keys, title, value, qtype if isinstance(qtype, str) else None, role=role)


def _score(event: dict[str, Any]) -> tuple[int | None, Item | None]:
    """NPS surveys give the NPS; other survey types give a scaled answer."""
    survey_type = event.get("survey_type")
    score = event.get("score")
    if survey_type in _NPS_TYPES:
        return nps_value(score), None
    label = str(survey_type)[:64]
    low, high = _SCALES.get(label, (None, None))
    return None, Item(("score",), f"{label} score", scalar(score), label, low, high)


def _customer(person: dict[str, Any]) -> dict[str, object]:
    return {
        "id": person.get("id"),
        "email": person.get("email"),
        "name": person.get("name"),
        "phone": person.get("phone_number"),
    }


def parse(headers: Mapping[str, str], body: bytes, *, mapping: Mapping[str, Any]) -> FeedbackIn:
    data = load_json_object(body)
    event_type = event_name(data, "event_type", accepted=_EVENTS, platform="Delighted",
                            wanted="a survey response")
    event = data.get("event_data")
    if not isinstance(event, dict):
        raise PayloadError("event_data must be an object")
    if not isinstance(event.get("additional_answers", []), list):
        raise PayloadError("event_data.additional_answers must be a list")
    nps, score_item = _score(event)
    items = [i for i in map(_additional, as_list(event.get("additional_answers"))) if i is not None]
    tags = [t for t in as_list(event.get("tags")) if isinstance(t, str)]
    comment = text(event.get("comment"))
    draft = Draft(
        external_id=event.get("id"),
        items=([score_item] if score_item else []) + items,
        extras=as_dict(event.get("person_properties")),
        metadata={
            "survey_type": event.get("survey_type"),
            "permalink": event.get("permalink"),
            "tags": ", ".join(tags) or None,
        },
        customer=_customer(as_dict(event.get("person"))),
        nps=nps,
        comment=comment,
        submitted_at=timestamp(event.get("created_at")),
        partial=event_type == "survey_response.created" and comment is None,
    )
    return build(draft, mapping)
