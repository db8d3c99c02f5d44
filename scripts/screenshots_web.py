"""Screenshots of the dashboard for the README: the sign-in page, the queue, an alert's page with its
timeline, and the figures page, in Debian's Chromium driven by Playwright (nothing is downloaded).

    apt-get install -y chromium           # Debian's Chromium (once)
    .venv/bin/python scripts/screenshots_web.py            # writes docs/web/{login,queue,alert,figures}.png

It serves the real app on a throw-away SQLite file with the data `hotloop demo` makes (the demo's own
walk-through: five signed responses through the webhook, the e-mails through an in-process SMTP sink, one
loop closed and reopened by the customer), adds a little more chat activity (claims, a note, a snooze,
an escalation), then signs in the way a user does: a link as `/hotloop web` makes one, opened, "Sign in"
pressed. Not run in CI (Chromium is heavy); run it when the pages change.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import select
from sqlmodel import col

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # a script run from anywhere: hotloop's packages live at the root

from bot.actions.table import ActionId, ActionRequest, handle  # noqa: E402
from bot.alerts.lifecycle import Actor  # noqa: E402
from bot.context import Context  # noqa: E402
from bot.domain import utcnow  # noqa: E402
from bot.settings import Settings, build_settings  # noqa: E402
from bot.web.signin import LOGIN_PATH, SigninLinks, issue  # noqa: E402
from hotloop.demo import _walk_through, free_port  # noqa: E402
from hotloop.demo_mail import SmtpSink, mail_settings  # noqa: E402
from storage import queries  # noqa: E402
from storage.db import transaction  # noqa: E402
from storage.models import Alert, AlertEvent, Feedback, Team  # noqa: E402

CHROMIUM = Path(shutil.which("chromium") or "chromium")  # Debian's chromium package
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--hide-scrollbars", "--force-device-scale-factor=1"]
OUT = ROOT / "docs" / "web"
WIDTH, HEIGHT = 1280, 860
ADMIN = Actor(id="U0ANA", name="Ana", platform="slack")  # the one who signs in: an admin, sees every team
MARCO = Actor(id="U0MARCO", name="Marco", platform="slack")
ALERT_SHOWN = "HA-1001"  # the demo's detractor: claimed, called, resolved, reopened by the customer
WAIT_MS = 15_000
HISTORY = 160  # resolved alerts over the past HISTORY_WEEKS, so the figures page has weeks to draw
HISTORY_WEEKS = 11
STAFF = ("Jessica C", "Marco P", "Lena K", "Omar B", "Priya S")

# more of what a team does in chat, so the queue shows more than "open": (actor, action, key, args)
CHAT_ACTIVITY: list[tuple[Actor, ActionId, str, dict[str, str]]] = [
    (MARCO, ActionId.NOTE, "HA-1001", {"note": "Customer answered 'not fixed': calling again after 5pm."}),
    (MARCO, ActionId.CLAIM, "HA-1002", {}),
    (MARCO, ActionId.SNOOZE, "HA-1002", {"until": "1d", "reason": "Customer asked for a call tomorrow"}),
    (ADMIN, ActionId.ESCALATE, "HA-1003", {}),
]


def settings_for(folder: Path, sink: SmtpSink, base_url: str) -> Settings:
    return build_settings(mode="demo", database_url=f"sqlite+aiosqlite:///{folder / 'demo.db'}",
                          log_level="warning", log_json=False, admins=[f"slack:{ADMIN.id}"],
                          **mail_settings(sink, public_url=base_url))


@asynccontextmanager
async def serving(settings: Settings, port: int) -> AsyncIterator[Any]:
    """The real app under uvicorn on a loopback port (migrated first, as `hotloop serve` does)."""
    from hotloop.app import create_app
    from storage.migrate import upgrade

    async def migrate(s: Settings) -> None:
        await upgrade(s.effective_database_url)

    app = create_app(settings, prepare_schema=migrate)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                raise SystemExit(f"the server could not start on port {port}")
            await asyncio.sleep(0.05)
        yield app
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)


def _history_alert(i: int, now: datetime, rng: random.Random, team: int, source: int
                   ) -> tuple[Feedback, dict[str, Any], list[tuple[str, datetime]]]:
    """One past response alert, claimed (mostly in time), contacted and resolved; its events."""
    created = now - timedelta(weeks=HISTORY_WEEKS) + timedelta(weeks=HISTORY_WEEKS) * i / HISTORY
    claimed = created + timedelta(minutes=rng.expovariate(1 / (25 + 10 * (i % 4))))
    contacted = claimed + timedelta(minutes=rng.expovariate(1 / 40))
    resolved = contacted + timedelta(hours=rng.expovariate(1 / 6))
    employee = STAFF[i % len(STAFF)]
    feedback = Feedback(source_id=source, external_id=f"history-{i}", received_at=created,
                        customer_name=f"Customer {i}", nps=rng.randint(0, 6),
                        comment="Waited too long at the counter.",
                        attributes={"location": ("042", "017", "023", "031")[i % 4], "employee": employee})
    alert = {"key": f"HA-{101 + i}", "severity": ("critical", "high", "normal")[i % 3], "status": "resolved",
             "team_id": team, "created_at": created, "updated_at": resolved, "claimed_at": claimed,
             "resolved_at": resolved, "first_contact_at": contacted if i % 7 else None,
             "claim_due_at": created + timedelta(hours=1), "resolve_due_at": created + timedelta(hours=8),
             "owner_id": f"U0{i % len(STAFF)}", "owner_name": employee, "owner_platform": "slack",
             "outcome": "recovered" if i % 4 else "contacted_not_recovered", "reasons": ["NPS low"],
             "version": 4}
    return feedback, alert, [("created", created), ("claimed", claimed), ("resolved", resolved)]


async def seed_history(ctx: Context, now: datetime) -> None:
    """HISTORY past alerts, written straight to the database (ingest would stamp them with today)."""
    rng = random.Random(16)
    async with transaction(ctx.sessions) as session:
        source = await queries.get_source(session, name="demo")
        rows = (await session.execute(select(col(Team.id)).order_by(col(Team.id)))).scalars()
        team_ids = [team_id for team_id in rows if team_id is not None]
        assert source is not None and source.id is not None and team_ids
        for i in range(HISTORY):
            feedback, columns, events = _history_alert(i, now, rng, team_ids[i % len(team_ids)], source.id)
            session.add(feedback)
            await session.flush()
            alert = Alert(feedback_id=feedback.id or 0, **columns)
            session.add(alert)
            await session.flush()
            for kind, at in events:
                owner = (None, "hotloop", "hotloop") if kind == "created" else (
                    columns["owner_id"], columns["owner_name"], "slack")
                session.add(AlertEvent(alert_id=alert.id or 0, kind=kind, actor_id=owner[0],
                                       actor_name=owner[1], platform=owner[2], at=at))


async def seed(app: Any, sink: SmtpSink, base_url: str) -> None:
    """Past weeks, the demo's walk-through (quietly), then the chat activity above."""
    ctx: Context = app.state.ctx
    await _walk_through(ctx, app.state.workers, sink, base_url, lambda _line: None)
    await seed_history(ctx, utcnow() - timedelta(days=1))
    config = await ctx.config.get()
    for actor, action, key, args in CHAT_ACTIVITY:
        reply = await handle(ActionRequest(action, key, actor, args), sessions=ctx.sessions, config=config,
                             now=utcnow())
        if not reply.ok:
            print(f"  (demo data) {actor.name} → {action.value} {key}: {reply.message}")
    await app.state.workers.delivery.drain(timeout=10)


async def signin_link(ctx: Context, base_url: str) -> str:
    """A sign-in link for the admin, as `/hotloop web` in Slack makes one."""
    token = await issue(ctx.sessions, SigninLinks.from_settings(ctx.settings), platform=ADMIN.platform,
                        user_id=ADMIN.id, user_name=ADMIN.name, teams=(), now=utcnow())
    return f"{base_url}{LOGIN_PATH}{token}"


async def shoot(page: Any, path: Path, *, full_page: bool = True) -> None:
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(path), full_page=full_page)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


async def take_screenshots(link: str, base_url: str, out: Path) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            context = await browser.new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                                device_scale_factor=1)
            context.set_default_timeout(WAIT_MS)
            page = await context.new_page()
            await page.goto(link)  # opening the link changes nothing: a page with one button
            await shoot(page, out / "login.png", full_page=False)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(f"{base_url}/app")
            await shoot(page, out / "queue.png")
            await page.goto(f"{base_url}/app/alerts/{ALERT_SHOWN}")
            await page.locator("main").first.wait_for()
            await shoot(page, out / "alert.png")
            reply = await page.goto(f"{base_url}/app/figures")
            if reply is None or reply.status != 200:
                raise SystemExit(f"/app/figures answered {reply.status if reply else 'nothing'}")
            await shoot(page, out / "figures.png")
        finally:
            await browser.close()


async def streams_closed(app: Any, seconds: float = 5.0) -> None:
    """Let the pages' event streams notice the browser is gone before the server stops (a stream cut
    by the shutdown is logged as an error)."""
    hub = getattr(app.state, "web_event_hub", None)
    for _ in range(int(seconds / 0.05)):
        if hub is None or not hub.subscribers:
            return
        await asyncio.sleep(0.05)


async def run(out: Path, keep: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="hotloop-screenshots-"))
    sink = await SmtpSink().start()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with serving(settings_for(folder, sink, base_url), port) as app:
            print(f"serving {base_url} on {folder / 'demo.db'}; seeding the demo data …")
            await seed(app, sink, base_url)
            link = await signin_link(app.state.ctx, base_url)
            await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
            await take_screenshots(link, base_url, out)
            await streams_closed(app)
    finally:
        await sink.close()
        if keep:
            print(f"the database stays in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT, help=f"where the PNGs go (default {OUT})")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away database")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    try:
        import playwright  # noqa: F401
    except ImportError:
        print("playwright is not installed: .venv/bin/pip install -e '.[test]'", file=sys.stderr)
        return 2
    asyncio.run(run(args.out, args.keep))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
