"""Formbricks webhooks (`kind: formbricks`): `responseCreated` / `responseUpdated` / `responseFinished`.

Authenticity follows Standard Webhooks: `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` (several space-separated
signatures during secret rotation). The secret is `whsec_<base64 key>`.

`data.data` maps question ids to values; Formbricks sends no question texts, so detection works
on the question ids (rename them in the survey editor, e.g. `nps`, `contact_ok`) or on the mapping.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Mapping
from typing import Any

from adapters.sources.base import (
    PayloadError,
    SignatureError,
    constant_time_equal,
    event_name,
    hmac_digest,
    load_json_object,
)
from adapters.sources.mapping import (
    Draft,
    Item,
    as_dict,
    build,
    mentions_comment,
    mentions_contact,
    mentions_nps,
    nps_value,
    scalar,
    text,
    timestamp,
)
from bot.domain import FeedbackIn

kind = "formbricks"
TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"
# Created/updated carry a response in progress; finished closes it.
_EVENTS = {"responseCreated": True, "responseUpdated": True, "responseFinished": False}


def _keys(secret: str) -> list[bytes]:
    """Key bytes to try. `whsec_…` is base64 (the Standard Webhooks format); a bare secret is tried
    both as raw bytes and, when it decodes, as base64 — operators paste either form."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return [base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)]
        except (binascii.Error, ValueError) as exc:
            raise SignatureError("configured whsec_ secret is not valid base64") from exc
    keys = [secret.encode()]
    with contextlib.suppress(binascii.Error, ValueError):  # not base64: raw is the only candidate
        keys.append(base64.b64decode(secret, validate=True))
    return keys


def _signature(key: bytes, msg_id: str, ts: str, body: bytes) -> str:
    return base64.b64encode(hmac_digest(key, f"{msg_id}.{ts}.".encode() + body)).decode()


def sign(secret: str, body: bytes, *, msg_id: str, timestamp: int) -> str:
    """The `webhook-signature` header value for `body` (send it with matching id/timestamp headers)."""
    return "v1," + _signature(_keys(secret)[0], msg_id, str(timestamp), body)


def verify(headers: Mapping[str, str], body: bytes, *, secret: str, now: float) -> None:
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    header = headers.get("webhook-signature")
    if not msg_id or not ts or not header:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    if not (ts.isascii() and ts.isdigit()) or len(ts) > 12:  # "²".isdigit() is True
        raise SignatureError("webhook-timestamp must be unix seconds")
    if abs(now - int(ts)) > TOLERANCE_SECONDS:
        raise SignatureError("webhook-timestamp outside the 300-second window (replay or clock skew)")
    given = [sig for version, _, sig in (p.partition(",") for p in header.split()) if version == "v1" and sig]
    if not given:
        raise SignatureError("webhook-signature has no v1,<base64> entry")
    expected = [_signature(key, msg_id, ts, body) for key in _keys(secret)]
    if not any(constant_time_equal(e, g) for e in expected for g in given):
        raise SignatureError("Formbricks signature does not match (wrong secret?)")


def _role(key: str, value: object) -> str | None:
    if mentions_nps(key) and nps_value(value) is not None and not isinstance(value, str):
        return "nps"
    if "email" in key.casefold() and isinstance(value, str) and "@" in value:
        return "email"
    if "phone" in key.casefold() and isinstance(value, str):
        return "phone"
    if mentions_contact(key):
        return "contact"
    if mentions_comment(key) and isinstance(value, str):
        return "comment"
    return None


def _item(key: str, raw: object) -> Item:
    value = scalar(raw)
    role = _role(key, value)
    if role == "nps":
        return Item((key,), key, value, "nps", 0, 10, role)
    kind_ = "number" if isinstance(value, int | float) and not isinstance(value, bool) else "text"
    return Item((key,), key, value, kind_, role=role)


def _customer(response: dict[str, Any]) -> dict[str, object]:
    contact = as_dict(response.get("contact"))
    attrs = as_dict(response.get("contactAttributes"))
    first, last = text(attrs.get("firstName")), text(attrs.get("lastName"))
    name = text(attrs.get("name")) or " ".join(p for p in (first, last) if p) or None
    return {
        "id": contact.get("userId") or attrs.get("userId") or contact.get("id"),
        "email": attrs.get("email"),
        "name": name,
        "phone": attrs.get("phone") or attrs.get("phoneNumber"),
    }


def _metadata(response: dict[str, Any]) -> dict[str, object]:
    meta = as_dict(response.get("meta"))
    agent = as_dict(meta.get("userAgent"))
    return {
        "survey": as_dict(response.get("survey")).get("title"),
        "survey_id": response.get("surveyId"),
        "language": response.get("language"),
        "country": meta.get("country"),
        "url": meta.get("url"),
        "browser": agent.get("browser"),
        "device": agent.get("device"),
        "os": agent.get("os"),
    }


def parse(headers: Mapping[str, str], body: bytes, *, mapping: Mapping[str, Any]) -> FeedbackIn:
    data = load_json_object(body)
    event = event_name(data, "event", accepted=_EVENTS, platform="Formbricks", wanted="a response event")
    response = data.get("data")
    if not isinstance(response, dict):
        raise PayloadError("data must be an object")
    answers = response.get("data", {})
    if not isinstance(answers, dict):
        raise PayloadError("data.data must be an object of question id → value")
    # Contact attributes and variables are the routing context; later keys win on clashes.
    extras = {**as_dict(response.get("contactAttributes")), **as_dict(response.get("variables"))}
    draft = Draft(
        external_id=response.get("id"),
        items=[_item(str(k), v) for k, v in answers.items()],
        extras=extras,
        metadata=_metadata(response),
        customer=_customer(response),
        submitted_at=timestamp(response.get("updatedAt")) or timestamp(response.get("createdAt")),
        partial=_EVENTS[event],
    )
    return build(draft, mapping)
