"""The Teams bot: one `ActivityHandler` turn per inbound activity.

    every activity                 → remember its conversation reference (Conversation table)
    invoke adaptiveCard/action     → bot.actions.table.run_action → invoke response: the refreshed card, or a
                                     message ("HA-1001 was already claimed by Dana")
    message with value {verb,…}    → Action.Submit fallback: run_action, then PUT the refreshed card
    other message                  → bot.commands.table.run_command → reply in the conversation

One bot serves every request (adapters/teams/routes.py builds it at mount): it holds no per-request
state, only the running Context (read at call time) and a memo of the conversation references it
stored lately, so a click does not rewrite the same reference every time.

Clicks and messages act once: each activity id (per conversation) is recorded in WebhookDelivery, so
a retried or replayed activity is answered without acting again. (The token's `jti` is not part of
the key: the Bot Connector reuses one token for many activities, and a retry may carry a fresh one.)

Outbound calls (replies, the Submit card update, private messages) go through `TeamsChat` (httpx) to the
activity's own serviceUrl, with the async token provider — not botbuilder's connector, whose token
fetch (MSAL) blocks the event loop. Card updates and thread lines caused by an action still leave
through the outbox like every other change.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import structlog
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import Activity

from adapters.teams import translate
from adapters.teams.card_size import card_content
from adapters.teams.connector import TeamsChat, TokenProvider
from adapters.teams.render import CONTENT_TYPE
from bot.actions.table import ActionReply, run_action
from bot.cards.model import Card
from bot.chat.port import CardPlace, ChatError
from bot.chat.state import card_after_click, first_delivery, remember_conversation
from bot.commands.table import Caller, run_command
from bot.context import Context
from bot.domain import utcnow

log = structlog.get_logger("hotloop.teams")

MESSAGE_TYPE = "application/vnd.microsoft.activity.message"
SORRY = "Sorry, that did not work. Please try again in a moment."
ALREADY_HANDLED = "Already handled."
SENT_PRIVATELY = "I've sent it to you privately."
NOT_PRIVATE = (
    "That answer contains a secret and I could not message you privately. "
    "Send the command to me in a 1:1 chat instead."
)
NO_SENDER = "The activity does not say who sent it."
Json = dict[str, Any]


def message_response(text: str) -> Json:
    return {"statusCode": 200, "type": MESSAGE_TYPE, "value": text}


def card_response(content: Json) -> Json:
    return {"statusCode": 200, "type": CONTENT_TYPE, "value": content}


class HotloopTeamsBot(ActivityHandler):  # type: ignore[misc]
    def __init__(
        self, get_ctx: Callable[[], Context], *, token_provider: TokenProvider | None, timeout: float = 10.0
    ) -> None:
        self._get_ctx = get_ctx
        self.token_provider = token_provider
        self.timeout = timeout
        self._remembered: dict[str, tuple[str, float]] = {}  # conversation → (service URL, when stored)

    @property
    def ctx(self) -> Context:
        """The running Context (it exists once the app's lifespan has started)."""
        return self._get_ctx()

    # -- every turn ---------------------------------------------------------------------------------

    async def on_turn(self, turn_context: TurnContext) -> None:
        try:
            await self.remember(turn_context.activity)
        except Exception:  # a missed reference must not cost the user their click or command
            log.exception("teams.remember_failed")
        await super().on_turn(turn_context)

    async def remember(self, activity: Activity) -> None:
        """Upsert the conversation reference, so hotloop can post here later (PROTOCOLS §15)."""
        key = translate.conversation_key(activity)
        if not key or not activity.service_url or len(key) > 255:
            return
        seen = self._remembered.get(key)
        if seen is not None and seen[0] == activity.service_url and time.monotonic() - seen[1] < 3600:
            return  # stored recently with the same service URL: spare the write on every click
        reference = TurnContext.get_conversation_reference(activity).serialize()
        name = translate.conversation_name(activity)
        if len(self._remembered) > 10_000:
            self._remembered.clear()
        await remember_conversation(self.ctx.sessions, platform=translate.PLATFORM, conversation_id=key,
                                    reference=reference, name=name, now=utcnow())
        self._remembered[key] = (activity.service_url, time.monotonic())

    # -- Action.Execute -----------------------------------------------------------------------------

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        if turn_context.activity.name != translate.INVOKE_NAME:
            response: InvokeResponse | None = await super().on_invoke_activity(turn_context)
            return response
        return InvokeResponse(status=200, body=await self.execute(turn_context.activity))

    async def execute(self, activity: Activity) -> Json:
        if not translate.has_sender(activity):
            return message_response(NO_SENDER)
        if not await self.first_delivery(activity):
            log.info("teams.duplicate_invoke", activity=activity.id)
            return message_response(ALREADY_HANDLED)
        try:
            click = translate.click_from_invoke(activity.value)
        except translate.BadAction as bad:
            return message_response(str(bad))
        reply = await self.act(click, activity)
        if not reply.ok:
            return message_response(reply.message)
        card = await self.refreshed_card(click.alert_key, activity)
        if card is None:  # a digest (the outbox re-renders it) or a vanished alert
            return message_response(reply.message)
        return card_response(card_content(card))  # fitted to Teams' message size, like a posted card

    async def act(self, click: translate.Click, activity: Activity) -> ActionReply:
        """The click as a neutral request, run by `bot.actions.table.run_action` (as Slack's are)."""
        actor = translate.actor_of(activity)
        request = translate.request_for(click, actor, translate.conversation_key(activity))
        return await run_action(self.ctx, request)

    async def refreshed_card(self, key: str, activity: Activity) -> Card | None:
        """The alert's card as it is now, for the audience of the card that was clicked."""
        return await card_after_click(
            self.ctx.sessions, alert_key=key, platform=translate.PLATFORM, message_id=activity.reply_to_id,
            conversation=translate.conversation_key(activity), config=await self.ctx.config.get(),
            now=utcnow(),
        )

    # -- messages: Action.Submit fallback and commands ----------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not translate.has_sender(activity):
            return
        if not await self.first_delivery(activity):
            log.info("teams.duplicate_message", activity=activity.id)
            return
        try:
            click = translate.click_from_submit(activity.value)
        except translate.BadAction as bad:
            await self.reply(activity, str(bad))
            return
        if click is not None:
            await self.submit(click, activity)
            return
        text = translate.command_text(activity)
        if text:
            await self.command(text, activity)

    async def first_delivery(self, activity: Activity) -> bool:
        """Teams retries a message it thinks went unanswered, and a captured click can be replayed:
        act on each activity once."""
        if not activity.id or activity.conversation is None:
            return True
        digest = hashlib.sha256(f"{activity.conversation.id}\n{activity.id}".encode()).hexdigest()
        return await first_delivery(self.ctx.sessions, platform=translate.PLATFORM,
                                    delivery_id=f"act:{digest}", now=utcnow())

    async def submit(self, click: translate.Click, activity: Activity) -> None:
        reply = await self.act(click, activity)
        if not reply.ok:
            await self.reply(activity, reply.message)
            return
        card = await self.refreshed_card(click.alert_key, activity)
        if card is None or not activity.reply_to_id or activity.conversation is None:
            return
        place = CardPlace(
            channel=translate.conversation_key(activity) or activity.conversation.id,
            message_id=activity.reply_to_id,
            thread_id=activity.conversation.id,
            conversation_ref={"serviceUrl": activity.service_url},
        )
        try:
            async with self.outbound(activity) as chat:
                await chat.update_card(place=place, card=card)
        except ChatError as exc:  # the outbox update follows anyway
            log.warning("teams.submit_update_failed", alert=click.alert_key, error=exc.reason)

    async def command(self, text: str, activity: Activity) -> None:
        caller = Caller(
            actor=translate.actor_of(activity),
            channel=translate.conversation_key(activity),
            channel_name=translate.conversation_name(activity),
        )
        try:
            answer = await run_command(text, caller=caller, ctx=self.ctx)
        except Exception:  # run_command should never raise; if it does, say so instead of a 500
            log.exception("teams.command_failed")
            await self.reply(activity, SORRY)
            return
        log.info("teams.command", user=caller.actor.id, ok=answer.ok, secret=answer.secret)
        if answer.secret and not translate.is_personal(activity):
            sent = await self.send_privately(activity, answer.text)
            await self.reply(activity, SENT_PRIVATELY if sent else NOT_PRIVATE)
            return
        await self.reply(activity, answer.text)

    # -- outbound -----------------------------------------------------------------------------------

    def outbound(self, activity: Activity) -> TeamsChat:
        return TeamsChat(
            service_url=activity.service_url,
            token_provider=self.token_provider,
            tenant_id=translate.tenant_id(activity),
            bot_id=activity.recipient.id if activity.recipient else None,
            timeout=self.timeout,
        )

    async def reply(self, activity: Activity, text: str) -> None:
        if activity.conversation is None or not activity.service_url:
            return
        conversation = activity.conversation.id
        place = CardPlace(
            channel=conversation,
            message_id=activity.id or "",
            thread_id=conversation,
            conversation_ref={"serviceUrl": activity.service_url},
        )
        try:
            async with self.outbound(activity) as chat:
                await chat.post_reply(place=place, text=text)
        except ChatError as exc:
            log.warning("teams.reply_failed", error=exc.reason)

    async def send_privately(self, activity: Activity, text: str) -> bool:
        sender = activity.from_property
        if sender is None or not sender.id or not activity.service_url:
            return False
        try:
            async with self.outbound(activity) as chat:
                await chat.send_direct(user=sender.id, text=text)
        except ChatError as exc:
            log.warning("teams.private_reply_failed", error=exc.reason)
            return False
        return True
