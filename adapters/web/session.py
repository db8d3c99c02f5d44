"""Who is asking: the `hotloop_session` cookie → a `WebUser`, and the CSRF check on every change.

`require_user` and `require_csrf` are FastAPI dependencies. Without a live session they raise
`SignInRequired`, which `mount_web` answers with 401 — a small page saying how to sign in from chat (or
`{"error": …}` for JSON and event streams) — and no alert data. A form whose `csrf_token` field is missing
or wrong raises `CsrfRefused` → 403, before the route runs: nothing changes.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qsl

from fastapi import Request

from adapters.http_body import BodyTooLargeError, read_limited
from adapters.web.templating import CSRF_FIELD, current_user
from bot.web.sessions import live_session
from bot.web.users import WebUser, role_for
from storage.types import utcnow

__all__ = ["COOKIE", "CSRF_FIELD", "CsrfRefused", "FormRefused", "SignInRequired", "require_csrf",
           "require_user", "web_now"]

COOKIE = "hotloop_session"
MAX_COOKIE = 128
FORM_LIMIT = 64 * 1024  # a note or a reply to the customer, percent-encoded


class SignInRequired(Exception):
    """No session, or an expired or revoked one: 401."""


class CsrfRefused(Exception):
    """A change without this session's CSRF token: 403."""


class FormRefused(Exception):
    """A form body that is too large or cannot be read: 400."""


def web_now(request: Request) -> datetime:
    """The time for sign-in links and sessions; tests set `app.state.web_clock` to move it."""
    clock: Callable[[], datetime] | None = getattr(request.app.state, "web_clock", None)
    return clock() if clock is not None else utcnow()


async def require_user(request: Request) -> WebUser:
    """The signed-in user (role and teams read from the configuration now), or `SignInRequired`."""
    cached = current_user(request)
    if cached is not None:
        return cached
    token = request.cookies.get(COOKIE, "")
    if not token or len(token) > MAX_COOKIE:
        raise SignInRequired
    ctx = request.app.state.ctx
    row = await live_session(ctx.sessions, token=token, now=web_now(request))
    if row is None or row.id is None:
        raise SignInRequired
    role, teams = role_for(await ctx.config.get(), platform=row.platform, user_id=row.user_id,
                           signin_teams=row.teams)
    user = WebUser(platform=row.platform, user_id=row.user_id, name=row.user_name, role=role, teams=teams,
                   csrf_token=row.csrf_token, session_id=row.id)
    request.state.web_user = user
    return user


async def read_form(request: Request) -> dict[str, str]:
    """The url-encoded form (the last value of a repeated field), at most FORM_LIMIT bytes."""
    cached: dict[str, str] | None = getattr(request.state, "web_form", None)
    if cached is not None:
        return cached
    try:
        body = await read_limited(request, FORM_LIMIT)
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200))
    except (BodyTooLargeError, UnicodeDecodeError, ValueError):
        raise FormRefused from None
    request.state.web_form = form
    return form


async def require_csrf(request: Request) -> dict[str, str]:
    """The posted form of a signed-in user whose `csrf_token` field matches the session's; else 401/403."""
    user = await require_user(request)
    form = await read_form(request)
    if not hmac.compare_digest(form.get(CSRF_FIELD, "").encode(), user.csrf_token.encode()):
        raise CsrfRefused
    return form
