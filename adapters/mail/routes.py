"""One-click unsubscribe (RFC 8058) at `/u/<token>`, the link every automatic e-mail carries.

`POST /u/<token>` (what a mailbox's "Unsubscribe" button sends, body `List-Unsubscribe=One-Click`, no
cookie, no page) puts the address on the suppression list at once. `GET` only shows a small confirmation
page whose button makes that POST: link scanners that open every URL in a message unsubscribe no one.
A token this server did not sign gets a 404 page; nothing is stored.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from bot.context import Context
from bot.domain import utcnow
from bot.mail.kit import MailKit
from bot.mail.language import DEFAULT
from bot.mail.sending import unsubscribe

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'",
}


def mail_kit(request: Request) -> MailKit:
    kit: MailKit | None = getattr(request.app.state, "mail_kit", None)
    if kit is None:
        ctx: Context = request.app.state.ctx
        kit = request.app.state.mail_kit = MailKit.from_settings(ctx.settings)
    return kit


def _page(kit: MailKit, *, state: str, language: str, status: int = 200, action: str = "") -> HTMLResponse:
    html = kit.templates.page("unsubscribe", language=language, state=state, action=action)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def mount_mail(app: FastAPI) -> None:
    @app.get("/u/{token}", include_in_schema=False)
    async def confirm_unsubscribe(token: str, request: Request) -> HTMLResponse:
        kit = mail_kit(request)
        claim = kit.links.read_unsubscribe(token)
        if claim is None:
            return _page(kit, state="invalid", language=DEFAULT, status=404)
        return _page(kit, state="confirm", language=claim.language, action=f"/u/{token}")

    @app.post("/u/{token}", include_in_schema=False)
    async def one_click_unsubscribe(token: str, request: Request) -> HTMLResponse:
        kit = mail_kit(request)
        ctx: Context = request.app.state.ctx
        claim = await unsubscribe(ctx.sessions, kit, token=token, now=utcnow())
        if claim is None:
            return _page(kit, state="invalid", language=DEFAULT, status=404)
        return _page(kit, state="done", language=claim.language)
