"""Dashboard sign-in links (`websignin`) and sessions (`websession`). Keyword-only; callers own the session.

A link is used at most once: `use_signin` is one conditional UPDATE (`… WHERE used_at IS NULL`), so two
clicks racing on the same link cannot both open a session.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import WebSession, WebSignin


async def add_signin(
    session: AsyncSession,
    *,
    nonce: str,
    platform: str,
    user_id: str,
    user_name: str,
    teams: Sequence[int],
    now: datetime,
    expires_at: datetime,
) -> WebSignin:
    row = WebSignin(nonce=nonce, platform=platform, user_id=user_id, user_name=user_name,
                    teams=list(teams), created_at=now, expires_at=expires_at)
    session.add(row)
    await session.flush()
    return row


async def get_signin(session: AsyncSession, *, nonce: str) -> WebSignin | None:
    query = select(WebSignin).where(col(WebSignin.nonce) == nonce)
    return (await session.execute(query)).scalar_one_or_none()


async def use_signin(session: AsyncSession, *, signin_id: int, now: datetime) -> bool:
    """Mark a link used if it is still unused and unexpired; False when another request won, or too late."""
    stmt = (
        update(WebSignin)
        .where(col(WebSignin.id) == signin_id, col(WebSignin.used_at).is_(None),
               col(WebSignin.expires_at) > now)
        .values(used_at=now)
    )
    result = cast("CursorResult[Any]", await session.execute(stmt))
    return int(result.rowcount or 0) == 1


async def add_session(
    session: AsyncSession,
    *,
    token_hash: str,
    csrf_token: str,
    platform: str,
    user_id: str,
    user_name: str,
    teams: Sequence[int],
    now: datetime,
    expires_at: datetime,
) -> WebSession:
    row = WebSession(token_hash=token_hash, csrf_token=csrf_token, platform=platform, user_id=user_id,
                     user_name=user_name, teams=list(teams), created_at=now, expires_at=expires_at,
                     last_seen_at=now)
    session.add(row)
    await session.flush()
    return row


async def live_session(session: AsyncSession, *, token_hash: str, now: datetime) -> WebSession | None:
    """The session a cookie names, unless it was revoked or has expired."""
    query = select(WebSession).where(
        col(WebSession.token_hash) == token_hash,
        col(WebSession.revoked_at).is_(None),
        col(WebSession.expires_at) > now,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def touch_session(session: AsyncSession, *, session_id: int, now: datetime) -> None:
    stmt = update(WebSession).where(col(WebSession.id) == session_id).values(last_seen_at=now)
    await session.execute(stmt)


async def revoke_session(session: AsyncSession, *, session_id: int, now: datetime) -> bool:
    stmt = (
        update(WebSession)
        .where(col(WebSession.id) == session_id, col(WebSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    result = cast("CursorResult[Any]", await session.execute(stmt))
    return int(result.rowcount or 0) == 1


async def delete_stale_web_rows(session: AsyncSession, *, before: datetime) -> int:
    """Sign-in links and sessions that ended before `before` (expired, used or revoked): housekeeping."""
    links = delete(WebSignin).where(col(WebSignin.expires_at) < before)
    sessions = delete(WebSession).where(col(WebSession.expires_at) < before)
    removed = 0
    for stmt in (links, sessions):
        result = cast("CursorResult[Any]", await session.execute(stmt))
        removed += int(result.rowcount or 0)
    return removed
