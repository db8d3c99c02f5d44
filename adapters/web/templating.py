"""Jinja2 for the dashboard: autoescaped templates in adapters/web/templates/, rendered to HTMLResponse.

Every page extends `base.html.j2` (blocks `title` and `content`), which links /app/static/app.css and
app.js: no inline script or style anywhere (the Content-Security-Policy forbids them). The signed-in user
(`user`, a `WebUser`) and the CSRF field (`csrf_field`, `csrf_token`) are in every template's context.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.web.users import WebUser

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
CSRF_FIELD = "csrf_token"  # the hidden input every form carries (session.CSRF_FIELD is this name)
PAGE_HEADERS = {"Cache-Control": "no-store"}


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("j2", "html"), default_for_string=True,
                                     default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def current_user(request: Request) -> WebUser | None:
    """The user `require_user` put on the request, if this page has one."""
    user = getattr(request.state, "web_user", None)
    return user if isinstance(user, WebUser) else None


def render(request: Request, template: str, context: dict[str, Any], *, status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    user = current_user(request)
    variables: dict[str, Any] = {
        "user": user,
        "csrf_field": CSRF_FIELD,
        "csrf_token": user.csrf_token if user is not None else "",
        "request_path": request.url.path,
    }
    variables.update(context)
    html = environment().get_template(template).render(variables)
    return HTMLResponse(html, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})})
