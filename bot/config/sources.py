"""Managing sources (survey platforms pointing at /webhooks/NAME): add, list, rotate the secret; check
that HOTLOOP_SECRET_KEY opens the stored secrets, and re-seal them all under a new key."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.crypto import SecretBox, new_secret
from storage import queries
from storage.db import SessionFactory, create_engine_for, has_table, session_factory, transaction
from storage.models import Source

KINDS = ("generic", "typeform", "formbricks", "delighted", "qualtrics", "surveymonkey")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class SourceConfigError(ValueError):
    pass


class SecretKeyMismatchError(RuntimeError):
    """HOTLOOP_SECRET_KEY (or the key given to rekey) does not open the stored secrets."""


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
    """The survey platforms' sources (not the built-in one systemic cases come from)."""
    async with sessions() as session:
        return [row for row in await queries.list_sources(session) if row.kind != "systemic"]


async def rotate_secret(
    sessions: SessionFactory,
    box: SecretBox,
    *,
    name: str,
    secret: str | None = None,
    api_token: str | None = None,
) -> str:
    """Seal a new signing secret (and API token, when given) under the current key: also the way out
    when the key that sealed the old ones is lost."""
    secret = secret or new_secret()
    async with transaction(sessions) as session:
        row = await queries.get_source(session, name=name)
        if row is None:
            raise SourceConfigError(f"no source named {name!r}")
        row.secret_encrypted = box.seal(secret)
        if api_token is not None:
            row.api_token_encrypted = box.seal(api_token)
    return secret


async def set_mapping(sessions: SessionFactory, *, name: str, mapping: dict[str, Any]) -> None:
    async with transaction(sessions) as session:
        row = await queries.get_source(session, name=name)
        if row is None:
            raise SourceConfigError(f"no source named {name!r}")
        # attributes merge too: mapping `attr.employee` later must not drop an earlier `attr.location`
        old, new = row.mapping.get("attributes"), mapping.get("attributes")
        attributes = {**(old if isinstance(old, dict) else {}), **(new if isinstance(new, dict) else {})}
        row.mapping = {**row.mapping, **mapping, **({"attributes": attributes} if attributes else {})}


def _sealed_values(rows: Sequence[Source]) -> list[str]:
    return [value for row in rows for value in (row.secret_encrypted, row.api_token_encrypted) if value]


def mismatch_message(failed: int, total: int) -> str:
    which = f"the {total}" if failed == total else f"{failed} of the {total}"
    return (
        f"HOTLOOP_SECRET_KEY does not decrypt {which} stored source secret{'s' if total > 1 else ''} "
        "(was it changed?); restore the old key or run `hotloop secrets rekey --old-key OLD_KEY` "
        "(key lost: `hotloop source rotate-secret NAME` for each source)"
    )


async def check_stored_secrets(database_url: str, box: SecretBox) -> None:
    """Raise SecretKeyMismatchError when `box` cannot open every stored secret: better refuse to start
    than answer every webhook of those sources with an error."""
    engine = create_engine_for(database_url)
    try:
        if not await has_table(engine, "source"):
            return  # a database that was never migrated holds no secrets
        async with session_factory(engine)() as session:
            sealed = _sealed_values(await queries.list_sources(session))
    finally:
        await engine.dispose()
    failed = sum(not box.opens(value) for value in sealed)
    if failed:
        raise SecretKeyMismatchError(mismatch_message(failed, len(sealed)))


def _move(token: str, old: SecretBox, new: SecretBox) -> str:
    """`token` re-sealed under `new` when `old` opens it; otherwise as it is (already under `new`: a
    source added after the key changed)."""
    return new.seal(old.open(token)) if old.opens(token) else token


async def rekey_secrets(sessions: SessionFactory, *, old: SecretBox, new: SecretBox) -> tuple[int, int]:
    """Re-seal every source secret and API token from `old` to `new` in one transaction, all or
    nothing. Returns (re-sealed, stored)."""
    async with transaction(sessions) as session:
        rows = await queries.list_sources(session)
        sealed = _sealed_values(rows)
        unreadable = sum(not old.opens(value) and not new.opens(value) for value in sealed)
        if unreadable:
            raise SecretKeyMismatchError(
                f"{unreadable} of the {len(sealed)} stored secrets open with neither key; nothing changed"
            )
        moved = sum(old.opens(value) for value in sealed)
        for row in rows:
            row.secret_encrypted = _move(row.secret_encrypted, old, new)
            if row.api_token_encrypted:
                row.api_token_encrypted = _move(row.api_token_encrypted, old, new)
    return moved, len(sealed)
