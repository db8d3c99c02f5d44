"""Helpers for the platforms whose webhooks carry only ids (Qualtrics, SurveyMonkey)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from adapters.sources.base import FetchNeeded, PayloadError, SourceConfig, SourceError, load_json_object

# Ids end up in API URL paths: refuse anything that could walk the path or add a query.
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")


def safe_id(value: object, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _SAFE_ID.fullmatch(value):
        raise PayloadError(f"{what} is missing or not a plain id")
    return value


def survey_response(survey_id: str, response_id: str) -> FetchNeeded:
    """What the webhook said: fetch this survey's response later (the response id dedupes)."""
    return FetchNeeded(external_id=response_id, ref={"survey_id": survey_id, "response_id": response_id})


def survey_response_ids(needed: FetchNeeded) -> tuple[str, str]:
    """(survey id, response id) back out of a queued fetch, checked again: they go into API paths."""
    return safe_id(needed.ref.get("survey_id"), "survey_id"), safe_id(
        needed.ref.get("response_id"), "response_id"
    )


def base_url(config: SourceConfig, default: str | None, strip_suffix: str) -> str:
    """The API root without a trailing slash or an already-typed version suffix (`/API/v3`, `/v3`)."""
    url = (config.api_url or default or "").strip().rstrip("/")
    if not url:
        raise SourceError(f"source {config.name!r} needs --api-url to fetch responses")
    if url.casefold().endswith(strip_suffix.casefold()):
        url = url[: -len(strip_suffix)]
    return url


def api_token(config: SourceConfig) -> str:
    if not config.api_token:
        raise SourceError(f"source {config.name!r} needs --api-token to fetch responses")
    return config.api_token


async def get_json(client: httpx.AsyncClient, url: str, headers: Mapping[str, str]) -> dict[str, Any]:
    """GET a JSON object. HTTP errors propagate as httpx errors so the ingest queue retries;
    a 2xx body that is not a JSON object is a PayloadError (retrying will not fix it)."""
    response = await client.get(url, headers=dict(headers))
    response.raise_for_status()
    return load_json_object(response.content)
