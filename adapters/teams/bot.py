"""The Teams bot: one `ActivityHandler` turn per inbound activity.

    every activity                 → remember its conversation reference (Conversation table)
    invoke adaptiveCard/action     → bot.actions.table.run_action → invoke response: the refreshed card, or a
                                     message ("HA-1001 was already claimed by Dana")
    invoke alert.reply, no text    → bot.actions.table.precheck → the card with the Reply form open,
                                     its draft for this customer signed by the clicker (or the refusal)
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
from dataclasses import replace
from typing import Any

import structlog
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import Activity

from adapters.teams import translate
from adapters.teams.answer import clicked_place, content_of, refreshed, replace_clicked
from adapters.teams.card_actions import with_open_form
from adapters.teams.card_size import card_content
from adapters.teams.connector import TeamsChat, TokenProvider
from adapters.teams.render import CONTENT_TYPE
from bot.action_ids import ActionId, Arg
from bot.actions.table import ActionReply, mail_kit, precheck, run_action
from bot.chat.answer import ClickedView, refresh_later
from bot.chat.port import CardPlace, ChatError
from bot.chat.state import first_delivery, remember_conversation
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
        if click.verb is ActionId.REPLY and not click.args.get(Arg.MESSAGE):
            return await self.open_reply(click, activity)
        reply = await self.act(click, activity)
        if not reply.ok:
            return message_response(reply.message)
        card = await self.refreshed_card(click.alert_key, activity)
        if card is None:  # a vanished alert
            return message_response(reply.message)
        return card_response(content_of(card))  # the outbox's card.update skips this place

    async def open_reply(self, click: translate.Click, activity: Activity) -> Json:
        """Reply's first step, as Slack's modal: the route's guard, then the card with the form holding
        this customer's draft signed by the clicker. Writes nothing, so no place is marked answered."""
        actor, conversation = translate.actor_of(activity), translate.conversation_key(activity)
        request = replace(translate.request_for(click, actor, conversation),
                          direct=translate.is_personal(activity))
        checked = await precheck(request, sessions=self.ctx.sessions, config=await self.ctx.config.get(),
                                 now=utcnow(), mail=mail_kit(self.ctx, click.verb))
        if checked.refusal is not None or checked.form is None:
            return message_response(checked.refusal or f"There is no alert {click.alert_key}")
        view = await refreshed(self.ctx, click.alert_key, activity)  # the clicked card's own audience
        card = view.shown if view is not None and not isinstance(view.shown, list) else checked.card
        if card is None:
            return message_response(f"There is no alert {click.alert_key}")
        return card_response(with_open_form(card_content(card), click.alert_key, click.verb, checked.form))

    async def act(self, click: translate.Click, activity: Activity) -> ActionReply:
        """The click as a neutral request, run by `bot.actions.table.run_action` (as Slack's are)."""
        if translate.needs_assignee_name(click):
            click = await self.with_assignee_name(click, activity)
        actor, conversation = translate.actor_of(activity), translate.conversation_key(activity)
        # After an Action.Submit the bot's own PUT replaces the card for everyone, so the outbox skips
        # it. An invoke answer replaces it for the clicker only (Teams' "replace for interactor"), so
        # the outbox still updates it for everyone else. In a personal chat (the full card a claim from
        # a digest sends) its owner may act.
        request = replace(translate.request_for(click, actor, conversation),
                          answered_place=clicked_place(activity), refreshed_for_all=activity.type != "invoke",
                          direct=translate.is_personal(activity))
        return await run_action(self.ctx, request)

    async def with_assignee_name(self, click: translate.Click, activity: Activity) -> translate.Click:
        """The picked person's name from the Bot Connector, so the card names the new owner; their id
        when the lookup fails (the reassignment still goes through)."""
        user, scope = click.args[Arg.USER], translate.members_of(activity)
        name = None
        try:
            if scope and activity.service_url:
                async with self.outbound(activity) as chat:
                    name = await chat.member_name(conversation_id=scope, user_id=user)
        except Exception:  # e.g. no token: a missing name must not cost the reassignment
            log.exception("teams.member_lookup_failed")
        if name is None:
            log.info("teams.member_name_unknown", alert=click.alert_key)
        return replace(click, args={**click.args, Arg.USER_NAME: name or user})

    async def refreshed_card(self, key: str, activity: Activity) -> ClickedView | None:
        """What the clicked card shows now: the alert's card for its audience, or the digest it is in.
        A digest is refreshed once more by the outbox: answers to several clicks on it at once may reach
        Teams in any order, the last one older than the others."""
        view = await refreshed(self.ctx, key, activity)
        if view is not None and isinstance(view.shown, list):
            await refresh_later(self.ctx.sessions, view=view, now=utcnow())
            self.ctx.signal.notify()
        return view

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
                await replace_clicked(chat, place, card)
        except ChatError as exc:  # the outbox updates this place instead
            log.warning("teams.submit_update_failed", alert=click.alert_key, error=exc.reason)
            await refresh_later(self.ctx.sessions, view=card, now=utcnow())
            self.ctx.signal.notify()

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
        link = (answer.link.label, answer.link.url) if answer.link is not None else None
        if answer.secret and not translate.is_personal(activity):
            sent = await self.send_privately(activity, answer.text, link=link)
            await self.reply(activity, SENT_PRIVATELY if sent else NOT_PRIVATE)
            return
        await self.reply(activity, answer.text, link=link)

    # -- outbound -----------------------------------------------------------------------------------

    def outbound(self, activity: Activity) -> TeamsChat:
        return TeamsChat(
            service_url=activity.service_url,
            token_provider=self.token_provider,
            tenant_id=translate.tenant_id(activity),
            bot_id=activity.recipient.id if activity.recipient else None,
            timeout=self.timeout,
        )

    async def reply(self, activity: Activity, text: str, *, link: tuple[str, str] | None = None) -> None:
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
                await chat.post_reply(place=place, text=text, link=link)
        except ChatError as exc:
            log.warning("teams.reply_failed", error=exc.reason)

    async def send_privately(self, activity: Activity, text: str, *,
                             link: tuple[str, str] | None = None) -> bool:
        sender = activity.from_property
        if sender is None or not sender.id or not activity.service_url:
            return False
        try:
            async with self.outbound(activity) as chat:
                await chat.send_direct(user=sender.id, text=text, link=link)
        except ChatError as exc:
            log.warning("teams.private_reply_failed", error=exc.reason)
            return False
        return True
