"""Property tests: whatever arrives, adapters answer with a FeedbackIn / FetchNeeded or a SourceError
subclass — never a KeyError, TypeError or pydantic ValidationError (which would be a 500)."""

from __future__ import annotations

import contextlib
import copy
import json
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.sources import delighted, formbricks, generic, qualtrics, surveymonkey, typeform
from adapters.sources.base import FetchNeeded, SourceError
from adapters.sources.mapping import build
from bot.domain import FeedbackIn
from tests.adapters.sources.conftest import payload
from tests.adapters.sources.test_qualtrics import API_RESPONSE
from tests.adapters.sources.test_surveymonkey import EVENT, RESPONSE, SURVEY

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SIGNERS = [typeform, formbricks, delighted, qualtrics, surveymonkey, generic]
SAMPLES: dict[str, dict[str, Any]] = {
    "typeform": payload("typeform_form_response.json"),
    "formbricks": payload("formbricks_responseFinished.json"),
    "delighted": payload("delighted_survey_response_updated.json"),
    "qualtrics": {"SurveyID": "SV_1", "ResponseID": "R_1", "Status": "Complete"},
    "surveymonkey": EVENT,
    "generic": {"id": "r1", "nps": 3, "answers": [{"question": "q", "value": 1}], "attributes": {"a": "b"}},
}
MODULES = {m.kind: m for m in SIGNERS}

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=6)
mappings = st.dictionaries(
    st.sampled_from(
        ["nps", "contact", "comment", "customer_email", "customer_name", "customer_id", "attributes"]
    ),
    json_values,
)


def _encode(kind: str, doc: object) -> bytes:
    """The wire form: Qualtrics posts a form with the JSON in MSG, the others post JSON."""
    text = json.dumps(doc)
    if kind == "qualtrics":
        return qualtrics.form_body("surveyengine.completedResponse.SV_1", text, None)
    return text.encode()


def _paths(doc: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _paths(value, (*prefix, index))
    return found


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


def _parse_ok(module: ModuleType, body: bytes, mapping: Any = None) -> None:
    try:
        result = module.parse({}, body, mapping=mapping or {})
    except SourceError:
        return
    assert isinstance(result, FeedbackIn | FetchNeeded)


@pytest.mark.parametrize("kind", sorted(MODULES))
@FUZZ
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes(kind: str, body: bytes) -> None:
    _parse_ok(MODULES[kind], body)


@pytest.mark.parametrize("kind", sorted(MODULES))
@FUZZ
@given(doc=json_objects, mapping=mappings)
def test_arbitrary_json_objects(kind: str, doc: dict[str, Any], mapping: dict[str, Any]) -> None:
    _parse_ok(MODULES[kind], _encode(kind, doc), mapping)


@pytest.mark.parametrize("kind", sorted(MODULES))
@FUZZ
@given(data=st.data(), mapping=mappings)
def test_real_payloads_with_one_subtree_replaced(
    kind: str, data: st.DataObject, mapping: dict[str, Any]
) -> None:
    """Mutating the real payloads reaches the deep code paths random objects never get to."""
    doc = copy.deepcopy(SAMPLES[kind])
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)))
        doc = _replace(doc, path, data.draw(json_values))
    _parse_ok(MODULES[kind], _encode(kind, doc), mapping)


@FUZZ
@given(data=st.data(), mapping=mappings)
def test_fetched_api_answers_never_escape_as_other_errors(
    data: st.DataObject, mapping: dict[str, Any]
) -> None:
    """`fetch` maps what the Qualtrics / SurveyMonkey APIs return: as untrusted as a webhook."""
    q_result = copy.deepcopy(API_RESPONSE["result"])
    q_result["values"][data.draw(st.text(max_size=8) | st.sampled_from(["QID9", "QID9_TEXT", "QID1"]))] = (
        data.draw(json_values)
    )
    q_result["labels"] = data.draw(json_objects | st.just(q_result["labels"]))
    response, survey = copy.deepcopy(RESPONSE), copy.deepcopy(SURVEY)
    for doc in (response, survey):
        path = data.draw(st.sampled_from(_paths(doc)))
        _replace(doc, path, data.draw(json_values)) if path else None
    for make in (
        lambda: qualtrics._draft(q_result, "SV_1", "R_1"),
        lambda: surveymonkey._draft(response, surveymonkey._questions(survey), survey, "1"),
    ):
        with contextlib.suppress(SourceError):
            assert isinstance(build(make(), mapping), FeedbackIn)


@pytest.mark.parametrize("kind", sorted(MODULES))
@FUZZ
@given(
    headers=st.dictionaries(
        st.sampled_from(
            [
                "typeform-signature",
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature",
                "sm-signature",
                "x-delighted-webhook-signature",
                "x-hotloop-signature",
            ]
        ),
        st.text(max_size=60),
    ),
    body=st.binary(max_size=200),
    secret=st.text(max_size=30),
    now=st.floats(allow_nan=False, allow_infinity=False),
)
def test_verify_only_raises_signature_errors(
    kind: str, headers: dict[str, str], body: bytes, secret: str, now: float
) -> None:
    try:
        MODULES[kind].verify(headers, body, secret=secret, now=now)
    except SourceError:
        return


@pytest.mark.parametrize(
    ("kind", "headers"),
    [
        ("generic", {"x-hotloop-signature": "t=²,v1=ab"}),
        ("formbricks", {"webhook-id": "a", "webhook-timestamp": "²", "webhook-signature": "v1,x"}),
    ],
)
def test_unicode_digits_in_timestamps_are_signature_errors(kind: str, headers: dict[str, str]) -> None:
    """Latin-1 header bytes like 0xB2 decode to "²", which str.isdigit() accepts but int() refuses."""
    with pytest.raises(SourceError):
        MODULES[kind].verify(headers, b"{}", secret="s", now=0)
