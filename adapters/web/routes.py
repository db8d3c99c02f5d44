"""`mount_web(app)`: the dashboard's foundation under /app — static files, sign-in and sign-out, the
security headers, and the answers for requests without a session (401) or without a CSRF token (403).

Pages (queue, alert, figures, events) are mounted by their own modules and depend on
`adapters.web.session.require_user` / `require_csrf`.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from adapters.web.login import SIGN_IN_HINT, message, mount_login
from adapters.web.security import SecurityHeaders
from adapters.web.session import CsrfRefused, FormRefused, SignInRequired
from adapters.web.templating import STATIC


def wants_json(request: Request) -> bool:
    """Event streams, fetches and JSON endpoints get `{"error": …}`; browsers get a page."""
    accept = request.headers.get("accept", "")
    if request.url.path.endswith(".json") or "text/event-stream" in accept:
        return True
    return "application/json" in accept and "text/html" not in accept


def _refusal(request: Request, status: int, heading: str, lines: list[str]) -> Response:
    if wants_json(request):
        return JSONResponse({"error": " ".join([heading + ".", *lines])}, status_code=status)
    return message(request, status=status, heading=heading, lines=lines, tone="error")


def install_web_errors(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, _exc: SignInRequired) -> Response:
        # says nothing about what is behind the page: no alert, no team, no customer
        return _refusal(request, 401, "Please sign in", [SIGN_IN_HINT])

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _exc: CsrfRefused) -> Response:
        return _refusal(request, 403, "This form has expired",
                        ["Nothing was changed. Go back, reload the page and try again."])

    @app.exception_handler(FormRefused)
    async def form_refused(request: Request, _exc: FormRefused) -> Response:
        return _refusal(request, 400, "This form could not be read",
                        ["Nothing was changed. It may be too long (at most 64 KB)."])


def mount_web(app: FastAPI) -> None:
    app.mount("/app/static", StaticFiles(directory=STATIC), name="web-static")
    mount_login(app)
    install_web_errors(app)
    app.add_middleware(SecurityHeaders)
