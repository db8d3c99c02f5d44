"""What the five survey adapters share: per-source field mapping, NPS/contact detection, and the
one place where a platform's answers become a validated `FeedbackIn`.

Each adapter turns its payload into a `Draft` (a list of `Item`s plus platform extras such as hidden
fields) and calls `build(draft, mapping)`. The mapping (stored per source) overrides detection:

    {"nps": "QID1", "contact": "QID5", "comment": "QID3_TEXT", "customer_email": "email",
     "customer_name": ..., "customer_phone": ..., "customer_id": ..., "attributes": {"location": "StoreID"}}

Every value a platform sends is untrusted: helpers here never raise on odd types, and `build` turns
any remaining validation failure into `PayloadError(422)` so callers only ever see SourceErrors.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from adapters.sources.base import PayloadError
from bot.domain import Answer, Customer, FeedbackIn

Scalar = float | int | str | bool | None

CUSTOMER_FIELDS = ("id", "name", "email", "phone")
# Field limits from bot.domain; values beyond them are clipped (text) or dropped (contact data,
# where a clipped address would be wrong rather than short).
_CUSTOMER_LIMITS = {"id": 255, "name": 255, "email": 320, "phone": 64}
_MAX_ANSWERS = 500
_MAX_ATTRIBUTES = 100
_MAX_ATTR_KEY = 100
_MAX_ATTR_VALUE = 1000
_MAX_TEXT = 20_000

_NPS_WORDS = ("recommend", "recommand", "recomend", "raccomand", "empfehl", "aanbevel", "net promoter", "nps")
_CONTACT_WORDS = (
    "contact",
    "reach",
    "get in touch",
    "follow up",
    "follow-up",
    "followup",
    "call me",
    "call back",
)
_COMMENT_WORDS = ("comment", "feedback", "improve", "suggestion", "anything else")
_YES_WORDS = {"yes", "y", "true", "1", "ja", "oui", "si", "sí", "accepted", "ok", "sure", "please"}
_TAG = re.compile(r"<[^>]{0,200}>")


@dataclass
class Item:
    """One answered question. `keys` are every id a mapping may name it by (id, ref, …);
    `role` is what the adapter detected it to be: nps, contact, comment, email, phone, name."""

    keys: tuple[str, ...]
    question: str
    value: Scalar
    kind: str | None = None
    scale_min: float | None = None
    scale_max: float | None = None
    role: str | None = None


@dataclass
class Draft:
    """A platform payload, half-normalized. Platform-native values win over detection,
    the source's mapping wins over both."""

    external_id: object
    items: list[Item] = field(default_factory=list)
    extras: dict[str, object] = field(default_factory=dict)  # hidden fields, variables, embedded data
    metadata: dict[str, object] = field(default_factory=dict)  # survey title, country… (attributes too)
    customer: dict[str, object] = field(default_factory=dict)
    nps: object = None
    comment: object = None
    contact_requested: bool = False
    submitted_at: datetime | None = None
    partial: bool = False


# --- detection ---------------------------------------------------------------------------------


def _has_word(text: object, words: Iterable[str]) -> bool:
    folded = str(text).casefold() if isinstance(text, str) else ""
    return any(word in folded for word in words)


def mentions_nps(text: object) -> bool:
    """Does a question title / key read like the NPS question ("How likely … recommend …")?"""
    return _has_word(text, _NPS_WORDS)


def mentions_contact(text: object) -> bool:
    """Does a question ask whether we may contact / follow up with the respondent?"""
    return _has_word(text, _CONTACT_WORDS)


def mentions_comment(text: object) -> bool:
    return _has_word(text, _COMMENT_WORDS)


def is_yes(value: object) -> bool:
    """A yes-ish answer: True, 1, "Yes", "yes, please call me"…"""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value == 1
    if isinstance(value, str):
        folded = value.strip().casefold()
        return folded in _YES_WORDS or folded.startswith("yes")
    return False


def nps_value(value: object) -> int | None:
    """An integer 0–10 from a number or a numeric string ("9", "9 - very likely"); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        match = re.match(r"\s*(\d{1,2})(?:\.0+)?(?!\.?\d)", value)
        value = int(match.group(1)) if match else None
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        return None
    if isinstance(value, int | float) and 0 <= value <= 10:
        return int(value)
    return None


def number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


# --- value coercion ----------------------------------------------------------------------------


def text(value: object, limit: int = _MAX_TEXT) -> str | None:
    """A non-empty stripped string (numbers stringified), clipped to `limit`; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        cleaned = str(value).strip()
        return cleaned[:limit] or None
    return None


def plain(value: object) -> str:
    """Question titles may carry HTML (SurveyMonkey) — keep the words only."""
    return _TAG.sub("", value).strip() if isinstance(value, str) else ""


def stringify(value: object) -> str | None:
    """Attribute values are strings: scalars as text, lists/objects as compact JSON, null dropped."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)[:_MAX_ATTR_VALUE]
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)[:_MAX_ATTR_VALUE]
    except (TypeError, ValueError):
        return None


def scalar(value: object) -> Scalar:
    """An answer value: scalars kept, lists joined, objects as JSON text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        parts = [stringify(v) for v in value]
        return ", ".join(p for p in parts if p) or None
    return stringify(value)


def timestamp(value: object) -> datetime | None:
    """ISO-8601 text or unix seconds → aware datetime; anything unreadable → None (not an error)."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str) and value.strip():
            parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_id(value: object) -> str | None:
    """Platform ids arrive as strings or numbers."""
    if isinstance(value, bool):
        return None
    return text(value, 10_000) if isinstance(value, str | int) else None


# --- mapping -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldMap:
    nps: str | None = None
    contact: str | None = None
    comment: str | None = None
    customer: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict)


def read_mapping(mapping: Mapping[str, Any] | None) -> FieldMap:
    """The mapping comes from the DB / CLI; entries of the wrong type are ignored, not fatal."""
    mapping = mapping if isinstance(mapping, Mapping) else {}

    def key(name: str) -> str | None:
        value = mapping.get(name)
        return value if isinstance(value, str) and value else None

    customer = {f: k for f in CUSTOMER_FIELDS if (k := key(f"customer_{f}"))}
    raw_attrs = mapping.get("attributes")
    attrs = raw_attrs if isinstance(raw_attrs, Mapping) else {}
    attributes = {str(n): k for n, k in attrs.items() if isinstance(k, str) and k}
    return FieldMap(key("nps"), key("contact"), key("comment"), customer, attributes)


class _Lookup:
    """Find a mapped key among answers (by any of their keys) and extras; exact match first."""

    def __init__(self, draft: Draft) -> None:
        self.items: dict[str, Item] = {}
        for item in draft.items:
            for k in item.keys:
                self.items.setdefault(k, item)
                self.items.setdefault(k.casefold(), item)
        self.extras = draft.extras
        self.folded_extras = {k.casefold(): v for k, v in draft.extras.items()}

    def item(self, key: str) -> Item | None:
        return self.items.get(key) or self.items.get(key.casefold())

    def value(self, key: str) -> object:
        found = self.item(key)
        if found is not None:
            return found.value
        if key in self.extras:
            return self.extras[key]
        return self.folded_extras.get(key.casefold())


def _first(draft: Draft, role: str) -> Item | None:
    return next((item for item in draft.items if item.role == role), None)


def _nps(draft: Draft, fmap: FieldMap, look: _Lookup) -> int | None:
    if fmap.nps:
        mapped = look.item(fmap.nps)
        if mapped is not None and nps_value(mapped.value) is not None:
            mapped.kind, mapped.scale_min, mapped.scale_max = "nps", 0, 10
        return nps_value(look.value(fmap.nps))
    if draft.nps is not None:
        return nps_value(draft.nps)
    detected = _first(draft, "nps")
    return nps_value(detected.value) if detected else None


def _contact(draft: Draft, fmap: FieldMap, look: _Lookup) -> bool:
    if fmap.contact:
        return is_yes(look.value(fmap.contact))
    return draft.contact_requested or any(i.role == "contact" and is_yes(i.value) for i in draft.items)


def _comment(draft: Draft, fmap: FieldMap, look: _Lookup) -> str | None:
    if fmap.comment:
        return text(look.value(fmap.comment))
    if text(draft.comment):
        return text(draft.comment)
    detected = next((i for i in draft.items if i.role == "comment" and text(i.value)), None)
    return text(detected.value) if detected else None


def _customer(draft: Draft, fmap: FieldMap, look: _Lookup) -> Customer:
    values: dict[str, str | None] = {}
    for name in CUSTOMER_FIELDS:
        if name in fmap.customer:
            raw = look.value(fmap.customer[name])
        elif text(draft.customer.get(name)):
            raw = draft.customer.get(name)
        else:
            detected = _first(draft, name)
            raw = detected.value if detected else None
        value = text(raw, 10_000)
        limit = _CUSTOMER_LIMITS[name]
        if value and len(value) > limit:
            value = value[:limit] if name in ("id", "name") else None
        values[name] = value
    return Customer(**values)


def _attributes(draft: Draft, fmap: FieldMap, look: _Lookup) -> dict[str, str]:
    out: dict[str, str] = {}
    sources: list[Iterable[tuple[str, object]]] = [
        draft.metadata.items(),
        draft.extras.items(),
        ((name, look.value(key)) for name, key in fmap.attributes.items()),
    ]
    for pairs in sources:
        for name, raw in pairs:
            value = stringify(raw)
            key = str(name)[:_MAX_ATTR_KEY]
            if value is None or not key or (key not in out and len(out) >= _MAX_ATTRIBUTES):
                continue
            out[key] = value
    return out


def _answer(item: Item) -> Answer:
    question = (plain(item.question) or next((k for k in item.keys if k), "") or "?")[:1000]
    ref = next((k for k in item.keys if k), None)
    value = item.value[:_MAX_TEXT] if isinstance(item.value, str) else item.value
    return Answer(
        question=question,
        value=value,
        scale_min=item.scale_min,
        scale_max=item.scale_max,
        kind=item.kind[:64] if item.kind else None,
        ref=ref[:255] if ref else None,
    )


def build(draft: Draft, mapping: Mapping[str, Any] | None) -> FeedbackIn:
    """Apply mapping and detection; validate. Raises only PayloadError."""
    external_id = as_id(draft.external_id)
    if external_id is None:
        raise PayloadError("response id is missing or empty")
    if len(external_id) > 255:
        raise PayloadError("response id is longer than 255 characters")  # clipping could merge responses
    fmap = read_mapping(mapping)
    look = _Lookup(draft)
    try:
        nps = _nps(draft, fmap, look)
        return FeedbackIn(
            external_id=external_id,
            submitted_at=draft.submitted_at,
            customer=_customer(draft, fmap, look),
            nps=nps,
            contact_requested=_contact(draft, fmap, look),
            answers=[_answer(item) for item in draft.items[:_MAX_ANSWERS]],
            comment=_comment(draft, fmap, look),
            attributes=_attributes(draft, fmap, look),
            partial=draft.partial,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise PayloadError(f"{where}: {first['msg']}") from exc
