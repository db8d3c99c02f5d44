"""An alert's page (/app/alerts/<KEY>) and acting from it (POST /app/alerts/<KEY>/<action>).

Acting from the page is acting from chat: the posted form becomes an `ActionRequest` for the user's chat
identity and goes through `bot.actions.table.run_action`, whose outbox then moves the Slack and Teams
cards. The page offers only the actions whose guard lets this user act now (the same guards chat runs
before it shows a form). An alert of a team the user may not see answers 404, as one that does not exist.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapters.web import events
from adapters.web.session import require_csrf, require_user
from adapters.web.templating import render
from bot.actions.table import ActionRequest, run_action
from bot.context import Context
from bot.web.actions import read_posted, web_actions
from bot.web.pages import action_form
from bot.web.pages import alert_page as alert_page_data
from bot.web.users import WebUser

FLASH_COOKIE = "hotloop_flash"
FLASH_MAX = 600  # characters of a message carried to the next page

router = APIRouter()


@dataclass(frozen=True)
class Flash:
    ok: bool
    message: str


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


NOT_FOUND = "There is no such alert, or it is not in your teams."


def not_found(request: Request, what: str = NOT_FOUND) -> HTMLResponse:
    return render(request, "message.html.j2", {"heading": "Not found", "lines": [what], "tone": "warn"},
                  status_code=404)


async def _page_context(request: Request, user: WebUser, key: str) -> dict[str, Any] | None:
    page = await alert_page_data(_ctx(request), user, key)
    if page is None:
        return None
    return {**page, "events_url": events.stream_url(page["newest_event"])}


@router.get("/app/alerts/{key}", response_class=HTMLResponse)
async def alert_page(request: Request, key: str, user: WebUser = Depends(require_user)) -> Response:
    context = await _page_context(request, user, key)
    if context is None:
        return not_found(request)
    flash = read_flash(request, key)
    response = render(request, "alert.html.j2", {**context, "flash": flash})
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE, path="/app")
    return response


@router.get("/app/alerts/{key}/fragment", response_class=HTMLResponse)
async def alert_fragment(request: Request, key: str, user: WebUser = Depends(require_user)) -> Response:
    """The page's live sections alone, for app.js to swap in when the alert changed."""
    context = await _page_context(request, user, key)
    if context is None:
        return not_found(request)
    return render(request, "_alert_sections.html.j2", context)


@router.post("/app/alerts/{key}/{name}")
async def act(request: Request, key: str, name: str,
              form: dict[str, str] = Depends(require_csrf)) -> Response:
    user = await require_user(request)  # cached by require_csrf
    web_action = web_actions().get(name)
    if web_action is None:
        return not_found(request, f"There is no action {name!r}.")
    ctx = _ctx(request)
    prepared = await action_form(ctx, user, key, web_action)
    if not prepared.found:
        return not_found(request)
    if prepared.shown is None:
        return _back(request, key, Flash(False, prepared.refused or "You cannot do that now."))
    shown = prepared.shown
    args, error = read_posted(shown, form)
    if error is not None:
        return render(request, "message.html.j2", {"heading": "Check the form", "tone": "warn",
                                                   "lines": [error]}, status_code=422)
    reply = await run_action(ctx, ActionRequest(web_action.action, key, actor=user.actor, args=args))
    return _back(request, key, Flash(reply.ok, reply.message))


def _back(request: Request, key: str, flash: Flash) -> Response:
    """303 to the alert's page, which shows `flash` once."""
    response = RedirectResponse(f"/app/alerts/{key}", status_code=303)
    set_flash(response, key, flash, secure=request.url.scheme == "https")
    return response


def set_flash(response: Response, key: str, flash: Flash, *, secure: bool) -> None:
    """What happened, for the next page only (a cookie: the message is never in a URL)."""
    raw = json.dumps({"k": key, "ok": flash.ok, "m": flash.message[:FLASH_MAX]}).encode()
    response.set_cookie(FLASH_COOKIE, base64.urlsafe_b64encode(raw).decode(), max_age=60, path="/app",
                        httponly=True, samesite="lax", secure=secure)


def read_flash(request: Request, key: str) -> Flash | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or len(raw) > 4 * FLASH_MAX:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict) or data.get("k") != key or not isinstance(data.get("m"), str):
        return None
    return Flash(bool(data.get("ok")), data["m"])
