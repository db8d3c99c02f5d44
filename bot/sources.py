"""Managing sources (survey platforms pointing at /webhooks/NAME): add, list, rotate the secret."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.crypto import SecretBox, new_secret
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import Source

KINDS = ("generic", "typeform", "formbricks", "delighted", "qualtrics", "surveymonkey")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class SourceConfigError(ValueError):
    pass


@dataclass(frozen=True)
class SourceCreated:
    name: str
    kind: str
    secret: str
    path: str


def _check(name: str, kind: str) -> None:
    if not _NAME.match(name):
        raise SourceConfigError(
            "a source name is 1–63 lower-case letters, digits, - or _ (it becomes the URL path)"
        )
    if kind not in KINDS:
        raise SourceConfigError(f"unknown kind {kind!r}; pick one of {', '.join(KINDS)}")


async def add_source(
    sessions: SessionFactory,
    box: SecretBox,
    *,
    name: str,
    kind: str,
    secret: str | None = None,
    api_url: str | None = None,
    api_token: str | None = None,
    mapping: dict[str, Any] | None = None,
) -> SourceCreated:
    _check(name, kind)
    secret = secret or new_secret()
    async with transaction(sessions) as session:
        if await queries.get_source(session, name=name) is not None:
            raise SourceConfigError(f"a source named {name!r} already exists")
        session.add(Source(name=name, kind=kind, secret_encrypted=box.seal(secret), mapping=mapping or {},
                           api_url=api_url, api_token_encrypted=box.seal(api_token) if api_token else None))
    return SourceCreated(name=name, kind=kind, secret=secret, path=f"/webhooks/{name}")


async def list_sources(sessions: SessionFactory) -> Sequence[Source]:
    async with sessions() as session:
        return await queries.list_sources(session)


async def rotate_secret(
    sessions: SessionFactory, box: SecretBox, *, name: str, secret: str | None = None
) -> str:
    secret = secret or new_secret()
    async with transaction(sessions) as session:
        row = await queries.get_source(session, name=name)
        if row is None:
            raise SourceConfigError(f"no source named {name!r}")
        row.secret_encrypted = box.seal(secret)
    return secret


async def set_mapping(sessions: SessionFactory, *, name: str, mapping: dict[str, Any]) -> None:
    async with transaction(sessions) as session:
        row = await queries.get_source(session, name=name)
        if row is None:
            raise SourceConfigError(f"no source named {name!r}")
        row.mapping = {**row.mapping, **mapping}
