"""Bolt listeners: ack first, then translate, dispatch and answer.

    block_actions "alert.*"    → a form (modal) for actions that need input, else bot.actions.dispatch;
                                 a refusal goes back to the clicker as an ephemeral message
    view_submission "alert.*"  → ack (with "errors" for invalid input) → dispatch
    slash command              → ack → bot.commands.run_command → ephemeral reply to the caller
    app_home_opened            → views.publish of the Home tab
    a payload Bolt cannot read → 400 with the reason (adapters/slack/install.py `RequestGate`)
    every signed interaction   → acts once: keyed by its signature (unique per body and timestamp) in
                                 the WebhookDelivery table, so a replay inside Slack's 5-minute window
                                 is answered 200 and does nothing
    every event_callback       → deduplicated on event_id (Slack retries; WebhookDelivery table)

Successful actions send nothing here: the card update and the thread line leave through the outbox.
Listeners get the running `Context` from `get_ctx()` at call time (it exists only once the app's
lifespan has started).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp, AsyncRespond
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import IntegrityError

from adapters.slack import modals, translate
from adapters.slack.blocks import card_summary
from adapters.slack.home import home_view
from adapters.slack.render import escape_mrkdwn, truncate
from bot.actions import NEEDS_INPUT, ROUTES, ActionReply, ActionRequest, dispatch
from bot.alerts import Actor, Refused
from bot.card_views import load_card
from bot.context import Context
from bot.domain import Outcome, utcnow
from storage import queries
from storage.db import transaction
from storage.models import WebhookDelivery

log = structlog.get_logger("hotloop.slack")

ContextGetter = Callable[[], Context]
ALERT_ACTIONS = re.compile(r"^alert\.")
ANY_COMMAND = re.compile(r"^/")
COMMAND_REPLY_MAX = 3900  # Slack advises ≤ 4000 characters of message text
SORRY = "Sorry, that did not work. Please try again in a moment."
UNSIGNED_KINDS = frozenset({"event_callback", "url_verification"})  # events: deduplicated on event_id

# arguments that let a plan run before the form is filled, so a refusal shows up at once
_PRECHECK_ARGS: dict[str, dict[str, str]] = {
    "alert.resolve": {"outcome": Outcome.RECOVERED.value},
    "alert.note": {"note": "(checking)"},
    "alert.escalate": {"reason": ""},
    "alert.reassign": {"user": "U0HOTLOOPCHECK", "user_name": "someone else"},
}


# ---- shared steps --------------------------------------------------------------------------------


async def first_delivery(ctx: Context, delivery_id: str) -> bool:
    """Record a Slack event_id; False when it was seen before (a retry)."""
    try:
        async with transaction(ctx.sessions) as session:
            session.add(WebhookDelivery(platform="slack", delivery_id=delivery_id[:255]))
    except IntegrityError:
        return False
    return True


def signature_key(req: AsyncBoltRequest) -> str | None:
    """The replay key of a signed HTTP request: its signature covers the body and the timestamp, so
    it is unique per request; a replay repeats it exactly. None for Socket Mode (nothing to replay)."""
    signature = (req.headers.get("x-slack-signature") or [""])[0]
    timestamp = (req.headers.get("x-slack-request-timestamp") or [""])[0]
    if req.mode == "socket_mode" or not signature:
        return None
    return "sig:" + hashlib.sha256(f"{timestamp}:{signature}".encode()).hexdigest()


async def run_action(ctx: Context, request: ActionRequest) -> ActionReply:
    reply = await dispatch(request, sessions=ctx.sessions, config=await ctx.config.get(), now=utcnow())
    if reply.ok:
        ctx.signal.notify()
    log.info("slack.action", action=str(request.action), alert=request.alert_key, user=request.actor.id,
             ok=reply.ok)
    return reply


async def tell(client: AsyncWebClient, *, user: str, channel: str | None, text: str) -> None:
    """An ephemeral message to `user` in `channel`; a DM from the app when there is no usable channel."""
    safe = escape_mrkdwn(text)
    if channel:
        try:
            await client.chat_postEphemeral(channel=channel, user=user, text=safe)
            return
        except (SlackApiError, SlackClientError) as exc:
            log.warning("slack.ephemeral_failed", channel=channel, error=_error(exc))
    await _direct(client, user=user, text=safe)


async def _direct(client: AsyncWebClient, *, user: str, text: str) -> None:
    """A message from the app to `user` (chat.postMessage to a user id opens the DM)."""
    if not user:
        return
    try:
        await client.chat_postMessage(channel=user, text=text)
    except (SlackApiError, SlackClientError) as exc:
        log.warning("slack.dm_failed", user=user, error=_error(exc))


def _error(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    data = getattr(response, "data", None)
    return str(data.get("error")) if isinstance(data, dict) else type(exc).__name__


async def publish_home(ctx: Context, client: AsyncWebClient, user: str) -> None:
    try:
        view = await home_view(ctx, user, now=utcnow())
        await client.views_publish(user_id=user, view=view)
    except (SlackApiError, SlackClientError) as exc:
        log.warning("slack.home_failed", user=user, error=_error(exc))


async def user_name(client: AsyncWebClient, user_id: str) -> str:
    """A Slack user's display name (users.info), or the id when Slack will not say."""
    try:
        info = await client.users_info(user=user_id)
    except (SlackApiError, SlackClientError):
        return user_id
    user = info.get("user") or {}
    profile = user.get("profile") or {}
    names = (profile.get("display_name"), profile.get("real_name"), user.get("real_name"), user.get("name"))
    for name in names:
        if isinstance(name, str) and name.strip():
            return name.strip()
    return user_id


async def precheck(ctx: Context, click: translate.Click, actor: Actor) -> tuple[str | None, str | None]:
    """(refusal message or None, card summary) for the alert a form is about to act on. Writes nothing."""
    now = utcnow()
    async with ctx.sessions() as session:
        alert = await queries.get_alert(session, key=click.alert_key)
        if alert is None or alert.id is None:
            return f"There is no alert {click.alert_key}", None
        card = await load_card(session, alert_id=alert.id, audience="team", now=now)
    summary = card_summary(card) if card is not None else None
    builder = ROUTES.get(click.action)
    if builder is None:
        return None, summary
    args = {**_PRECHECK_ARGS.get(str(click.action), {}), **click.args}
    try:
        builder(ActionRequest(click.action, click.alert_key, actor, args), await ctx.config.get(), now)(alert)
    except Refused as refused:
        return refused.message, summary
    return None, summary


async def open_form(ctx: Context, client: AsyncWebClient, *, trigger_id: str | None, click: translate.Click,
                    actor: Actor, channel: str | None) -> None:
    """views.open at once (the trigger_id expires in ~3 s), then views.update with the real form."""
    metadata = modals.encode_metadata(click.alert_key, channel)
    try:
        opened = await client.views_open(trigger_id=trigger_id or "",
                                         view=modals.loading_view(click.action, click.alert_key, metadata))
    except (SlackApiError, SlackClientError) as exc:
        log.warning("slack.views_open_failed", action=str(click.action), error=_error(exc))
        await tell(client, user=actor.id, channel=channel,
                   text=f"Could not open the form for {click.alert_key}; please click again.")
        return
    view = opened.get("view") or {}
    refusal, summary = await precheck(ctx, click, actor)
    if refusal is not None:
        full = modals.refusal_view(click.action, click.alert_key, refusal)
    else:
        full = modals.form_view(click.action, click.alert_key, metadata, summary)
    try:
        await client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=full)
    except (SlackApiError, SlackClientError) as exc:  # e.g. the user closed the loading modal already
        log.warning("slack.views_update_failed", action=str(click.action), error=_error(exc))


# ---- listeners -------------------------------------------------------------------------------


def make_middleware(get_ctx: ContextGetter) -> dict[str, Callable[..., Awaitable[Any]]]:
    """Each signed interaction and each event acts once (the WebhookDelivery table)."""

    async def once_per_signature(req: AsyncBoltRequest, body: Mapping[str, Any],
                                 next: Callable[[], Awaitable[Any]]) -> Any:
        key = None if body.get("type") in UNSIGNED_KINDS else signature_key(req)
        if key is not None and not await first_delivery(get_ctx(), key):
            log.warning("slack.replay_ignored", kind=body.get("type") or "command")
            return BoltResponse(status=200, body="")
        return await next()

    async def dedupe_events(body: Mapping[str, Any], next: Callable[[], Awaitable[Any]]) -> Any:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if isinstance(event_id, str) and event_id and not await first_delivery(get_ctx(), event_id):
            log.info("slack.event_retry_skipped", event_id=event_id)
            return BoltResponse(status=200, body="")
        return await next()

    return {"replays": once_per_signature, "dedupe": dedupe_events}


def make_listeners(get_ctx: ContextGetter) -> dict[str, Callable[..., Awaitable[Any]]]:
    async def on_action(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        click = translate.first_click(body)
        if click is None:
            return
        actor = translate.actor_from(body.get("user"))
        channel = translate.channel_of(body)
        ctx = get_ctx()
        try:
            needs = NEEDS_INPUT.get(click.action)
            if needs is not None and needs not in click.args:
                await open_form(ctx, client, trigger_id=body.get("trigger_id"), click=click, actor=actor,
                                channel=channel)
                return
            request = ActionRequest(click.action, click.alert_key, actor, click.args, channel=channel)
            reply = await run_action(ctx, request)
            if not reply.ok:
                await tell(client, user=actor.id, channel=channel, text=reply.message)
        except Exception:
            log.exception("slack.action_failed", action=str(click.action), alert=click.alert_key)
            await tell(client, user=actor.id, channel=channel, text=SORRY)
        if translate.from_home(body):
            await publish_home(ctx, client, actor.id)

    async def on_submission(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        submission = translate.parse_submission(body.get("view") or {})
        if submission is None:
            await ack()
            return
        if submission.errors:
            await ack(response_action="errors", errors=submission.errors)
            return
        await ack()
        actor = translate.actor_from(body.get("user"))
        ctx = get_ctx()
        args = dict(submission.args)
        try:
            if "user" in args:
                args["user_name"] = await user_name(client, args["user"])
            request = ActionRequest(submission.action, submission.alert_key, actor, args,
                                    channel=submission.channel)
            reply = await run_action(ctx, request)
            if not reply.ok:
                await tell(client, user=actor.id, channel=submission.channel, text=reply.message)
        except Exception:
            log.exception("slack.submission_failed", action=str(submission.action),
                          alert=submission.alert_key)
            await tell(client, user=actor.id, channel=submission.channel, text=SORRY)
        if submission.channel is None:  # opened from the Home tab: show the new state there
            await publish_home(ctx, client, actor.id)

    async def on_command(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient,
                         respond: AsyncRespond) -> None:
        await ack()
        ctx = get_ctx()
        user = str(command.get("user_id") or "")
        channel = command.get("channel_id") or None
        text = await _run_command(ctx, command)
        if channel:
            try:
                await client.chat_postEphemeral(channel=channel, user=user, text=text)
                return
            except (SlackApiError, SlackClientError) as exc:  # e.g. a DM or a channel without the bot
                log.info("slack.command_ephemeral_failed", error=_error(exc))
        if command.get("response_url"):
            try:
                await respond(text=text, response_type="ephemeral")
                return
            except Exception as exc:  # respond() raises plain errors for an expired response_url
                log.warning("slack.command_reply_failed", error=type(exc).__name__)
        await _direct(client, user=user, text=text)  # no channel and no response_url: a DM still reaches them

    async def on_home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        await publish_home(get_ctx(), client, str(event["user"]))

    return {"action": on_action, "submission": on_submission, "command": on_command, "home": on_home_opened}


async def _run_command(ctx: Context, command: Mapping[str, Any]) -> str:
    """Run the slash command text; the reply text, escaped for mrkdwn (it may quote customer text)."""
    try:
        from bot.commands import Caller, run_command
    except ImportError:
        return "hotloop commands are not available in this version."
    user = str(command.get("user_id") or "")
    actor = Actor(id=user, name=str(command.get("user_name") or user), platform=translate.PLATFORM)
    caller = Caller(actor=actor, channel=command.get("channel_id") or None,
                    channel_name=command.get("channel_name") or None)
    try:
        reply = await run_command(str(command.get("text") or ""), caller=caller, ctx=ctx)
    except Exception:
        log.exception("slack.command_failed")
        return SORRY
    if reply.changed_config:
        ctx.config.invalidate()
    return command_text(reply.text)


def command_text(text: str) -> str:
    """A command's plain-text reply as mrkdwn: escaped; several lines go in a code block (keeps columns)."""
    safe = truncate(escape_mrkdwn(text.strip() or "(no reply)"), COMMAND_REPLY_MAX)
    if "\n" not in safe:
        return safe
    return "```" + safe.replace("```", "`\u200b`\u200b`") + "```"


def register(app: AsyncApp, get_ctx: ContextGetter) -> None:
    middleware = make_middleware(get_ctx)
    app.use(middleware["replays"])
    app.use(middleware["dedupe"])
    listeners = make_listeners(get_ctx)
    app.action(ALERT_ACTIONS)(listeners["action"])
    app.view_submission(ALERT_ACTIONS)(listeners["submission"])
    app.command(ANY_COMMAND)(listeners["command"])
    app.event("app_home_opened")(listeners["home"])
