"""SurveyMonkey webhooks (`kind: surveymonkey`): `response_completed` / `response_updated`.

Signature: `Sm-Signature` = base64 HMAC-SHA1 of the raw body keyed `"{client_id}&{api_secret}"`;
store exactly that string as the source secret. The body carries ids only (`object_id` is the
response id, `resources.survey_id`), so `parse` returns `FetchNeeded` and `fetch` reads
`GET {api_url}/v3/surveys/{survey_id}/responses/{id}/details` (Bearer token).

Response details hold only question/choice ids. Headings and choice texts come from the survey
details endpoint, fetched once per survey and cached for a few minutes: SurveyMonkey apps have
small daily call quotas.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any

import httpx

from adapters.sources.api import api_token, base_url, get_json, safe_id, survey_response, survey_response_ids
from adapters.sources.base import (
    FetchNeeded,
    PayloadError,
    SignatureError,
    SourceConfig,
    constant_time_equal,
    event_name,
    hmac_digest,
    load_json_object,
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
    plain,
    scalar,
    text,
    timestamp,
)
from bot.domain import FeedbackIn

kind = "surveymonkey"
SIGNATURE_HEADER = "sm-signature"
DEFAULT_API_URL = "https://api.surveymonkey.com"
_EVENTS = {"response_completed", "response_updated"}
_CACHE_SECONDS = 600.0
_CACHE_SIZE = 64
_survey_cache: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}


def sign(secret: str, body: bytes) -> str:
    """The `Sm-Signature` value for `body`; `secret` is "client_id&api_secret"."""
    return base64.b64encode(hmac_digest(secret.encode(), body, "sha1")).decode()


def verify(headers: Mapping[str, str], body: bytes, *, secret: str, now: float) -> None:
    given = headers.get(SIGNATURE_HEADER)
    if not given:
        raise SignatureError("missing Sm-Signature header")
    if not constant_time_equal(sign(secret, body), given.strip()):
        raise SignatureError("SurveyMonkey signature does not match (secret must be client_id&api_secret)")


def parse(headers: Mapping[str, str], body: bytes, *, mapping: Mapping[str, Any]) -> FetchNeeded:
    data = load_json_object(body)
    about_a_response = data.get("object_type", "response") == "response"  # not a collector's or survey's
    event_name(data, "event_type", accepted=_EVENTS if about_a_response else (), platform="SurveyMonkey",
               wanted="a finished response")
    resources = data.get("resources")
    if not isinstance(resources, dict):
        raise PayloadError("resources must be an object")
    response_id = safe_id(data.get("object_id"), "object_id")
    survey_id = safe_id(resources.get("survey_id"), "resources.survey_id")
    return survey_response(survey_id, response_id)


async def fetch(client: httpx.AsyncClient, config: SourceConfig, needed: FetchNeeded) -> FeedbackIn:
    survey_id, response_id = survey_response_ids(needed)
    root = base_url(config, DEFAULT_API_URL, "/v3")
    headers = {"Authorization": f"Bearer {api_token(config)}", "Accept": "application/json"}
    url = f"{root}/v3/surveys/{survey_id}/responses/{response_id}/details"
    response = await get_json(client, url, headers)
    survey = await _survey(client, config, f"{root}/v3/surveys/{survey_id}/details", headers)
    return build(_draft(response, _questions(survey), survey, response_id), config.mapping)


async def _survey(
    client: httpx.AsyncClient, config: SourceConfig, url: str, headers: Mapping[str, str]
) -> dict[str, Any]:
    """Survey details (headings, choice texts), cached. A 4xx (e.g. the token lacks `surveys_read`)
    degrades to ids-only answers — the mapping still works; 5xx/network errors propagate to retry."""
    key = (config.name, url, headers["Authorization"])
    cached = _survey_cache.get(key)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        survey = await get_json(client, url, headers)
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code >= 500:
            raise
        return {}
    except PayloadError:
        return {}
    if len(_survey_cache) >= _CACHE_SIZE:
        _survey_cache.pop(next(iter(_survey_cache)))
    _survey_cache[key] = (time.monotonic() + _CACHE_SECONDS, survey)
    return survey


def _questions(survey: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Question definitions by id."""
    out: dict[str, dict[str, Any]] = {}
    for page in as_list(survey.get("pages")):
        for question in as_list(as_dict(page).get("questions")):
            qid = text(as_dict(question).get("id"), 100)
            if qid:
                out[qid] = question
    return out


def _choices(question: dict[str, Any]) -> dict[str, dict[str, Any]]:
    answers = as_dict(question.get("answers"))
    found = {}
    for group in ("choices", "rows", "cols"):
        for choice in as_list(answers.get(group)):
            cid = text(as_dict(choice).get("id"), 100)
            if cid:
                found[cid] = choice
    return found


def _answer_text(answer: dict[str, Any], choices: dict[str, dict[str, Any]]) -> str | None:
    """One answer entry as text: "choice", "row: choice", or the typed text."""
    parts = []
    for key in ("row_id", "choice_id", "col_id"):
        cid = text(answer.get(key), 100)
        if cid:
            parts.append(plain(choices.get(cid, {}).get("text")) or cid)
    typed = text(answer.get("text"))
    if typed:
        parts.append(typed)
    return ": ".join(parts) or None


def _nps_score(answers: list[Any], choices: dict[str, dict[str, Any]]) -> int | None:
    """The 0–10 score of an NPS answer: from the choice text ("9", "10 - Extremely likely"),
    else from its 1-based position on the 11-point scale."""
    choice = choices.get(text(as_dict(answers[0]).get("choice_id"), 100) or "") if answers else None
    if choice is None:
        return None
    score = nps_value(plain(choice.get("text")))
    position = choice.get("position")
    if score is None and isinstance(position, int) and 1 <= position <= 11:
        score = position - 1
    return score


def _heading(question: dict[str, Any]) -> str:
    headings = as_list(question.get("headings"))
    return plain(as_dict(headings[0]).get("heading")) if headings else ""


def _item(qid: str, entry: dict[str, Any], question: dict[str, Any]) -> Item:
    heading = _heading(question)
    family, subtype = question.get("family"), question.get("subtype")
    choices = _choices(question)
    answers = [a for a in as_list(entry.get("answers")) if isinstance(a, dict)]
    # An NPS question offers exactly 11 choices (0–10); matrix rows do not count.
    n_choices = len(as_list(as_dict(question.get("answers")).get("choices")))
    is_nps = subtype == "nps" or (mentions_nps(heading) and n_choices == 11)
    if is_nps and (score := _nps_score(answers, choices)) is not None:
        return Item((qid,), heading or qid, score, "nps", 0, 10, "nps")
    value = scalar([_answer_text(a, choices) for a in answers])
    role = None
    if family == "open_ended":
        is_email = "email" in heading.casefold() and isinstance(value, str) and "@" in value
        role = "email" if is_email else ("comment" if subtype == "essay" else None)
    elif family == "single_choice" and mentions_contact(heading):
        role = "contact"
    kind_ = f"{family}/{subtype}" if isinstance(family, str) and isinstance(subtype, str) else None
    return Item((qid,), heading or qid, value, kind_, role=role)


def _draft(
    response: dict[str, Any], questions: dict[str, dict[str, Any]], survey: dict[str, Any], response_id: str
) -> Draft:
    items = []
    for page in as_list(response.get("pages")):
        for entry in as_list(as_dict(page).get("questions")):
            qid = text(as_dict(entry).get("id"), 100)
            if qid:
                items.append(_item(qid, entry, questions.get(qid, {})))
    contact = as_dict(as_dict(response.get("metadata")).get("contact"))
    first = text(response.get("first_name")) or text(as_dict(contact.get("first_name")).get("value"))
    last = text(response.get("last_name")) or text(as_dict(contact.get("last_name")).get("value"))
    email = text(response.get("email_address")) or as_dict(contact.get("email")).get("value")
    return Draft(
        external_id=response_id,
        items=items,
        extras=as_dict(response.get("custom_variables")),
        metadata={
            "survey": survey.get("title"),
            "survey_id": response.get("survey_id"),
            "collector_id": response.get("collector_id"),
        },
        customer={
            "id": response.get("custom_value"),
            "email": email,
            "name": " ".join(filter(None, (first, last))),
        },
        submitted_at=timestamp(response.get("date_modified")) or timestamp(response.get("date_created")),
        partial=response.get("response_status", "completed") != "completed",
    )
