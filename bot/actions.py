"""THE table from a button or verb to its handler. Adapters translate a click into an `ActionRequest`
and call `dispatch`; nothing else decides what a button does.

    Slack block_actions / Teams Action.Execute  →  ActionRequest  →  ROUTES[action]  →  bot/alerts.py
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.action_ids import ActionId
from bot.alerts import (
    Actor,
    AlertNotFoundError,
    Plan,
    Refused,
    TransitionResult,
    apply,
    plan_claim,
    plan_escalate,
    plan_note,
    plan_reassign,
    plan_reopen,
    plan_resolve,
    plan_snooze,
    plan_unclaim,
    snooze_until,
)
from bot.config_snapshot import ConfigSnapshot
from bot.domain import Outcome
from bot.outbox import LOG_PLATFORM
from storage import queries
from storage.db import SessionFactory

__all__ = ["ROUTES", "ActionId", "ActionReply", "ActionRequest", "dispatch"]


@dataclass(frozen=True)
class ActionRequest:
    action: ActionId
    alert_key: str
    actor: Actor
    args: Mapping[str, str] = field(default_factory=dict)  # outcome, root_cause, note, reason, until, user…
    # the chat channel the click came from; None for App Home, DMs and the CLI
    channel: str | None = None


@dataclass(frozen=True)
class ActionReply:
    ok: bool
    message: str
    alert_key: str
    needs_input: bool = False  # the adapter should show a form (modal / ShowCard) first


PlanBuilder = Callable[[ActionRequest, ConfigSnapshot, datetime], Plan]


def _outcome(request: ActionRequest) -> Outcome:
    try:
        return Outcome(request.args.get("outcome", ""))
    except ValueError:
        options = ", ".join(o.value for o in Outcome)
        raise Refused(f"Pick an outcome: {options}") from None


def _snooze(request: ActionRequest, config: ConfigSnapshot, now: datetime) -> Plan:
    until = snooze_until(request.args.get("until", "1h"), now=now)
    return plan_snooze(request.actor, now, until, request.args.get("reason"))


def _reassign(request: ActionRequest, config: ConfigSnapshot, now: datetime) -> Plan:
    user = request.args.get("user", "").strip()
    if not user:
        raise Refused("Pick someone to reassign to")
    return plan_reassign(request.actor, now, config, user, request.args.get("user_name") or user)


ROUTES: dict[ActionId, PlanBuilder] = {
    ActionId.CLAIM: lambda r, c, now: plan_claim(r.actor, now, c),
    ActionId.UNCLAIM: lambda r, c, now: plan_unclaim(r.actor, now, c),
    ActionId.ESCALATE: lambda r, c, now: plan_escalate(r.actor, now, c, r.args.get("reason")),
    ActionId.RESOLVE: lambda r, c, now: plan_resolve(
        r.actor, now, c, _outcome(r), r.args.get("root_cause") or None, r.args.get("note"),
        r.args.get("follow_up") in ("true", "on", "1")),
    ActionId.NOT_ACTIONABLE: lambda r, c, now: plan_resolve(
        r.actor, now, c, Outcome.NOT_ACTIONABLE, None, r.args.get("note")),
    ActionId.REOPEN: lambda r, c, now: plan_reopen(r.actor, now, c),
    ActionId.NOTE: lambda r, c, now: plan_note(r.actor, now, r.args.get("note", "")),
    ActionId.SNOOZE: _snooze,
    ActionId.REASSIGN: _reassign,
}

# actions that need a form before they can run, and the argument that says the form was filled
NEEDS_INPUT: dict[ActionId, str] = {
    ActionId.RESOLVE: "outcome",
    ActionId.NOTE: "note",
    ActionId.REASSIGN: "user",
    ActionId.ESCALATE: "reason",
}

Dispatcher = Callable[[ActionRequest], Awaitable[ActionReply]]


async def _require_card_here(sessions: SessionFactory, request: ActionRequest) -> None:
    """A click must come from a channel where this alert's card was posted: a key typed or replayed
    into another team's channel acts on nothing."""
    if request.channel is None:
        return
    async with sessions() as session:
        alert = await queries.get_alert(session, key=request.alert_key)
        if alert is None or alert.id is None:
            raise AlertNotFoundError(request.alert_key)
        refs = await queries.card_refs(session, alert_id=alert.id)
    # a card written to the log (no chat destination) has no buttons anyone could click; a channel is
    # a (platform, id) pair like a user
    places = {(ref.platform, ref.channel) for ref in refs if ref.platform != LOG_PLATFORM}
    if places and (request.actor.platform, request.channel) not in places:
        raise Refused(f"{request.alert_key} is not handled in this channel")


async def dispatch(
    request: ActionRequest, *, sessions: SessionFactory, config: ConfigSnapshot, now: datetime
) -> ActionReply:
    builder = ROUTES.get(request.action)
    if builder is None:
        return ActionReply(False, f"Unknown action {request.action}", request.alert_key)
    try:
        await _require_card_here(sessions, request)
        plan = builder(request, config, now)
        result: TransitionResult = await apply(
            sessions, key=request.alert_key, actor=request.actor, now=now, plan=plan
        )
    except Refused as refused:
        return ActionReply(False, refused.message, request.alert_key)
    except AlertNotFoundError:
        return ActionReply(False, f"There is no alert {request.alert_key}", request.alert_key)
    return ActionReply(result.ok, result.message, request.alert_key)
