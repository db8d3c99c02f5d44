"""Sign-in links to the dashboard, asked for in chat (`/hotloop web`), and the sessions they open.

A link names a `websignin` row by a random nonce and carries an HMAC (key derived from HOTLOOP_SECRET_KEY,
purpose "web-signin") over the nonce AND the row's chat user and teams: a link is good only for the user
it was given to, in the chat where they asked.

    /app/login/w1.<base64url 16-byte nonce>.<base64url 16-byte HMAC-SHA256>

It is valid for five minutes and opens one session: the row is marked used by one conditional UPDATE in
the same transaction that writes the session. A session is a random 32-byte token in an HttpOnly cookie;
only its SHA-256 is stored (a copy of the database opens no session), with a random CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto import purpose_key
from bot.settings import Settings
from storage.db import SessionFactory, transaction
from storage.queries import web as queries

SIGNIN_SECONDS = 5 * 60
SESSION_SECONDS = 12 * 3600
LOGIN_PATH = "/app/login/"
_TOKEN = re.compile(r"w1\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})")
MAX_TOKEN = 64


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hash_session_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SigninState(StrEnum):
    OK = "ok"
    INVALID = "invalid"  # not a link this server signed (cut, altered, forged), or no such row
    EXPIRED = "expired"
    USED = "used"


@dataclass(frozen=True)
class Signin:
    """What an open link shows before it is used: whom it signs in."""

    nonce: str
    platform: str
    user_id: str
    user_name: str
    teams: tuple[int, ...]


@dataclass(frozen=True)
class Checked:
    state: SigninState
    signin: Signin | None = None


@dataclass(frozen=True)
class NewSession:
    token: str  # goes into the cookie, never stored
    csrf_token: str
    session_id: int
    expires_at: datetime


class SigninLinks:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _signature(self, nonce: str, platform: str, user_id: str, teams: Sequence[int]) -> str:
        body = "\n".join(("w1", nonce, platform, user_id, ",".join(str(t) for t in sorted(teams))))
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:16])

    @classmethod
    def from_settings(cls, settings: Settings) -> SigninLinks:
        return cls(purpose_key(settings, "web-signin"))

    def token(self, signin: Signin) -> str:
        signature = self._signature(signin.nonce, signin.platform, signin.user_id, signin.teams)
        return f"w1.{signin.nonce}.{signature}"

    @staticmethod
    def nonce_of(token: str) -> str | None:
        match = _TOKEN.fullmatch(token) if len(token) <= MAX_TOKEN else None
        return match.group(1) if match else None

    def signed(self, token: str, signin: Signin) -> bool:
        return hmac.compare_digest(self.token(signin), token)


async def issue(sessions: SessionFactory, links: SigninLinks, *, platform: str, user_id: str, user_name: str,
                teams: Sequence[int], now: datetime) -> str:
    """A new sign-in token for this chat user (the caller builds the URL)."""
    signin = Signin(nonce=_b64(secrets.token_bytes(16)), platform=platform, user_id=user_id,
                    user_name=user_name[:255] or user_id, teams=tuple(sorted(set(teams))))
    async with transaction(sessions) as session:
        await queries.add_signin(session, nonce=signin.nonce, platform=platform, user_id=user_id,
                                 user_name=signin.user_name, teams=signin.teams, now=now,
                                 expires_at=now + timedelta(seconds=SIGNIN_SECONDS))
    return links.token(signin)


async def check(sessions: SessionFactory, links: SigninLinks, *, token: str, now: datetime) -> Checked:
    """Whether a link would sign in now, and whom (for the page that asks to confirm); changes nothing."""
    nonce = links.nonce_of(token)
    if nonce is None:
        return Checked(SigninState.INVALID)
    async with sessions() as session:
        row = await queries.get_signin(session, nonce=nonce)
    if row is None:
        return Checked(SigninState.INVALID)
    signin = Signin(nonce=row.nonce, platform=row.platform, user_id=row.user_id, user_name=row.user_name,
                    teams=tuple(row.teams))
    if not links.signed(token, signin):
        return Checked(SigninState.INVALID)
    if row.used_at is not None:
        return Checked(SigninState.USED, signin)
    if row.expires_at <= now:
        return Checked(SigninState.EXPIRED, signin)
    return Checked(SigninState.OK, signin)


async def redeem(sessions: SessionFactory, links: SigninLinks, *, token: str,
                 now: datetime) -> tuple[Checked, NewSession | None]:
    """Use a link: a new session for its user, or why not. Used at most once, even by racing requests."""
    checked = await check(sessions, links, token=token, now=now)
    if checked.state is not SigninState.OK or checked.signin is None:
        return checked, None
    signin = checked.signin
    async with transaction(sessions) as session:
        row = await queries.get_signin(session, nonce=signin.nonce)
        assert row is not None and row.id is not None
        if not await queries.use_signin(session, signin_id=row.id, now=now):
            return Checked(SigninState.USED, signin), None
        opened = await open_session(session, platform=signin.platform, user_id=signin.user_id,
                                    user_name=signin.user_name, teams=signin.teams, now=now)
    return checked, opened


async def open_session(session: AsyncSession, *, platform: str, user_id: str,
                       user_name: str, teams: Sequence[int], now: datetime) -> NewSession:
    """Write a session row (in the caller's transaction); OpenID Connect sign-ins use it too."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=SESSION_SECONDS)
    row = await queries.add_session(session, token_hash=hash_session_token(token),
                                    csrf_token=csrf, platform=platform, user_id=user_id, user_name=user_name,
                                    teams=teams, now=now, expires_at=expires_at)
    assert row.id is not None
    return NewSession(token=token, csrf_token=csrf, session_id=row.id, expires_at=expires_at)
