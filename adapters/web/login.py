"""Signing in to the dashboard with a link from chat, and signing out; the page of the Teams tab.

`GET /app/login/<token>` only shows whom the link signs in, with one button: opening a link changes
nothing, so chat and mail link scanners that fetch every URL do not burn it. `POST /app/login/<token>`
uses it (once, within five minutes), writes a session and sets the `hotloop_session` cookie (HttpOnly,
SameSite=Lax, Path=/app, Secure behind https), then 303 → /app. A link that is not one of ours → 400, a
used or expired one → 403, each with a page that says why and opens no session.
`POST /app/logout` (CSRF) revokes the session and clears the cookie.

`GET /app/tab` is the Teams "Alerts" tab (manifest/teams). Teams shows it in a cross-site iframe where
the SameSite=Lax session cookie is not sent (and third-party cookies are often blocked), so the tab does
not try to be the dashboard: it needs no session, shows no alert data, and opens the dashboard in the
browser, where the chat link or OpenID Connect signs in: through Teams (`app.openLink`, static/tab.js
with the vendored TeamsJS, which also tells Teams the tab has loaded), else `target="_blank"`.
Sign-in pages may not be framed at all, even by Teams (adapters/web/security.py).
OpenID Connect routes (oidc.py) are mounted first: /app/login/oidc is not a link token.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapters.web.oidc import mount_oidc
from adapters.web.session import COOKIE, require_csrf, require_user, web_now
from adapters.web.signin_pages import (
    NO_REFERRER,
    SIGN_IN_HINT,
    message,
    oidc_configured,
    secure_cookie,
    signed_in,
    throttled,
)
from adapters.web.templating import render
from bot.web.sessions import end_session
from bot.web.signin import SigninLinks, SigninState, redeem
from bot.web.signin import check as check_link
from bot.web.users import WebUser

__all__ = ["SIGN_IN_HINT", "message", "mount_login"]

PLATFORMS = {"slack": "Slack", "teams": "Microsoft Teams"}
REFUSALS: dict[SigninState, tuple[int, str, str]] = {
    SigninState.INVALID: (400, "This is not a valid sign-in link",
                          "It may have been cut short or changed when it was copied."),
    SigninState.USED: (403, "This sign-in link was already used",
                       "Each link signs in once. Ask for a new one if you need to sign in again."),
    SigninState.EXPIRED: (403, "This sign-in link has expired",
                          "Links work for five minutes. Ask for a new one."),
}


def signin_links(request: Request) -> SigninLinks:
    links: SigninLinks | None = getattr(request.app.state, "web_signin_links", None)
    if links is None:
        links = request.app.state.web_signin_links = SigninLinks.from_settings(request.app.state.ctx.settings)
    return links


def _refused(request: Request, state: SigninState) -> HTMLResponse:
    status, heading, why = REFUSALS[state]
    return message(request, status=status, heading=heading, lines=[why, SIGN_IN_HINT], tone="error",
                   headers=NO_REFERRER)


def mount_login(app: FastAPI) -> None:
    mount_oidc(app)

    @app.get("/app/tab", include_in_schema=False)
    async def teams_tab(request: Request) -> HTMLResponse:
        return render(request, "tab.html.j2", {"hint": SIGN_IN_HINT, "oidc": oidc_configured(request)})

    @app.get("/app/login", include_in_schema=False)
    async def login_help(request: Request) -> HTMLResponse:
        return message(request, status=200, heading="Sign in to hotloop", lines=[SIGN_IN_HINT])

    @app.get("/app/login/{token}", include_in_schema=False)
    async def login_page(token: str, request: Request) -> HTMLResponse:
        if (busy := throttled(request)) is not None:
            return busy
        checked = await check_link(request.app.state.ctx.sessions, signin_links(request), token=token,
                                   now=web_now(request))
        if checked.state is not SigninState.OK or checked.signin is None:
            return _refused(request, checked.state)
        signin = checked.signin
        return render(request, "login.html.j2", {
            "name": signin.user_name, "platform_label": PLATFORMS.get(signin.platform, signin.platform),
            "action": f"/app/login/{token}"}, headers=NO_REFERRER)

    @app.post("/app/login/{token}", include_in_schema=False)
    async def login(token: str, request: Request) -> Response:
        if (busy := throttled(request)) is not None:
            return busy
        checked, opened = await redeem(request.app.state.ctx.sessions, signin_links(request), token=token,
                                       now=web_now(request))
        if opened is None:
            return _refused(request, checked.state)
        return signed_in(request, opened)

    @app.post("/app/logout", include_in_schema=False)
    async def logout(request: Request, _form: dict[str, str] = Depends(require_csrf),
                     user: WebUser = Depends(require_user)) -> Response:
        await end_session(request.app.state.ctx.sessions, session_id=user.session_id, now=web_now(request))
        response = RedirectResponse("/app/login", status_code=303)
        response.delete_cookie(COOKIE, path="/app", httponly=True, samesite="lax",
                               secure=secure_cookie(request))
        return response
