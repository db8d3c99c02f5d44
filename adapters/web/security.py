"""Security headers on every /app response (pages, static files, event streams, errors).

A pure ASGI middleware (no buffering: server-sent events stream through). The Content-Security-Policy
allows this origin only — no inline script or style, no third-party origin. Framing: by default only
this origin may frame the dashboard (`frame-ancestors 'self'`, and `X-Frame-Options: SAMEORIGIN` for
old browsers). When Teams is configured, the Teams tab (manifest/teams) frames /app/tab, so Teams' hosts
are added — Microsoft's list for tabs (learn.microsoft.com, "Prerequisites" of Teams tabs) — and
X-Frame-Options is left out: it cannot name them, and a DENY or SAMEORIGIN would blank the tab. Sign-in
pages (/app/login…) keep the strict framing even then: nobody needs to sign in inside a frame (the tab
opens them in the browser), so nobody can dress their buttons up in one.
Pages are never cached (they show customers' data), static files are.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TEAMS_FRAME_ANCESTORS = (
    "https://teams.microsoft.com", "https://*.teams.microsoft.com", "https://*.cloud.microsoft",
    "https://*.office.com",
)


def content_security_policy(*, teams: bool) -> str:
    """The dashboard's policy; `teams`: Teams' hosts may frame it (the Alerts tab)."""
    ancestors = " ".join(("'self'", *(TEAMS_FRAME_ANCESTORS if teams else ())))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"frame-ancestors {ancestors}; form-action 'self'; base-uri 'none'; object-src 'none'"
    )


CSP = content_security_policy(teams=False)
CSP_TEAMS = content_security_policy(teams=True)
PREFIX = "/app"
STATIC_PREFIX = "/app/static/"
LOGIN_PREFIX = "/app/login"
COMMON: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


def headers_for(*, teams: bool) -> tuple[tuple[bytes, bytes], ...]:
    if teams:
        return ((b"content-security-policy", CSP_TEAMS.encode()), *COMMON)
    return ((b"content-security-policy", CSP.encode()), (b"x-frame-options", b"SAMEORIGIN"), *COMMON)


STRICT = headers_for(teams=False)


def _under_app(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def _teams_configured(app: Any) -> bool | None:
    """Whether the app serves Teams (from its settings), or None before its lifespan opened them."""
    ctx = getattr(getattr(app, "state", None), "ctx", None)
    settings = getattr(ctx, "settings", None)
    return None if settings is None else bool(settings.teams_enabled)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._headers: tuple[tuple[bytes, bytes], ...] | None = None  # settings are frozen: read once

    def _current(self, scope: Scope) -> tuple[tuple[bytes, bytes], ...]:
        if self._headers is not None:
            return self._headers
        teams = _teams_configured(scope.get("app"))
        if teams is None:  # no settings yet: the strictest framing
            return STRICT
        self._headers = headers_for(teams=teams)
        return self._headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _under_app(str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        static = str(scope["path"]).startswith(STATIC_PREFIX)
        headers = STRICT if str(scope["path"]).startswith(LOGIN_PREFIX) else self._current(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                added = [header for header in headers if header[0] not in names]
                if not static and b"cache-control" not in names:
                    added.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
