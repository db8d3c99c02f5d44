"""The figures page (/app/figures) and the digest's chart (/app/charts/week.png) through the real app over
HTTP, on SQLite and PostgreSQL: a session for the page, a signed unexpired link for the picture, per-person
figures only where HOTLOOP_EMPLOYEE_FIGURES allows, and the customer's words never markup."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from PIL import Image

from bot.settings import Role
from bot.web.chart_links import signed_chart_url
from bot.web.figures import FigureMemo
from storage.types import utcnow
from tests.adapters.web.queue_helpers import add_alert, add_team, default_team_id
from tests.adapters.web.signin_helpers import SignedIn, sign_in
from tests.appserver import AppServer, AppWithChats

ADMIN_ID = "U0ADMIN"
PUBLIC_URL = "http://127.0.0.1"  # http: the session cookie of an https public URL is Secure-only
HOSTILE_LOCATION = '<img src=x onerror="alert(1)">'
HOSTILE_EMPLOYEE = "<script>alert('Zed Employee')</script>"


async def _history(server: AppServer) -> int:
    """Three alerts this week: one contacted after 10 minutes, at a location and by an employee whose
    names are markup; a second team of its own."""
    now = utcnow()
    team = await default_team_id(server)
    await add_team(server, "second")
    people = {"location": HOSTILE_LOCATION, "employee": HOSTILE_EMPLOYEE}
    for i in range(3):
        created = now - timedelta(minutes=30 + i)
        await add_alert(server, f"HA-{i + 1}", created_at=created, feedback={"attributes": people},
                        first_contact_at=created + timedelta(minutes=10) if i == 0 else None)
    return team


@pytest.fixture
async def server(app_with_chats: AppWithChats) -> AsyncIterator[AppServer]:
    async with app_with_chats(public_url=PUBLIC_URL, admins=[f"slack:{ADMIN_ID}"],
                              systemic_min_count=1_000_000) as server:
        yield server


@pytest.fixture
async def admin(server: AppServer) -> AsyncIterator[SignedIn]:
    web = await sign_in(server, user_id=ADMIN_ID, name="root")
    yield web
    await web.aclose()


async def test_the_figures_need_a_session(server: AppServer) -> None:
    await _history(server)
    reply = await server.client.get("/app/figures", headers={"accept": "text/html"})
    assert reply.status_code == 401
    assert "<svg" not in reply.text and "Busiest" not in reply.text


async def test_a_signed_in_manager_sees_the_charts_with_the_customers_words_inert(
    server: AppServer, admin: SignedIn
) -> None:
    await _history(server)
    reply = await admin.client.get("/app/figures")
    assert reply.status_code == 200, reply.text
    page = reply.text
    assert page.count("<svg") >= 6 and 'role="img"' in page  # the overall charts, the teams' small ones
    assert "Time to first contact by week" in page and "Busiest locations" in page
    assert "Busiest employees" in page and "Zed Employee" in page  # on by default
    assert "10 min" in page or "10m" in page or "600" in page  # the one contact, in the data table
    for raw in (HOSTILE_LOCATION, HOSTILE_EMPLOYEE, "<script>"):
        assert raw not in page
    assert "&lt;img src=x" in page and "&lt;script&gt;alert(" in page
    assert "<script" not in page.split("<body", 1)[1]  # no JavaScript at all, none smuggled in


async def test_bad_filters_are_a_400_with_a_reason(server: AppServer, admin: SignedIn) -> None:
    for query in ("weeks=0", "weeks=abc", "weeks=53", "team=x", "team=999"):
        reply = await admin.client.get(f"/app/figures?{query}")
        assert reply.status_code == 400, query
        assert "Bad request" in reply.text


async def test_per_person_figures_are_hidden_when_turned_off(app_with_chats: AppWithChats) -> None:
    async with app_with_chats(public_url=PUBLIC_URL, admins=[f"slack:{ADMIN_ID}"],
                              systemic_min_count=1_000_000, employee_figures=False) as server:
        await _history(server)
        web = await sign_in(server, user_id=ADMIN_ID, name="root")
        try:
            page = (await web.client.get("/app/figures")).text
        finally:
            await web.aclose()
    assert "Busiest locations" in page
    assert "Busiest employees" not in page and "Zed Employee" not in page
    assert "Per-person figures are off" in page


async def test_the_signed_chart_link_serves_a_png_and_nothing_else_does(server: AppServer) -> None:
    team = await _history(server)
    url = signed_chart_url(server.ctx.settings, team_id=team, now=utcnow())
    assert url is not None and url.startswith(f"{PUBLIC_URL}/app/charts/week.png?")
    path = url.removeprefix(PUBLIC_URL)
    reply = await server.client.get(path)  # no session: the link is the right to the picture
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(reply.content))
    image.load()
    assert image.size == (800, 400)

    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    tampered = [
        {**params, "sig": params["sig"][:-2] + ("AA" if not params["sig"].endswith("AA") else "BB")},
        {**params, "team": str(team + 1)},  # the same signature for another team
        {**params, "exp": str(int(params["exp"]) + 3600)},  # a later expiry
        {k: v for k, v in params.items() if k != "sig"},
        {**params, "exp": "soon"},
    ]
    expired = signed_chart_url(server.ctx.settings, team_id=team, now=utcnow() - timedelta(days=8))
    assert expired is not None
    for query in [urlencode(p) for p in tampered] + [urlsplit(expired).query]:
        refused = await server.client.get(f"/app/charts/week.png?{query}")
        assert refused.status_code == 403, query
        assert refused.headers["content-type"].startswith("text/plain") and b"PNG" not in refused.content[:8]


async def test_no_chart_link_without_a_public_url(app_with_chats: AppWithChats) -> None:
    async with app_with_chats(public_url="") as server:
        assert signed_chart_url(server.ctx.settings, team_id=1, now=utcnow()) is None



async def test_a_web_process_preloads_the_figures_at_start(app_with_chats: AppWithChats) -> None:
    """hotloop/app.py starts adapters/web/figures_routes.py `preload_figures` for roles web and all: the
    process's memo exists before any figures page was asked for."""
    async with app_with_chats(role=Role.WEB) as web:
        memo = None
        for _ in range(100):
            memo = getattr(web.app.state, "figure_memo", None)
            if isinstance(memo, FigureMemo):
                break
            await asyncio.sleep(0.05)
        assert isinstance(memo, FigureMemo)


async def test_a_worker_process_preloads_no_figures(app_with_chats: AppWithChats) -> None:
    async with app_with_chats(role=Role.WORKER) as worker:
        await asyncio.sleep(0.3)
        assert getattr(worker.app.state, "figure_memo", None) is None


async def test_a_page_asked_for_during_the_start_up_preload_waits_for_it(
    server: AppServer, admin: SignedIn
) -> None:
    """adapters/web/figures_routes.py: rather than parse every kept day a second time beside the
    preload, the page waits for it — and is answered once it ends."""
    await _history(server)
    release = asyncio.Event()

    async def preload_still_running() -> None:
        await release.wait()

    server.app.state.figure_preload = asyncio.create_task(preload_still_running())
    page = asyncio.create_task(admin.client.get("/app/figures"))
    await asyncio.sleep(0.5)
    assert not page.done()  # waiting on the preload
    release.set()
    reply = await asyncio.wait_for(page, timeout=10)
    assert reply.status_code == 200 and "Busiest locations" in reply.text
