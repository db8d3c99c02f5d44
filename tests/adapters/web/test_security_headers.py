"""Every /app response carries the Content-Security-Policy (this origin only, no inline code; framed by
this origin only, or also by Teams' hosts when Teams is configured), nosniff and a same-origin referrer
policy; pages are never cached; without a session every /app page answers 401 and shows no alert data;
no page holds inline script or style. The Teams tab's page (/app/tab) needs no session and holds none."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.web.security import CSP, CSP_TEAMS
from bot.web.signin import LOGIN_PATH
from tests.adapters.web.signin_helpers import login_token, sign_in
from tests.appserver import AppServer, AppWithChats

DETRACTOR = {"id": "r-1", "nps": 1, "customer": {"name": "Dana Secretname", "email": "dana@example.com"},
             "comment": "Unforgettable rudeness at the till", "attributes": {"location": "042"}}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=|\son[a-z]+\s*=", re.IGNORECASE)
PAGES_WITHOUT_SESSION = ["/app", "/app/alerts/HA-1", "/app/figures", "/app/events", "/app/queue/fragment"]


@pytest.fixture
async def server(app_with_chats: AppWithChats) -> AsyncIterator[AppServer]:
    async with app_with_chats(admins=["slack:U0ADMIN"], public_url="http://127.0.0.1") as server:
        yield server


async def new_alert(server: AppServer) -> str:
    reply = await server.post_feedback(DETRACTOR)
    assert reply.status_code == 202, reply.text
    return str(reply.json()["alert"])


def assert_secured(reply: httpx.Response, *, page: bool = True, teams: bool = False) -> None:
    assert reply.headers.get("content-security-policy") == (CSP_TEAMS if teams else CSP), reply.request.url
    # X-Frame-Options cannot name Teams' hosts: with Teams it is left to frame-ancestors
    assert reply.headers.get("x-frame-options") == (None if teams else "SAMEORIGIN"), reply.request.url
    assert reply.headers.get("x-content-type-options") == "nosniff"
    assert reply.headers.get("referrer-policy") in ("same-origin", "no-referrer")
    if page:
        assert reply.headers.get("cache-control") == "no-store", reply.request.url


def assert_no_inline_code(html: str) -> None:
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html)
    assert not INLINE_STYLE.search(html), INLINE_STYLE.search(html)


@pytest.mark.parametrize("policy", [CSP, CSP_TEAMS])
def test_the_policy_allows_no_inline_code_and_no_other_origin(policy: str) -> None:
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == directives["script-src"] == directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'" and directives["img-src"] == "'self' data:"
    assert "unsafe" not in policy and "http:" not in policy
    assert "*" not in policy.replace("https://*.", "")
    assert directives["base-uri"] == directives["object-src"] == "'none'"
    assert directives["form-action"] == "'self'"
    others = [d for name, d in directives.items() if name != "frame-ancestors"]
    assert not any("microsoft" in d or "office" in d for d in others)  # Teams may frame, not serve code


def test_only_teams_hosts_may_frame_the_dashboard_and_only_with_teams() -> None:
    def ancestors(policy: str) -> list[str]:
        return dict(part.strip().split(" ", 1) for part in policy.split(";"))["frame-ancestors"].split()

    assert ancestors(CSP) == ["'self'"]
    assert ancestors(CSP_TEAMS) == ["'self'", "https://teams.microsoft.com", "https://*.teams.microsoft.com",
                                    "https://*.cloud.microsoft", "https://*.office.com"]


async def test_without_a_session_every_page_is_401_with_no_alert_data(server: AppServer) -> None:
    key = await new_alert(server)
    for path in [*PAGES_WITHOUT_SESSION, f"/app/alerts/{key}"]:
        reply = await server.client.get(path, headers={"accept": "text/html"})
        assert reply.status_code == 401, (path, reply.status_code)
        assert_secured(reply)
        assert "/hotloop web" in reply.text
        for secret in (key, "Dana", "Secretname", "dana@example.com", "Unforgettable", "042"):
            assert secret not in reply.text, (path, secret)
        assert_no_inline_code(reply.text)


async def test_event_streams_and_json_get_401_json(server: AppServer) -> None:
    for accept in ("text/event-stream", "application/json"):
        reply = await server.client.get("/app/events", headers={"accept": accept})
        assert reply.status_code == 401 and reply.headers["content-type"].startswith("application/json")
        assert "/hotloop web" in reply.json()["error"]
        assert_secured(reply)


async def test_a_forged_cookie_is_401(server: AppServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, cookies={"hotloop_session": "x" * 43}) as forged:
        assert (await forged.get("/app")).status_code == 401
    async with httpx.AsyncClient(base_url=server.url, cookies={"hotloop_session": "x" * 5000}) as huge:
        assert (await huge.get("/app")).status_code in (401, 431, 400)


async def test_sign_in_pages_and_static_files_carry_the_headers(server: AppServer) -> None:
    token = await login_token(server)
    for path in ("/app/login", f"{LOGIN_PATH}{token}", f"{LOGIN_PATH}w1.bad"):
        reply = await server.client.get(path)
        assert_secured(reply)
        assert_no_inline_code(reply.text)
        assert '<link rel="stylesheet" href="/app/static/app.css">' in reply.text
        assert '<script src="/app/static/app.js" defer></script>' in reply.text
    assert (await server.client.get(f"{LOGIN_PATH}{token}")).headers["referrer-policy"] == "no-referrer"
    for name, kind in (("app.css", "text/css"), ("app.js", "javascript")):
        reply = await server.client.get(f"/app/static/{name}")
        assert reply.status_code == 200 and kind in reply.headers["content-type"]
        assert_secured(reply, page=False)
        assert reply.headers.get("cache-control") != "no-store"
    assert (await server.client.get("/app/static/nothing.js")).status_code == 404


async def test_signed_in_pages_carry_the_headers(server: AppServer) -> None:
    key = await new_alert(server)
    web = await sign_in(server, user_id="U0ADMIN", name="root")
    try:
        for path in ("/app", f"/app/alerts/{key}"):
            reply = await web.client.get(path)
            assert reply.status_code == 200, (path, reply.text[:300])
            assert_secured(reply)
            assert_no_inline_code(reply.text)
            assert 'action="/app/logout"' in reply.text and f'value="{web.csrf}"' in reply.text
            assert "role-admin" in reply.text
    finally:
        await web.aclose()


async def test_other_paths_keep_their_own_headers(server: AppServer) -> None:
    reply = await server.client.get("/healthz")
    assert reply.status_code == 200 and reply.headers.get("content-security-policy") != CSP


async def test_the_teams_tab_page_needs_no_session_and_shows_no_data(server: AppServer) -> None:
    key = await new_alert(server)
    reply = await server.client.get("/app/tab")
    assert reply.status_code == 200 and "set-cookie" not in reply.headers
    assert_secured(reply)
    assert_no_inline_code(reply.text)
    assert 'href="/app" target="_blank" rel="noopener noreferrer"' in reply.text  # opens outside the frame
    assert "/hotloop web" in reply.text and "/app/login/oidc" not in reply.text  # OIDC is off here
    assert key not in reply.text and "Dana" not in reply.text


async def test_with_teams_configured_teams_may_frame_every_app_page(app_with_chats: AppWithChats) -> None:
    public = "http://127.0.0.1"  # a Secure cookie would not come back over the test's plain http
    async with app_with_chats(teams=True, admins=["slack:U0ADMIN"], public_url=public) as server:
        key = await new_alert(server)
        web = await sign_in(server, user_id="U0ADMIN", name="root")
        try:
            for path in ("/app", f"/app/alerts/{key}", "/app/tab"):
                reply = await web.client.get(path)
                assert reply.status_code == 200, (path, reply.status_code)
                assert_secured(reply, teams=True)
        finally:
            await web.aclose()
        for path in ("/app/tab", "/app/figures"):  # signed in or not, pages or refusals
            assert_secured(await server.client.get(path), teams=True)
        assert_secured(await server.client.get("/app/static/app.css"), page=False, teams=True)
        token = await login_token(server)
        for path in ("/app/login", f"{LOGIN_PATH}{token}", "/app/login/oidc"):  # never inside a frame
            assert_secured(await server.client.get(path))
