"""A click answered in place: the clicked message replaced through the click's `response_url`.

Slack's `response_url` (in every `block_actions` payload; a form keeps its opening click's in the
modal's private_metadata) takes `{"replace_original": true, "text", "blocks"}` up to 5 times within 30
minutes, and it does not count against `chat.update`'s rate tier (PROTOCOLS "Facts learned the hard
way"). So the clicker sees the new state at once while the alert's other places follow through the
outbox, whose `card.update` skips the clicked place (`bot.actions.answered`). The message is rendered as
the outbox would (`card_message`, or `digest_message` for a digest). When Slack refuses (a used or
expired URL, a size refusal, a timeout) the outbox updates the place instead (`refresh_later`).
Answers to one message go one at a time, in order (`answer_click`), within this process.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack import translate
from adapters.slack.modals import Answer
from adapters.slack.render import card_message, digest_message
from bot.cards.views import burst_digest
from bot.chat.answer import ClickedView, clicked_view, refresh_later
from bot.context import Context
from bot.domain import utcnow
from bot.outbox import Place

log = structlog.get_logger("hotloop.slack")

TIMEOUT_SECONDS = 5  # the clicker is waiting: the outbox takes over after this
# one message is rendered again at most this often: a busy digest (a render of 100 alerts costs ~0.1 s of
# CPU) gets a few replacements a second however many click it, each showing every claim made before it
RENDER_GAP_SECONDS = 0.3


def message_for(view: ClickedView) -> dict[str, Any]:
    """The clicked message as the outbox would render it (fallback `text` plus `blocks`)."""
    if isinstance(view.shown, list):
        return digest_message(burst_digest(view.shown))
    return card_message(view.shown)


async def replace_message(url: str, message: dict[str, Any]) -> str | None:
    """POST the message to a response_url with `replace_original`: None when Slack took it, else why not
    (Slack's error, "http_<status>", or the client error's name)."""
    client = AsyncWebhookClient(url=url, timeout=TIMEOUT_SECONDS)
    try:
        response = await client.send_dict({"replace_original": True, **message})
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return type(exc).__name__
    error = _error_in(response.body)
    if response.status_code != 200:
        return error or f"http_{response.status_code}"
    return error


def _error_in(body: str | None) -> str | None:
    """Slack's error code in a response_url answer ("ok" or `{"ok": true}` when it worked)."""
    try:
        data = json.loads(body or "")
    except ValueError:
        return None if (body or "").strip() in ("", "ok") else (body or "").strip()[:60]
    if isinstance(data, dict) and data.get("ok") is False:
        return str(data.get("error") or "not_ok")[:60]
    return None


@dataclass
class _Turns:
    """One message's answers, one at a time: `wanted` counts the clicks on it whose change is committed,
    `shown` how many of them the last replacement that went through was rendered after."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    wanted: int = 0
    shown: int = 0
    waiting: int = 0
    rendered_at: float = -RENDER_GAP_SECONDS  # loop time of the last rendering


_turns: dict[Place, _Turns] = {}  # messages being answered now (a digest clicked by many at once)


async def answer_click(ctx: Context, *, alert_key: str, answer: Answer) -> None:
    """Replace the clicked message with what it shows now; the outbox catches up when that fails.

    Answers to one message are rendered and sent one at a time, in order, so the last one to arrive
    shows every change made before it (Slack applies them as they come; a digest clicked by many at
    once would otherwise end with an older rendering). A click whose change a later rendering already
    shows sends nothing: 100 claims on one digest cost a few replacements, not 100."""
    place: Place = (translate.PLATFORM, *answer[1])
    turns = _turns.setdefault(place, _Turns())
    turns.wanted += 1
    turns.waiting += 1
    mine = turns.wanted
    try:
        async with turns.lock:
            if turns.shown >= mine:
                return
            loop = asyncio.get_running_loop()
            await asyncio.sleep(turns.rendered_at + RENDER_GAP_SECONDS - loop.time())  # more clicks join
            turns.rendered_at = loop.time()
            covers = turns.wanted  # every click counted so far committed before the rendering below
            if await _replace(ctx, alert_key=alert_key, answer=answer, place=place):
                turns.shown = covers
    finally:
        turns.waiting -= 1
        if not turns.waiting:
            _turns.pop(place, None)


async def _replace(ctx: Context, *, alert_key: str, answer: Answer, place: Place) -> bool:
    """Render the clicked message now and replace it; False (and the outbox told) when that failed."""
    try:
        view = await clicked_view(ctx.sessions, alert_key=alert_key, place=place,
                                  direct=translate.is_direct(answer[1][0]), config=await ctx.config.get(),
                                  now=utcnow())
    except Exception:  # the database failed after the action: this place waits for the alert's next change
        log.exception("slack.answer_render_failed", alert=alert_key)
        return False
    if view is None:
        return True  # the alert is gone: nothing to show
    error = await replace_message(answer[0], message_for(view))
    if error is None:
        return True
    log.warning("slack.answer_failed", alert=alert_key, error=error)
    try:
        await refresh_later(ctx.sessions, view=view, now=utcnow())
    except Exception:  # the action itself went through: say so in the log, not to the clicker
        log.exception("slack.answer_fallback_failed", alert=alert_key)
    ctx.signal.notify()
    return False
