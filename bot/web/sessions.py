"""Dashboard sessions, in their own transactions: the adapters (adapters/web) call these and never open
a database session themselves (tests/architecture/test_sql_in_storage.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.web.signin import NewSession, hash_session_token, open_session
from storage.db import SessionFactory, transaction
from storage.models import WebSession
from storage.queries import web as queries

TOUCH_EVERY = timedelta(minutes=5)  # last_seen_at is written at most this often per session


async def live_session(sessions: SessionFactory, *, token: str, now: datetime) -> WebSession | None:
    """The unexpired, unrevoked session a cookie's token names (its last_seen_at kept roughly current)."""
    async with sessions() as session:
        row = await queries.live_session(session, token_hash=hash_session_token(token), now=now)
    if row is None or row.id is None:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        async with transaction(sessions) as session:
            await queries.touch_session(session, session_id=row.id, now=now)
    return row


async def start_session(sessions: SessionFactory, *, platform: str, user_id: str, user_name: str,
                        teams: Sequence[int], now: datetime) -> NewSession:
    """A new session for a chat identity proved another way than a link (OpenID Connect)."""
    async with transaction(sessions) as session:
        return await open_session(session, platform=platform, user_id=user_id, user_name=user_name,
                                  teams=teams, now=now)


async def end_session(sessions: SessionFactory, *, session_id: int, now: datetime) -> None:
    """Sign out: the session's cookie opens nothing any more."""
    async with transaction(sessions) as session:
        await queries.revoke_session(session, session_id=session_id, now=now)
