"""What the sign-in routes share (adapters/web/login.py: chat links, oidc.py: OpenID Connect): the
message page, the per-client throttle, and the answer that opens a session with its cookie.

The session cookie is `HttpOnly; SameSite=Lax; Path=/app` (+ `Secure` behind https). Lax on purpose,
also for Teams: inside the Teams tab (a cross-site iframe) a Lax cookie is not sent, and it stays so —
SameSite=None would send the session with every cross-site request, and third-party cookies are
blocked in many browsers anyway. The tab page (/app/tab) needs no session: it opens the dashboard in
the browser, where the cookie works (see login.py).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapters.rate_limit import ClientRateLimit
from adapters.web.session import COOKIE
from adapters.web.templating import render
from bot.web.signin import SESSION_SECONDS, NewSession

SIGN_IN_HINT = "Sign in from chat: type /hotloop web in Slack, or web to the hotloop bot in Teams."
NO_REFERRER = {"Referrer-Policy": "no-referrer"}  # a token or an authorization code is in the URL


def oidc_configured(request: Request) -> bool:
    return bool(request.app.state.ctx.settings.oidc_enabled)


def message(request: Request, *, status: int, heading: str, lines: list[str], tone: str = "info",
            headers: dict[str, str] | None = None) -> HTMLResponse:
    variables = {"heading": heading, "lines": lines, "tone": tone, "oidc": oidc_configured(request)}
    return render(request, "message.html.j2", variables, status_code=status, headers=headers)


def throttled(request: Request) -> HTMLResponse | None:
    """429 when this client asked for sign-in pages too often (links and codes are not guessable, but
    each try costs a database read, or a call to the provider)."""
    limiter: ClientRateLimit | None = getattr(request.app.state, "web_login_limiter", None)
    if limiter is None:
        settings = request.app.state.ctx.settings
        limiter = request.app.state.web_login_limiter = ClientRateLimit(
            per_minute=settings.public_page_per_minute, burst=settings.public_page_burst)
    wait = limiter.retry_after(request.client.host if request.client else "unknown")
    if wait is None:
        return None
    return message(request, status=429, heading="Too many attempts", lines=["Wait a minute and try again."],
                   tone="error", headers={"Retry-After": str(wait), **NO_REFERRER})


def secure_cookie(request: Request) -> bool:
    return request.url.scheme == "https" or request.app.state.ctx.settings.public_url.startswith("https")


def signed_in(request: Request, opened: NewSession) -> Response:
    """303 → /app with the session cookie (the cookie never reaches other paths or scripts)."""
    response = RedirectResponse("/app", status_code=303, headers=NO_REFERRER)
    response.set_cookie(COOKIE, opened.token, max_age=SESSION_SECONDS, path="/app", httponly=True,
                        samesite="lax", secure=secure_cookie(request))
    return response
