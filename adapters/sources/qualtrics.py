"""Qualtrics event subscriptions (`kind: qualtrics`).

Topic: `<BrandID>.surveyengine.completedResponse.<SurveyID>`.

Real subscriptions put the brand id first; the documentation's examples leave it out: both are accepted,
by the `surveyengine.completedResponse` pair of segments wherever it stands.

The POST is form-encoded: `Topic`, `MSG` (a JSON string with `SurveyID`, `ResponseID`, `Status`…)
and, when the subscription has a shared key, `HMAC` = hex HMAC-SHA512(key, MSG). It carries ids
only, so `parse` returns `FetchNeeded` and `fetch` reads the response from the v3 API
(`GET {api_url}/API/v3/surveys/{SurveyID}/responses/{ResponseID}`, header `X-API-TOKEN`).

The API returns `result.values` keyed by export tags (`QID1`, `QID3_TEXT`, embedded data such as
`StoreID`) and `result.labels` with choice texts; there are no question texts, so the source's
mapping names the questions (`{"nps": "QID1", "contact": "QID5", "comment": "QID3_TEXT"}`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx

from adapters.sources.api import api_token, base_url, get_json, safe_id, survey_response, survey_response_ids
from adapters.sources.base import (
    FetchNeeded,
    IgnoredEvent,
    PayloadError,
    SignatureError,
    SourceConfig,
    constant_time_equal,
    hmac_digest,
    load_json_object,
)
from adapters.sources.mapping import Draft, Item, as_dict, build, scalar, timestamp
from bot.domain import FeedbackIn

kind = "qualtrics"
_QUESTION = re.compile(r"QID\d+(?:_\w+)?")
_TEXT_ENTRY = re.compile(r"QID\d+_TEXT")
_EMAIL = re.compile(r"[^@\s]{1,200}@[^@\s]{1,200}\.[^@\s]{1,50}")
# Response metadata, not answers or embedded data; IP and location are left out on purpose.
_SYSTEM = {
    "startDate", "endDate", "status", "ipAddress", "progress", "duration", "finished", "recordedDate",
    "_recordId", "locationLatitude", "locationLongitude", "distributionChannel", "userLanguage",
    "recipientEmail", "recipientFirstName", "recipientLastName", "externalDataReference",
}  # fmt: skip
_SKIP_SUFFIXES = ("_NPS_GROUP", "_DO")
_COMPLETED = ["surveyengine", "completedResponse"]


def sign(secret: str, msg: str) -> str:
    """The `HMAC` form field Qualtrics sends for a `MSG` string."""
    return hmac_digest(secret.encode(), msg.encode(), "sha512").hex()


def form_body(topic: str, msg: str, secret: str | None) -> bytes:
    """A complete event body as Qualtrics posts it (for tests and the demo)."""
    fields = {"Topic": topic, "MSG": msg} | ({"HMAC": sign(secret, msg)} if secret else {})
    return urlencode(fields).encode()


def _form(body: bytes) -> dict[str, str] | None:
    """The form fields (first value of each), or None when the body is not a readable form."""
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        return None
    return {name: values[0] for name, values in fields.items()}


def is_completed_response(topic: str) -> bool:
    """`surveyengine.completedResponse[.<SurveyID>]`, with or without the leading `<BrandID>.`."""
    parts = topic.split(".")
    return any(parts[i : i + 2] == _COMPLETED for i in range(len(parts) - 1))


def verify(headers: Mapping[str, str], body: bytes, *, secret: str, now: float) -> None:
    fields = _form(body)
    if fields is None:
        raise SignatureError("body is not a form-encoded Qualtrics event")
    given, msg = fields.get("HMAC"), fields.get("MSG")
    if not given:
        raise SignatureError("missing HMAC field: set the shared key on the Qualtrics event subscription")
    if msg is None:
        raise SignatureError("missing MSG field")
    if not constant_time_equal(sign(secret, msg), given.strip().lower()):
        raise SignatureError("Qualtrics HMAC does not match (wrong shared key?)")


def parse(headers: Mapping[str, str], body: bytes, *, mapping: Mapping[str, Any]) -> FetchNeeded:
    fields = _form(body)
    if fields is None:
        raise PayloadError("body is not a form-encoded Qualtrics event", status=400)
    topic, msg = fields.get("Topic"), fields.get("MSG")
    if not topic or msg is None:
        raise PayloadError("Topic and MSG fields are required")
    if not is_completed_response(topic):
        raise IgnoredEvent(f"Qualtrics topic {topic[:80]!r} is not a completed response")
    message = load_json_object(msg.encode())
    survey_id = safe_id(message.get("SurveyID"), "MSG.SurveyID")
    response_id = safe_id(message.get("ResponseID"), "MSG.ResponseID")
    return survey_response(survey_id, response_id)


async def fetch(client: httpx.AsyncClient, config: SourceConfig, needed: FetchNeeded) -> FeedbackIn:
    survey_id, response_id = survey_response_ids(needed)
    root = base_url(config, None, "/API/v3")
    url = f"{root}/API/v3/surveys/{survey_id}/responses/{response_id}"
    data = await get_json(client, url, {"X-API-TOKEN": api_token(config), "Accept": "application/json"})
    result = data.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("values"), dict):
        raise PayloadError("Qualtrics response has no result.values")
    return build(_draft(result, survey_id, response_id), config.mapping)


def _item(key: str, raw: object, label: object, values: dict[str, Any]) -> Item:
    if f"{key}_NPS_GROUP" in values:
        return Item((key,), key, scalar(raw), "nps", 0, 10, "nps")
    if _TEXT_ENTRY.fullmatch(key):
        value = scalar(raw)
        is_email = isinstance(value, str) and _EMAIL.fullmatch(value.strip())
        return Item((key,), key, value, "text", role="email" if is_email else "comment")
    # Choice questions: the label ("Yes", "Very satisfied") reads better than the recode.
    shown = label if isinstance(label, str | list) and label else raw
    value = scalar(shown)
    kind_ = "choice" if shown is label else ("number" if isinstance(value, int | float) else None)
    return Item((key,), key, value, kind_)


def _draft(result: dict[str, Any], survey_id: str, response_id: str) -> Draft:
    values: dict[str, Any] = result["values"]
    labels = as_dict(result.get("labels"))
    items: list[Item] = []
    extras: dict[str, object] = {}
    for key, raw in values.items():
        if _QUESTION.fullmatch(key):
            if not key.endswith(_SKIP_SUFFIXES):
                items.append(_item(key, raw, labels.get(key), values))
        elif key not in _SYSTEM:
            extras[key] = raw  # embedded data
    first, last = values.get("recipientFirstName"), values.get("recipientLastName")
    name = " ".join(p for p in (first, last) if isinstance(p, str) and p) or None
    finished = values.get("finished")
    return Draft(
        external_id=response_id,
        items=items,
        extras=extras,
        metadata={
            "survey_id": survey_id,
            "channel": values.get("distributionChannel"),
            "language": values.get("userLanguage"),
        },
        customer={
            "email": values.get("recipientEmail"),
            "name": name,
            "id": values.get("externalDataReference"),
        },
        submitted_at=timestamp(values.get("recordedDate")) or timestamp(values.get("endDate")),
        partial=finished is False or (isinstance(finished, int) and finished == 0),
    )
