"""Typeform webhooks (`kind: typeform`): one JSON `form_response` per completed form.

Signature: `Typeform-Signature: sha256=<base64 HMAC-SHA256(secret, raw body)>` (no timestamp:
replays are absorbed by deduplication on `form_response.token`).
Answers are matched to questions by `field.id` / `ref`, never by position — Typeform omits
skipped questions from `answers`, so positions shift.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from adapters.sources.base import PayloadError, event_name, hmac_digest, verify_sha256_header
from adapters.sources.base import load_json_object as _load
from adapters.sources.mapping import (
    Draft,
    Item,
    as_dict,
    as_list,
    build,
    mentions_contact,
    mentions_nps,
    nps_value,
    number,
    scalar,
    timestamp,
)
from bot.domain import FeedbackIn

kind = "typeform"
SIGNATURE_HEADER = "typeform-signature"

_SCALED = {"opinion_scale", "rating", "number", "nps"}
_CHOICE_ANSWERS = ("choice", "choices", "boolean")  # a tuple: `type` may be any JSON value


def sign(secret: str, body: bytes) -> str:
    """The `Typeform-Signature` header value Typeform sends for `body`."""
    return "sha256=" + base64.b64encode(hmac_digest(secret.encode(), body)).decode()


def verify(headers: Mapping[str, str], body: bytes, *, secret: str, now: float) -> None:
    verify_sha256_header(headers, name=SIGNATURE_HEADER, label="Typeform-Signature", platform="Typeform",
                         expected=sign(secret, body), hex_digest=False)


def _value(answer: dict[str, Any]) -> object:
    """The answer's value lives under a key named after its `type`."""
    kind_ = answer.get("type")
    raw = answer.get(kind_) if isinstance(kind_, str) else None
    if kind_ == "choice":
        choice = as_dict(raw)
        return choice.get("label") or choice.get("other")
    if kind_ == "choices":
        choices = as_dict(raw)
        labels = [x for x in as_list(choices.get("labels")) if isinstance(x, str)]
        other = choices.get("other")
        return labels + ([other] if isinstance(other, str) else [])
    return raw


def _scale(definition: dict[str, Any], field_type: str) -> tuple[float | None, float | None]:
    """The question's scale from the form definition, where Typeform includes it."""
    props = as_dict(definition.get("properties"))
    steps = number(props.get("steps"))
    if field_type == "nps":
        return 0, 10
    if field_type == "opinion_scale" and steps:
        low = 1.0 if props.get("start_at_one") is True else 0.0
        return low, low + steps - 1
    if field_type == "rating" and steps:
        return 1, steps
    if field_type == "number":
        rules = as_dict(definition.get("validations"))
        return number(rules.get("min_value")), number(rules.get("max_value"))
    return None, None


def _is_nps(field_type: str, title: str, scale: tuple[float | None, float | None], value: object) -> bool:
    if field_type == "nps":
        return True
    if field_type != "opinion_scale" or not mentions_nps(title):
        return False
    # An opinion scale without `properties` in the definition: trust the title if the value fits.
    return scale == (0, 10) or (scale == (None, None) and nps_value(value) is not None)


def _role(field_type: str, answer_type: object, title: str, is_nps: bool) -> str | None:
    if is_nps:
        return "nps"
    if answer_type == "email" or field_type == "email":
        return "email"
    if answer_type == "phone_number" or field_type == "phone_number":
        return "phone"
    if answer_type in _CHOICE_ANSWERS and mentions_contact(title):
        return "contact"
    if field_type == "long_text":
        return "comment"
    return None


def _item(answer: dict[str, Any], fields: dict[str, dict[str, Any]]) -> Item:
    ref_field = as_dict(answer.get("field"))
    field_id, ref = ref_field.get("id"), ref_field.get("ref")
    definition = fields.get(field_id) if isinstance(field_id, str) else None
    if definition is None and isinstance(ref, str):
        definition = fields.get(ref)
    definition = definition or {}
    field_type = str(ref_field.get("type") or definition.get("type") or "")
    title = definition.get("title")
    title = title if isinstance(title, str) else ""
    value = scalar(_value(answer))
    scale = _scale(definition, field_type) if field_type in _SCALED else (None, None)
    is_nps = _is_nps(field_type, title, scale, value)
    if is_nps:
        scale = (0, 10)
    keys = tuple(k for k in (field_id, ref, definition.get("ref")) if isinstance(k, str) and k)
    return Item(
        keys=keys,
        question=title,
        value=value,
        kind="nps" if is_nps else (field_type or None),
        scale_min=scale[0],
        scale_max=scale[1],
        role=_role(field_type, answer.get("type"), title, is_nps),
    )


def _fields(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Question definitions by id and by ref."""
    out: dict[str, dict[str, Any]] = {}
    for item in as_list(definition.get("fields")):
        if isinstance(item, dict):
            for key in (item.get("id"), item.get("ref")):
                if isinstance(key, str) and key:
                    out.setdefault(key, item)
    return out


def _extras(response: dict[str, Any]) -> dict[str, object]:
    """Hidden fields and variables: what routing usually needs (store, region, order id…)."""
    extras: dict[str, object] = {str(k): v for k, v in as_dict(response.get("hidden")).items()}
    for variable in as_list(response.get("variables")):
        variable = as_dict(variable)
        key, kind_ = variable.get("key"), variable.get("type")
        if isinstance(key, str) and key and isinstance(kind_, str):
            extras[key] = variable.get(kind_)
    return extras


def parse(headers: Mapping[str, str], body: bytes, *, mapping: Mapping[str, Any]) -> FeedbackIn:
    data = _load(body)
    event_name(data, "event_type", accepted=("form_response",), platform="Typeform",
               wanted="a form response")
    response = data.get("form_response")
    if not isinstance(response, dict):
        raise PayloadError("form_response must be an object")
    if not isinstance(response.get("answers", []), list):
        raise PayloadError("form_response.answers must be a list")
    definition = as_dict(response.get("definition"))
    fields = _fields(definition)
    items = [_item(a, fields) for a in as_list(response.get("answers")) if isinstance(a, dict)]
    draft = Draft(
        external_id=response.get("token"),
        items=items,
        extras=_extras(response),
        metadata={"form_id": response.get("form_id"), "survey": definition.get("title")},
        submitted_at=timestamp(response.get("submitted_at")),
    )
    return build(draft, mapping)
