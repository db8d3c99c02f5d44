"""Bolt listeners: ack first, then translate, act and answer.

    block_actions "alert.details" → the read-only Details modal (views.open)
    block_actions "alert.*"    → a form (modal) for actions whose route has one, else
                                 bot.actions.table.run_action; a refusal goes back to the clicker privately
    view_submission "alert.*"  → ack (with "errors" for invalid input) → bot.actions.table.run_action
    slash command              → ack → bot.commands.table.run_command → ephemeral reply to the caller
    app_home_opened            → views.publish of the Home tab
    a payload Bolt cannot read → 400 with the reason (adapters/slack/install.py `RequestGate`)
    every signed interaction   → acts once: keyed by its signature (unique per body and timestamp) in
                                 the WebhookDelivery table, so a replay inside Slack's 5-minute window
                                 is answered 200 and does nothing
    every event_callback       → deduplicated on event_id (Slack retries; WebhookDelivery table)

What a button does, asks for and refuses is `bot.actions.table` (ROUTES): a click on a button whose route has
a form runs the route's guard (`precheck`) and shows either the refusal or the form rendered from it
(adapters/slack/modals.py); anything else goes to `run_action`. A successful action replaces the clicked
message through the click's response_url (adapters/slack/answer.py; a form keeps its click's URL in the
modal); the alert's other places and the thread line leave through the outbox. Listeners get the
running `Context` from `get_ctx()` at call time (it exists only once the app's lifespan has started).
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

from adapters.slack import modals, translate
from adapters.slack.answer import answer_click
from adapters.slack.blocks import card_summary
from adapters.slack.home import home_view
from adapters.slack.modals import Answer
from adapters.slack.render import escape_mrkdwn, truncate
from bot.action_ids import ActionId, Arg
from bot.actions.table import ActionRequest, form_for, mail_kit, precheck, run_action
from bot.alerts.lifecycle import Actor
from bot.chat.state import first_delivery
from bot.commands.base import ReplyLink
from bot.commands.table import Caller, run_command
from bot.context import Context
from bot.domain import utcnow

log = structlog.get_logger("hotloop.slack")

ContextGetter = Callable[[], Context]
ALERT_ACTIONS = re.compile(r"^alert\.")
ANY_COMMAND = re.compile(r"^/")
COMMAND_REPLY_MAX = 3900  # Slack advises ≤ 4000 characters of message text
SORRY = "Sorry, that did not work. Please try again in a moment."
UNSIGNED_KINDS = frozenset({"event_callback", "url_verification"})  # events: deduplicated on event_id


# ---- shared steps --------------------------------------------------------------------------------


async def _first(ctx: Context, delivery_id: str) -> bool:
    """Record a Slack event_id or replay key; False when it was seen before (a retry or a replay)."""
    return await first_delivery(ctx.sessions, platform=translate.PLATFORM, delivery_id=delivery_id,
                                now=utcnow())


def signature_key(req: AsyncBoltRequest) -> str | None:
    """The replay key of a signed HTTP request: its signature covers the body and the timestamp, so
    it is unique per request; a replay repeats it exactly. None for Socket Mode (nothing to replay)."""
    signature = (req.headers.get("x-slack-signature") or [""])[0]
    timestamp = (req.headers.get("x-slack-request-timestamp") or [""])[0]
    if req.mode == "socket_mode" or not signature:
        return None
    return "sig:" + hashlib.sha256(f"{timestamp}:{signature}".encode()).hexdigest()


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


async def open_form(ctx: Context, client: AsyncWebClient, *, trigger_id: str | None, request: ActionRequest,
                    channel: str | None = None, answer: Answer | None = None) -> None:
    """views.open at once (the trigger_id expires in ~3 s), then views.update with the route's form —
    or with its guard's refusal, so nobody fills in a form that cannot be sent. The modal keeps the
    click's `answer` (response_url and message): the submission replaces the clicked message."""
    action, key, user = request.action, request.alert_key, request.actor.id
    metadata = modals.encode_metadata(key, channel, answer)
    try:
        opened = await client.views_open(trigger_id=trigger_id or "",
                                         view=modals.loading_view(action, key, metadata))
    except (SlackApiError, SlackClientError) as exc:
        log.warning("slack.views_open_failed", action=str(action), error=_error(exc))
        await tell(client, user=user, channel=request.channel,
                   text=f"Could not open the form for {key}; please click again.")
        return
    view = opened.get("view") or {}
    checked = await precheck(request, sessions=ctx.sessions, config=await ctx.config.get(), now=utcnow(),
                             mail=mail_kit(ctx, action))
    if checked.refusal is not None:
        full = modals.refusal_view(action, key, checked.refusal)
    else:
        summary = card_summary(checked.card) if checked.card is not None else None
        full = modals.form_view(action, key, metadata, summary, checked.form)
    try:
        await client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=full)
    except (SlackApiError, SlackClientError) as exc:  # e.g. the user closed the loading modal already
        log.warning("slack.views_update_failed", action=str(action), error=_error(exc))


async def open_details(ctx: Context, client: AsyncWebClient, *, trigger_id: str | None,
                       request: ActionRequest) -> None:
    """The read-only Details modal (adapters/slack/modals.py `details_view`): the alert's route guard
    and channel check first (`precheck`), then views.open while the trigger_id (~3 s) is fresh."""
    checked = await precheck(request, sessions=ctx.sessions, config=await ctx.config.get(), now=utcnow())
    if checked.refusal is not None or checked.card is None:
        text = checked.refusal or f"There is no alert {request.alert_key}"
        await tell(client, user=request.actor.id, channel=request.channel, text=text)
        return
    try:
        await client.views_open(trigger_id=trigger_id or "", view=modals.details_view(checked.card))
    except (SlackApiError, SlackClientError) as exc:
        log.warning("slack.views_open_failed", action=str(request.action), error=_error(exc))
        await tell(client, user=request.actor.id, channel=request.channel,
                   text=f"Could not open the details of {request.alert_key}; please click again.")


async def on_click(ctx: Context, body: dict[str, Any], client: AsyncWebClient) -> None:
    """A button or menu choice (already acked): its form, or the action itself."""
    click = translate.first_click(body)
    if click is None:
        return
    actor = translate.actor_from(body.get("user"))
    channel, answer = translate.channel_of(body), translate.clicked_message(body)
    request = ActionRequest(click.action, click.alert_key, actor, click.args, channel=channel,
                            answered_place=translate.answered_place(answer),
                            direct=translate.is_direct(channel))
    try:
        if click.action is ActionId.DETAILS:  # read-only: a modal, no action
            await open_details(ctx, client, trigger_id=body.get("trigger_id"), request=request)
            return
        if form_for(click.action) is not None:
            await open_form(ctx, client, trigger_id=body.get("trigger_id"), request=request, channel=channel,
                            answer=answer)
            return
        reply = await run_action(ctx, request)
        if not reply.ok:
            await tell(client, user=actor.id, channel=channel, text=reply.message)
        elif answer is not None:  # the clicker sees the new state now; the other places follow
            await answer_click(ctx, alert_key=click.alert_key, answer=answer)
    except Exception:
        log.exception("slack.action_failed", action=str(click.action), alert=click.alert_key)
        await tell(client, user=actor.id, channel=channel, text=SORRY)
    if translate.from_home(body):
        await publish_home(ctx, client, actor.id)


async def on_submit(ctx: Context, submission: translate.Submission, body: dict[str, Any],
                    client: AsyncWebClient) -> None:
    """A form that read well (already acked): the action, with the picked user's name when it has one."""
    actor = translate.actor_from(body.get("user"))
    args = dict(submission.args)
    try:
        if args.get(Arg.USER):
            args[Arg.USER_NAME] = await user_name(client, args[Arg.USER])
        request = ActionRequest(submission.action, submission.alert_key, actor, args,
                                channel=submission.channel, direct=translate.is_direct(submission.channel),
                                answered_place=translate.answered_place(submission.answer))
        reply = await run_action(ctx, request)
        if not reply.ok:
            await tell(client, user=actor.id, channel=submission.channel, text=reply.message)
        elif submission.answer is not None:  # the message the form was opened from shows the new state
            await answer_click(ctx, alert_key=submission.alert_key, answer=submission.answer)
    except Exception:
        log.exception("slack.submission_failed", action=str(submission.action), alert=submission.alert_key)
        await tell(client, user=actor.id, channel=submission.channel, text=SORRY)
    if submission.channel is None:  # opened from the Home tab: show the new state there
        await publish_home(ctx, client, actor.id)


async def answer_command(ctx: Context, command: dict[str, Any], client: AsyncWebClient,
                         respond: AsyncRespond) -> None:
    """A slash command (already acked): the reply privately in the channel, else by response_url,
    else by direct message."""
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


# ---- listeners -------------------------------------------------------------------------------


def make_middleware(get_ctx: ContextGetter) -> dict[str, Callable[..., Awaitable[Any]]]:
    """Each signed interaction and each event acts once (the WebhookDelivery table)."""

    async def once_per_signature(req: AsyncBoltRequest, body: Mapping[str, Any],
                                 next: Callable[[], Awaitable[Any]]) -> Any:
        key = None if body.get("type") in UNSIGNED_KINDS else signature_key(req)
        if key is not None and not await _first(get_ctx(), key):
            log.warning("slack.replay_ignored", kind=body.get("type") or "command")
            return BoltResponse(status=200, body="")
        return await next()

    async def dedupe_events(body: Mapping[str, Any], next: Callable[[], Awaitable[Any]]) -> Any:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if isinstance(event_id, str) and event_id and not await _first(get_ctx(), event_id):
            log.info("slack.event_retry_skipped", event_id=event_id)
            return BoltResponse(status=200, body="")
        return await next()

    return {"replays": once_per_signature, "dedupe": dedupe_events}


def make_listeners(get_ctx: ContextGetter) -> dict[str, Callable[..., Awaitable[Any]]]:
    """Bolt listeners (Bolt fills their arguments by name): ack first, then the work."""

    async def on_action(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await on_click(get_ctx(), body, client)

    async def on_submission(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        submission = translate.parse_submission(body.get("view") or {})
        if submission is None:
            await ack()
            return
        if submission.errors:  # shown beside the fields; the modal stays open
            await ack(response_action="errors", errors=submission.errors)
            return
        await ack()
        await on_submit(get_ctx(), submission, body, client)

    async def on_command(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient,
                         respond: AsyncRespond) -> None:
        await ack()
        await answer_command(get_ctx(), command, client, respond)

    async def on_home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        await publish_home(get_ctx(), client, str(event["user"]))

    return {"action": on_action, "submission": on_submission, "command": on_command, "home": on_home_opened}


async def _run_command(ctx: Context, command: Mapping[str, Any]) -> str:
    """Run the slash command text; the reply text, escaped for mrkdwn (it may quote customer text)."""
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
    return command_text(reply.text) + link_text(reply.link)


def link_text(link: ReplyLink | None) -> str:
    """A link hotloop made (e.g. a dashboard sign-in link) on its own line, clickable: `<url|label>`."""
    if link is None or any(ch in link.url for ch in "<>| \n") or not link.url.startswith(("https://", "http://")):
        return ""
    return f"\n<{link.url}|{escape_mrkdwn(link.label)}>"


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
