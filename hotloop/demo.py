"""`hotloop demo`: the real server on a throw-away SQLite file, realistic signed feedback sent through
the real HTTP endpoint, and the resulting alerts and cards printed — a newcomer's first look. Then the
customer's side (hotloop/demo_mail.py): the acknowledgement and follow-up e-mails through an in-process
SMTP sink, the customer answering "no" on the follow-up page, and the alert reopening."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from adapters.sources.generic import sign
from bot.actions.table import ActionId, ActionRequest, handle
from bot.alerts.lifecycle import Actor
from bot.cards.text import card_text
from bot.cards.views import load_card
from bot.config.sources import add_source
from bot.context import Context
from bot.domain import utcnow
from bot.metrics import customer_loop_lines, format_rate, format_seconds, loop_figures
from bot.settings import Settings, build_settings
from hotloop.demo_mail import DemoError, SmtpSink, acknowledge, follow_up, mail_settings
from storage import queries
from storage.db import transaction
from storage.models import Route, Team

DEMO_SECRET = "demo-webhook-secret-0123456789"
REOPENED = "reopened_by_customer"  # bot/alerts/lifecycle.py plan_customer_answer
__all__ = ["DemoError", "run_demo"]



DEMO_FEEDBACK: list[dict[str, Any]] = [
    {"id": "demo-1", "nps": 2, "contact_requested": True,
     "customer": {"name": "Dana Scully", "email": "dana@example.com", "phone": "+1 555 0100"},
     "comment": "Waited 40 minutes and the manager was rude. I want a refund.",
     "answers": [{"question": "Staff friendliness", "value": 1, "scale_min": 1, "scale_max": 5}],
     "attributes": {"location": "042", "employee": "Jessica C", "channel": "in-store"}},
    {"id": "demo-2", "nps": 9, "contact_requested": True,
     "customer": {"name": "Fox Mulder", "email": "fox@example.com"},
     "comment": "Loved it, but the parking sign is confusing. Happy to explain if you call me.",
     "attributes": {"location": "017", "region": "north"}},
    {"id": "demo-3", "nps": 10,
     "customer": {"name": "Walter Skinner", "email": "walter@example.com"},
     "answers": [{"question": "Agent helpfulness", "value": 10, "scale_min": 1, "scale_max": 10},
                 {"question": "Ease of booking", "value": 1, "scale_min": 1, "scale_max": 10}],
     "attributes": {"location": "042", "employee": "Marco P"}},
    {"id": "demo-4", "nps": 8, "customer": {"name": "Monica Reyes"},
     "comment": "The app charged me twice. Fix it or I will cancel my subscription.",
     "attributes": {"product": "mobile app", "channel": "online"}},
    {"id": "demo-5", "nps": 10, "customer": {"name": "John Doggett"},
     "comment": "Great service, thank you!", "attributes": {"location": "042"}},
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _seed(ctx: Context) -> None:
    await add_source(ctx.sessions, ctx.secrets, name="demo", kind="generic", secret=DEMO_SECRET)
    async with transaction(ctx.sessions) as session:
        store = Team(name="store-042", managers=["U0MANAGER"])
        session.add(store)
        await session.flush()
        session.add(Route(priority=10, match={"location": "042"}, team_id=store.id or 0))
    ctx.config.invalidate()


async def _send_all(base_url: str, echo: Callable[[str], None]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        for item in DEMO_FEEDBACK:
            body = json.dumps(item).encode()
            headers = {"content-type": "application/json",
                       "x-hotloop-signature": sign(DEMO_SECRET, body, int(time.time()))}
            reply = await client.post("/webhooks/demo", content=body, headers=headers)
            echo(f"POST /webhooks/demo  {item['id']:<7} NPS {item.get('nps')!s:<3} "
                 f"→ {reply.status_code} {reply.text}")


async def _show(ctx: Context, echo: Callable[[str], None]) -> None:
    async with ctx.sessions() as session:
        alerts = list(reversed(await queries.list_alerts(session)))
        for alert in alerts:
            card = await load_card(session, alert_id=alert.id or 0, audience="team", now=utcnow())
            if card is not None:
                echo("\n" + card_text(card))


async def _show_one(ctx: Context, key: str, echo: Callable[[str], None]) -> None:
    async with ctx.sessions() as session:
        alert = await queries.get_alert(session, key=key)
        if alert is None or alert.id is None:
            return
        card = await load_card(session, alert_id=alert.id, audience="team", now=utcnow())
        said = [e for e in await queries.alert_events(session, alert_id=alert.id) if e.kind == REOPENED]
    for event in said:
        answer = "yes" if event.data.get("resolved") else "no"
        echo(f"\n{key} reopened by the customer (answered {answer}, score {event.data.get('score')}): "
             f"“{event.data.get('comment')}”")
    if card is not None:
        echo(f"{key} now:\n" + card_text(card))


async def _close_one_loop(ctx: Context, echo: Callable[[str], None]) -> None:
    ana = Actor(id="U0ANA", name="Ana", platform="cli")
    config = await ctx.config.get()
    for action, args in (
        (ActionId.CLAIM, {}),
        (ActionId.LOG_CALL, {"note": "Called Dana: apologised, refund on its way"}),
        (ActionId.RESOLVE, {"outcome": "recovered", "root_cause": "staff", "follow_up": "true"}),
    ):
        reply = await handle(
            ActionRequest(action, "HA-1001", ana, args), sessions=ctx.sessions, config=config, now=utcnow()
        )
        echo(f"Ana → {action.value} HA-1001: {reply.message}")


async def _figures(ctx: Context, echo: Callable[[str], None]) -> None:
    from datetime import timedelta

    for row in await loop_figures(ctx.sessions, now=utcnow(), window=timedelta(days=7)):
        echo(f"  {row.team:<12} raised {row.raised}  responded {format_rate(row.response_rate)}  "
             f"median time to claim {format_seconds(row.median_claim)}  open {row.open}")
        if row.team == "all teams":  # the customer loop, against the targets (issue 14's figures)
            echo("".join(f"    {label}: {value}\n" for label, value in customer_loop_lines(row)).rstrip())


async def run_demo(
    *, echo: Callable[[str], None], keep_running: bool = False, port: int | None = None
) -> bool:
    """The demo on a fresh SQLite file in a temporary folder, removed on the way out (also after Ctrl-C
    or an error) unless `keep_running`. False when Ctrl-C stopped the walk-through."""
    folder = Path(tempfile.mkdtemp(prefix="hotloop-demo-"))
    sink = await SmtpSink().start()
    try:
        return await _serve_demo(folder, sink, echo=echo, keep_running=keep_running, port=port or free_port())
    finally:
        await sink.close()
        if keep_running:
            echo(f"the demo database stays in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


async def _serve_demo(
    folder: Path, sink: SmtpSink, *, echo: Callable[[str], None], keep_running: bool, port: int
) -> bool:
    from hotloop.app import create_app
    from storage.migrate import upgrade

    base_url = f"http://127.0.0.1:{port}"
    settings: Settings = build_settings(mode="demo", database_url=f"sqlite+aiosqlite:///{folder / 'demo.db'}",
                                        log_level="warning", log_json=False,
                                        **mail_settings(sink, public_url=base_url))

    async def migrate(s: Settings) -> None:
        await upgrade(s.effective_database_url)

    app = create_app(settings, prepare_schema=migrate)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # uvicorn offers a flag, not an event
            if serving.done():
                raise DemoError(f"the demo server could not start on port {port}")
            await asyncio.sleep(0.05)
        echo(f"hotloop demo: serving http://127.0.0.1:{port} on {folder / 'demo.db'} "
             "(no Slack or Teams needed)\n")
        walk = asyncio.create_task(_walk_through(app.state.ctx, app.state.workers, sink, base_url, echo))
        await asyncio.wait({walk, serving}, return_when=asyncio.FIRST_COMPLETED)
        if server.should_exit:  # uvicorn caught Ctrl-C
            walk.cancel()
            await asyncio.gather(walk, return_exceptions=True)
            return False
        walk.result()  # an error in the walk-through ends the demo with it
        if keep_running:
            echo(f"\nStill serving on http://127.0.0.1:{port} (docs at /docs). Ctrl-C to stop.")
            await serving
        return True
    finally:
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)


async def _walk_through(
    ctx: Context, workers: Any, sink: SmtpSink, base_url: str, echo: Callable[[str], None]
) -> None:
    await _seed(ctx)
    await _send_all(base_url, echo)
    await workers.delivery.drain(timeout=10)
    echo("\nHot alerts and their cards (a happy customer needing nothing raised none):")
    await _show(ctx, echo)
    await acknowledge(workers, sink, echo)
    echo("")
    await _close_one_loop(ctx, echo)
    await workers.delivery.drain(timeout=10)
    await follow_up(workers, sink, echo)
    await _show_one(ctx, "HA-1001", echo)
    echo("\nClosed-loop figures, last 7 days:")
    await _figures(ctx, echo)
