"""THE table from a button or verb to what it does. Adapters translate a click into an `ActionRequest`
and call `precheck` (before they show a form) or `handle` / `run_action`; nothing else decides what a
button does, what it asks for or who may press it.

    Slack block_actions / Teams Action.Execute → ActionRequest → handle → ROUTES[action]
        → bot/alerts/lifecycle.py

One `Route` per `ActionId`: its guard (may refuse; reads the alert, the actor and the config, needs no
input), its plan (runs the guard, then builds the change from the inputs), the inputs the plan reads,
and the neutral form that asks for them (bot/actions/forms.py; Slack renders a modal, Teams a ShowCard).
Adding a button: an id in bot/action_ids.py, a row here, a guard and a plan in bot/alerts/lifecycle.py.
A route that needs more than the alert (Reply: the customer's address, bot/actions/contact.py) reads it
in `compose` before its plan runs, and may make its form per alert and actor (`prefill`, for `precheck`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bot.action_ids import ActionId, Arg
from bot.actions.answered import answering, clicked_audience
from bot.actions.contact import (
    LOG_CALL_FORM,
    REPLY_FORM,
    compose_reply,
    plan_log_call,
    plan_reply,
    reply_form,
)
from bot.actions.forms import TRUE, FieldKind, Form, FormField, read_form
from bot.actions.systemic_form import children_field, resolve_form_prefill
from bot.alerts.contact import guard_contact
from bot.alerts.lifecycle import (
    Actor,
    AlertNotFoundError,
    Plan,
    Refused,
    apply,
    guard_active,
    guard_claim,
    guard_reassign,
    guard_reopen,
    guard_resolve,
    guard_unclaim,
    guard_wake,
    is_owner,
    plan_claim,
    plan_escalate,
    plan_note,
    plan_reassign,
    plan_reopen,
    plan_resolve,
    plan_snooze,
    plan_unclaim,
    plan_wake,
)
from bot.cards.model import OUTCOME_LABELS, ROOT_CAUSES, Card
from bot.cards.views import load_card
from bot.config.snapshot import ConfigSnapshot
from bot.context import Context
from bot.domain import Outcome, utcnow
from bot.durations import DurationError, parse_duration
from bot.mail.kit import MailKit
from bot.mail.message import Mail
from bot.outbox import LOG_PLATFORM
from bot.systemic.resolve import apply_with_children
from storage import queries
from storage.db import SessionFactory
from storage.models import Alert

__all__ = ["ROUTES", "ActionId", "ActionReply", "ActionRequest", "Arg", "Route", "handle", "precheck"]

log = structlog.get_logger("hotloop.actions")

NOTE_MAX = 3000
REASON_MAX = 500
RESOLVE_OUTCOMES = tuple(o for o in Outcome if o is not Outcome.NOT_ACTIONABLE)  # that one has a button


@dataclass(frozen=True)
class ActionRequest:
    action: ActionId
    alert_key: str
    actor: Actor
    args: Mapping[str, str] = field(default_factory=dict)  # by `Arg`: outcome, note, reason, user, until…
    # the chat channel the click came from; None for App Home, DMs and the CLI
    channel: str | None = None
    # (platform, channel, message id) of the clicked card (a claim from a digest DMs the full card) …
    answered_place: tuple[str, str, str] | None = None
    # … which its adapter refreshes itself for everyone (Slack's response_url, the PUT after a Teams
    # Action.Submit): the outbox's card.update then skips it. False for a Teams invoke, whose answer
    # replaces the card for the clicker only (bot/actions/answered.py)
    refreshed_for_all: bool = True
    # from a direct chat with the bot, where a claim from a digest sends the full card: its owner may act
    direct: bool = False


@dataclass(frozen=True)
class ActionReply:
    ok: bool
    message: str
    alert_key: str


@dataclass(frozen=True)
class Acting:
    """Who acts, when, under which config, with which inputs (only those the route declares)."""

    actor: Actor
    config: ConfigSnapshot
    now: datetime
    inputs: Mapping[str, str]
    mail: Mail | None = None  # the e-mail a Reply sends (its route's `compose`)


Guard = Callable[[Alert, Actor, ConfigSnapshot], None]  # raises `Refused`
# read in the action's session before the plan runs (an e-mail needs the customer's address); may refuse
Compose = Callable[[AsyncSession, Alert, Mapping[str, str], MailKit | None], Awaitable[Mail]]
# the form made for this alert and actor (a prefilled draft); may refuse
Prefill = Callable[[AsyncSession, Alert, Actor, MailKit | None], Awaitable[Form]]


@dataclass(frozen=True)
class Route:
    guard: Guard
    plan: Callable[[Acting], Plan]  # the plan runs `guard` itself, then builds the change
    inputs: tuple[Arg, ...] = ()
    form: Form | None = None  # asked for before the action runs
    compose: Compose | None = None
    prefill: Prefill | None = None
    # the plan a systemic case's open children get in the same transaction (None: not asked for)
    children: Callable[[Acting], Plan | None] | None = None


def _anyone(alert: Alert, actor: Actor, config: ConfigSnapshot) -> None:
    """No guard: anyone who can see the card may do this."""


def _read_only(t: Acting) -> Plan:
    """Details changes nothing: chat adapters show it without running a plan (Slack opens a modal after
    `precheck`, whose guard here lets anyone who can see the card read it; Teams a ShowCard)."""
    raise Refused("Details only shows the alert; it changes nothing")


def snooze_until(choice: str, *, now: datetime, timezone: str = "UTC") -> datetime:
    """30m / 1h / 4h / tomorrow (09:00 in the team's time zone) → an instant."""
    if choice == "tomorrow":
        local = now.astimezone(ZoneInfo(timezone))
        morning = (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        return morning.astimezone(now.tzinfo)
    try:
        seconds = parse_duration(choice)
    except DurationError as exc:
        raise Refused(str(exc)) from exc
    if not 60 <= seconds <= 14 * 86400:
        raise Refused("snooze for between 1 minute and 14 days")
    return now + timedelta(seconds=seconds)


def _snooze(t: Acting) -> Plan:
    until = snooze_until(t.inputs.get(Arg.UNTIL) or "1h", now=t.now)
    return plan_snooze(t.actor, t.now, until, t.inputs.get(Arg.REASON) or None)


def _resolve(t: Acting) -> Plan:
    return plan_resolve(t.actor, t.now, t.config, Outcome(t.inputs[Arg.OUTCOME]),
                        t.inputs.get(Arg.ROOT_CAUSE) or None, t.inputs.get(Arg.NOTE) or None,
                        t.inputs.get(Arg.FOLLOW_UP) == TRUE)


def _reassign(t: Acting) -> Plan:
    user = t.inputs[Arg.USER]
    return plan_reassign(t.actor, t.now, t.config, user, t.inputs.get(Arg.USER_NAME) or user)


def _escalate(t: Acting) -> Plan:
    return plan_escalate(t.actor, t.now, t.config, t.inputs.get(Arg.REASON) or None)


def _not_actionable(t: Acting) -> Plan:
    return plan_resolve(t.actor, t.now, t.config, Outcome.NOT_ACTIONABLE, None, t.inputs.get(Arg.NOTE))


def _reply(t: Acting) -> Plan:
    return plan_reply(t.actor, t.now, t.inputs.get(Arg.MESSAGE, ""), t.mail)


def _log_call(t: Acting) -> Plan:
    return plan_log_call(t.actor, t.now, t.inputs.get(Arg.NOTE))


RESOLVE_FORM = Form("Resolve", "Resolve", style="primary", fields=(
    FormField(Arg.OUTCOME, "Outcome", FieldKind.CHOICE, required=True, prompt="Pick an outcome",
              choices=tuple((o.value, OUTCOME_LABELS[o]) for o in RESOLVE_OUTCOMES)),
    FormField(Arg.ROOT_CAUSE, "Root cause", FieldKind.CHOICE, placeholder="Pick one",
              prompt="Pick a root cause from the list",
              choices=tuple((c, c.capitalize()) for c in ROOT_CAUSES)),
    FormField(Arg.NOTE, "Note", multiline=True, max_length=NOTE_MAX,
              placeholder="What happened, what was done"),
    FormField(Arg.FOLLOW_UP, "Follow-up", FieldKind.BOOLEAN,
              placeholder="Send the customer a follow-up survey"),
    children_field(None),  # a systemic case's; `prefill` drops it for every other alert
))
NOTE_FORM = Form("Add note", "Add note", fields=(
    FormField(Arg.NOTE, "Note", required=True, multiline=True, max_length=NOTE_MAX, prompt="Write a note",
              placeholder="Visible in the alert's thread"),
))
ESCALATE_FORM = Form("Escalate", "Escalate", style="danger", fields=(
    FormField(Arg.REASON, "Reason", max_length=REASON_MAX, placeholder="Why it needs more help",
              hint="Posted with the escalation to the managers"),
))
REASSIGN_FORM = Form("Reassign", "Reassign", fields=(
    FormField(Arg.USER, "Assign to", FieldKind.USER, required=True, max_length=255, prompt="Pick someone",
              placeholder="Pick someone"),
))

ROUTES: dict[ActionId, Route] = {
    ActionId.CLAIM: Route(guard=guard_claim, plan=lambda t: plan_claim(t.actor, t.now, t.config)),
    ActionId.UNCLAIM: Route(guard=guard_unclaim, plan=lambda t: plan_unclaim(t.actor, t.now, t.config)),
    ActionId.ESCALATE: Route(guard=guard_active, plan=_escalate, inputs=(Arg.REASON,), form=ESCALATE_FORM),
    ActionId.RESOLVE: Route(guard=guard_resolve, plan=_resolve, form=RESOLVE_FORM,
                            inputs=(Arg.OUTCOME, Arg.ROOT_CAUSE, Arg.NOTE, Arg.FOLLOW_UP, Arg.CHILDREN),
                            prefill=partial(resolve_form_prefill, base=RESOLVE_FORM),
                            children=lambda t: _resolve(t) if t.inputs.get(Arg.CHILDREN) == TRUE else None),
    ActionId.NOT_ACTIONABLE: Route(guard=guard_resolve, plan=_not_actionable, inputs=(Arg.NOTE,)),
    ActionId.REOPEN: Route(guard=guard_reopen, plan=lambda t: plan_reopen(t.actor, t.now, t.config)),
    ActionId.NOTE: Route(guard=_anyone, plan=lambda t: plan_note(t.actor, t.now, t.inputs[Arg.NOTE]),
                         inputs=(Arg.NOTE,), form=NOTE_FORM),
    ActionId.SNOOZE: Route(guard=guard_active, plan=_snooze, inputs=(Arg.UNTIL, Arg.REASON)),
    ActionId.WAKE: Route(guard=guard_wake, plan=lambda t: plan_wake(t.actor, t.now, t.config)),
    ActionId.DETAILS: Route(guard=_anyone, plan=_read_only),
    ActionId.REPLY: Route(guard=guard_contact, plan=_reply, inputs=(Arg.MESSAGE,), form=REPLY_FORM,
                          compose=compose_reply, prefill=reply_form),
    ActionId.LOG_CALL: Route(guard=guard_contact, plan=_log_call, inputs=(Arg.NOTE,), form=LOG_CALL_FORM),
    ActionId.REASSIGN: Route(guard=guard_reassign, plan=_reassign, inputs=(Arg.USER, Arg.USER_NAME),
                             form=REASSIGN_FORM),
}


def form_for(action: ActionId) -> Form | None:
    """The form `action` asks its inputs with before it runs; None when a click is enough."""
    route = ROUTES.get(action)
    return route.form if route is not None else None


def _inputs(route: Route, args: Mapping[str, str]) -> dict[str, str]:
    """The route's declared inputs from `args`, its form's fields read and checked (`Refused` if not)."""
    inputs: dict[str, str] = {name: args[name] for name in route.inputs if args.get(name) is not None}
    if route.form is None:
        return inputs
    read = read_form(route.form, args)
    if read.errors:
        raise Refused(next(iter(read.errors.values())))
    return {**inputs, **read.args}


def _require_card_here(request: ActionRequest, places: set[tuple[str, str]], alert: Alert) -> None:
    """A click must come from a channel where this alert's card was posted: a key typed or replayed
    into another team's channel acts on nothing. A channel is a (platform, id) pair like a user. In a
    direct chat with the bot only the alert's owner acts (the card they got claiming from a digest)."""
    if request.channel is None or not places or (request.actor.platform, request.channel) in places:
        return
    if not (request.direct and is_owner(alert, request.actor)):
        raise Refused(f"{request.alert_key} is not handled in this channel")


async def _alert_here(session: AsyncSession, request: ActionRequest) -> Alert:
    """The alert a request is about, checked to be clickable from the request's channel."""
    alert = await queries.get_alert(session, key=request.alert_key)
    if alert is None or alert.id is None:
        raise AlertNotFoundError(request.alert_key)
    if request.channel is not None:
        refs = await queries.card_refs(session, alert_id=alert.id)
        # a card written to the log (no chat destination) has no buttons anyone could click
        places = {(r.platform, r.channel) for r in refs if r.platform != LOG_PLATFORM}
        _require_card_here(request, places, alert)
    return alert


@dataclass(frozen=True)
class Precheck:
    refusal: str | None  # shown instead of the form
    card: Card | None  # the alert as its team sees it now, to show above the form
    form: Form | None = None  # the route's form for this alert and actor (Reply: with its draft)


async def precheck(
    request: ActionRequest, *, sessions: SessionFactory, config: ConfigSnapshot, now: datetime,
    mail: MailKit | None = None,
) -> Precheck:
    """The route's guard only, before its form is shown: a refusal then replaces the form. Writes nothing."""
    route = ROUTES.get(request.action)
    async with sessions() as session:
        try:
            alert = await _alert_here(session, request)
        except AlertNotFoundError:
            return Precheck(f"There is no alert {request.alert_key}", None)
        except Refused as refused:
            return Precheck(refused.message, None)
        assert alert.id is not None
        card = await load_card(session, alert_id=alert.id, audience="team", now=now)
        if route is None:
            return Precheck(f"Unknown action {request.action}", card)
        try:
            route.guard(alert, request.actor, config)
            form = await route.prefill(session, alert, request.actor, mail) if route.prefill else route.form
        except Refused as refused:
            return Precheck(refused.message, card)
    return Precheck(None, card, form)


async def _acting(route: Route, request: ActionRequest, *, sessions: SessionFactory, config: ConfigSnapshot,
                  now: datetime, mail: MailKit | None) -> tuple[Acting, str | None]:
    """What the plan acts with (the inputs read, a Reply's e-mail composed), and the clicked card's
    audience. `Refused` / `AlertNotFoundError` when the request cannot go on."""
    inputs = _inputs(route, request.args)
    async with sessions() as session:
        alert = await _alert_here(session, request)
        clicked = await clicked_audience(session, alert_id=alert.id or 0, place=request.answered_place)
        composed = await route.compose(session, alert, inputs, mail) if route.compose else None
    return Acting(request.actor, config, now, inputs, composed), clicked


async def handle(
    request: ActionRequest, *, sessions: SessionFactory, config: ConfigSnapshot, now: datetime,
    mail: MailKit | None = None,
) -> ActionReply:
    """Inputs read, then guard and change in one compare-and-set (`bot.alerts.lifecycle.apply`).
    `mail`: what a Reply writes its e-mail with (None: e-mail is not set up, Reply refuses)."""
    route = ROUTES.get(request.action)
    if route is None:
        return ActionReply(False, f"Unknown action {request.action}", request.alert_key)
    try:
        acting, clicked = await _acting(route, request, sessions=sessions, config=config, now=now, mail=mail)
        plan = answering(route.plan(acting), action=request.action, actor=request.actor,
                         place=request.answered_place, audience=clicked, skip=request.refreshed_for_all)
        child_plan = route.children(acting) if route.children is not None else None
        if child_plan is None:
            result = await apply(sessions, key=request.alert_key, actor=request.actor, now=now, plan=plan)
        else:
            result = await apply_with_children(sessions, key=request.alert_key, actor=request.actor, now=now,
                                               plan=plan, child_plan=child_plan)
    except Refused as refused:
        return ActionReply(False, refused.message, request.alert_key)
    except AlertNotFoundError:
        return ActionReply(False, f"There is no alert {request.alert_key}", request.alert_key)
    return ActionReply(result.ok, result.message, request.alert_key)


def mail_kit(ctx: Context, action: ActionId) -> MailKit | None:
    """What `action` writes e-mail with, when it writes any and e-mail is set up."""
    route = ROUTES.get(action)
    if route is None or (route.compose is None and route.prefill is None) or not ctx.settings.mail_enabled:
        return None
    return MailKit.from_settings(ctx.settings)


async def run_action(ctx: Context, request: ActionRequest) -> ActionReply:
    """`handle` for a chat adapter: with the running config, waking the outbox when something changed."""
    reply = await handle(request, sessions=ctx.sessions, config=await ctx.config.get(), now=utcnow(),
                         mail=mail_kit(ctx, request.action))
    if reply.ok:
        ctx.signal.notify()
    log.info(f"{request.actor.platform}.action", action=str(request.action), alert=request.alert_key,
             user=request.actor.id, ok=reply.ok)
    return reply
