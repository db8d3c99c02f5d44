"""The alert lifecycle: claim, unclaim, escalate, reassign, snooze, wake, note, resolve, reopen.

Every transition is one compare-and-set (`UPDATE alert … WHERE id = :id AND version = :v`) plus one
`AlertEvent` and its outbox rows, in one transaction. A transition that loses a race re-reads the
alert and re-checks: the loser of two simultaneous claims is told who won; nothing is overwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from bot.alerts.writer import AlertValues, AlertWrite, Change, write_changes
from bot.business_hours import add_business_seconds, business_seconds_between
from bot.cards.model import OUTCOME_LABELS, humanize_delta
from bot.config.snapshot import ConfigSnapshot
from bot.domain import AlertStatus, Outcome, Severity
from bot.identity import qualify
from bot.outbox import LOG_PLATFORM
from bot.sla.deadlines import due_times
from bot.sla.policy import heads_up_at, waiting_on_customer
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import Alert


@dataclass(frozen=True)
class Actor:
    id: str
    name: str
    platform: str  # slack | teams | cli | hotloop


SYSTEM = Actor(id="hotloop", name="hotloop", platform="hotloop")


def is_owner(alert: Alert, actor: Actor) -> bool:
    """Ids are compared with their platform: a Teams user whose id equals a Slack owner's is not them."""
    return alert.owner_id is not None and (alert.owner_platform, alert.owner_id) == (actor.platform, actor.id)


def is_resolver(alert: Alert, actor: Actor) -> bool:
    return alert.resolved_by_id is not None and (
        (alert.resolved_by_platform, alert.resolved_by_id) == (actor.platform, actor.id)
    )


class AlertNotFoundError(LookupError):
    pass


class Refused(Exception):  # a verdict, not a failure
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class TransitionResult:
    ok: bool
    message: str
    alert: Alert | None


Plan = Callable[[Alert], Change]


def can_manage(alert: Alert, actor: Actor, config: ConfigSnapshot) -> bool:
    """Owner, the team's managers and admins may unclaim, resolve, reassign and reopen."""
    # the terminal (`hotloop alerts …`) needs the database and the secret key: an admin's reach
    if actor is SYSTEM or actor.platform == "cli" or is_owner(alert, actor):
        return True
    who = qualify(actor.platform, actor.id)
    return who in config.team(alert.team_id).managers or who in config.admins


def _clock(now: datetime) -> str:
    return f"{now:%H:%M} UTC"


async def apply(
    sessions: SessionFactory, *, key: str, actor: Actor, now: datetime, plan: Plan, attempts: int = 5
) -> TransitionResult:
    """Run `plan` against the current alert and commit it with compare-and-set, re-reading on a lost race."""
    for _ in range(attempts):
        async with transaction(sessions) as session:
            alert = await queries.get_alert(session, key=key)
            if alert is None:
                raise AlertNotFoundError(f"no alert {key}")
            try:
                change = plan(alert)
            except Refused as refused:
                return TransitionResult(False, refused.message, alert)
            # the one writer (bot/alerts/writer.py); losing a race there means: read again, decide again
            if await write_changes(session, writes=[AlertWrite(alert, [change], actor)], now=now):
                return TransitionResult(True, change.message, alert)
    return TransitionResult(False, f"{key} is changing fast; try again", None)


def _require_active(alert: Alert) -> None:
    if alert.status == AlertStatus.RESOLVED:
        raise Refused(f"{alert.key} was already resolved by {alert.resolved_by or 'someone'}")


def _require_manager(alert: Alert, actor: Actor, config: ConfigSnapshot, what: str) -> None:
    if not can_manage(alert, actor, config):
        owner = f" ({alert.owner_name} owns it)" if alert.owner_name else ""
        raise Refused(f"Only the owner, the team's managers or an admin can {what} {alert.key}{owner}")


# ---- the transitions: each a guard (may refuse before any input is asked for: precheck) and a plan
# that runs its guard, then builds the change from the inputs; bot/actions/table.py ROUTES names both ----


def guard_active(alert: Alert, actor: Actor, config: ConfigSnapshot | None = None) -> None:
    _require_active(alert)


def guard_claim(alert: Alert, actor: Actor, config: ConfigSnapshot | None = None) -> None:
    _require_active(alert)
    if is_owner(alert, actor):
        raise Refused(f"You already own {alert.key}")
    if alert.owner_id:
        raise Refused(f"{alert.key} was already claimed by {alert.owner_name or alert.owner_id}")


def plan_claim(actor: Actor, now: datetime, config: ConfigSnapshot | None = None) -> Plan:
    def plan(alert: Alert) -> Change:
        guard_claim(alert, actor, config)
        values: AlertValues = {
                  "status": AlertStatus.CLAIMED.value, "owner_id": actor.id, "owner_name": actor.name,
                  "owner_platform": actor.platform, "claimed_at": alert.claimed_at or now,
                  "snoozed_until": None, "snooze_reason": None, "snoozed_at": None, "nag_count": 0}
        line = f"{actor.name} claimed · {_clock(now)}"
        paused = _waiting_on_customer_credit(alert, now, config)
        data: dict[str, Any] = {}
        if paused is not None:
            values["resolve_due_at"], seconds = paused
            data["paused_seconds"] = seconds
            line += f" · resolve clock paused {humanize_delta(seconds)} waiting on the customer"
        return Change(values, "claimed", f"You claimed {alert.key}", line, event_data=data)

    return plan


def _waiting_on_customer_credit(
    alert: Alert, now: datetime, config: ConfigSnapshot | None
) -> tuple[datetime, int] | None:
    """A "waiting on customer" snooze ended early: (the moved resolve deadline, seconds paused), as the
    SLA sweep credits a snooze that runs out (bot/sla_sweep.py `_woke`)."""
    if alert.status != AlertStatus.SNOOZED or not waiting_on_customer(alert.snooze_reason):
        return None
    if alert.resolve_due_at is None or alert.snoozed_at is None:
        return None
    hours = config.team(alert.team_id).hours if config is not None else None
    paused = business_seconds_between(alert.snoozed_at, min(now, alert.snoozed_until or now), hours)
    return add_business_seconds(alert.resolve_due_at, paused, hours), paused


def guard_unclaim(alert: Alert, actor: Actor, config: ConfigSnapshot) -> None:
    _require_active(alert)
    if not alert.owner_id:
        raise Refused(f"{alert.key} is not claimed")
    _require_manager(alert, actor, config, "unclaim")


def plan_unclaim(actor: Actor, now: datetime, config: ConfigSnapshot) -> Plan:
    def plan(alert: Alert) -> Change:
        guard_unclaim(alert, actor, config)
        values: AlertValues = {
            "status": AlertStatus.OPEN.value, "owner_id": None, "owner_name": None, "owner_platform": None,
            "nag_count": 0,
        }
        return Change(values, "unclaimed", f"{alert.key} is back in the queue",
                      f"{actor.name} unclaimed · {_clock(now)}",
                      event_data={"previous_owner": alert.owner_id})

    return plan


def escalation_places(alert: Alert, level: int, config: ConfigSnapshot) -> list[tuple[str, str]]:
    """Where escalation `level` goes: the team's chain step, else its managers' channels, else the log."""
    steps = [s for s in config.escalation_steps(alert.team_id) if s.level == level]
    if not steps and level > 1:  # past the end of the chain: stay with the last step
        chain = config.escalation_steps(alert.team_id)
        steps = [chain[-1]] if chain else []
    places = [(s.platform, s.destination) for s in steps if s.platform != "user"]
    team = config.team(alert.team_id)
    return places or team.manager_destinations or [(LOG_PLATFORM, "managers")]


def plan_escalate(actor: Actor, now: datetime, config: ConfigSnapshot, reason: str | None) -> Plan:
    def plan(alert: Alert) -> Change:
        guard_active(alert, actor, config)
        level = alert.escalation_level + 1
        because = f": {reason}" if reason else ""
        return Change(
            {"escalation_level": level},
            "escalated",
            f"{alert.key} escalated to level {level}",
            f"{actor.name} escalated to level {level}{because} · {_clock(now)}",
            event_data={"level": level, "reason": reason},
            posts=escalation_places(alert, level, config),
        )

    return plan


def guard_reassign(alert: Alert, actor: Actor, config: ConfigSnapshot) -> None:
    _require_active(alert)
    if alert.owner_id:
        _require_manager(alert, actor, config, "reassign")


def plan_reassign(actor: Actor, now: datetime, config: ConfigSnapshot, to_id: str, to_name: str) -> Plan:
    def plan(alert: Alert) -> Change:
        guard_reassign(alert, actor, config)
        # the person is picked in the reassigner's own platform (Slack's user picker, Teams' people picker)
        if (alert.owner_platform, alert.owner_id) == (actor.platform, to_id):
            raise Refused(f"{to_name} already owns {alert.key}")
        values: AlertValues = {"status": AlertStatus.CLAIMED.value, "owner_id": to_id, "owner_name": to_name,
                  "owner_platform": actor.platform, "claimed_at": alert.claimed_at or now, "nag_count": 0}
        dm = f"{actor.name} assigned hot alert {alert.key} ({alert.severity}) to you."
        return Change(values, "reassigned", f"{alert.key} reassigned to {to_name}",
                      f"{actor.name} reassigned to {to_name} · {_clock(now)}",
                      event_data={"from": alert.owner_id, "to": to_id}, directs=[(actor.platform, to_id, dm)])

    return plan


def plan_snooze(actor: Actor, now: datetime, until: datetime, reason: str | None) -> Plan:
    def plan(alert: Alert) -> Change:
        guard_active(alert, actor)
        values: AlertValues = {"status": AlertStatus.SNOOZED.value, "snoozed_until": until,
                               "snooze_reason": reason, "snoozed_at": now}
        why = f" ({reason})" if reason else ""
        return Change(values, "snoozed", f"{alert.key} snoozed until {until:%Y-%m-%d %H:%M} UTC",
                      f"{actor.name} snoozed until {until:%a %H:%M} UTC{why}",
                      event_data={"until": until.isoformat(), "reason": reason,
                                  "resume_status": "claimed" if alert.owner_id else "open"})

    return plan


def guard_wake(alert: Alert, actor: Actor, config: ConfigSnapshot | None = None) -> None:
    """Anyone may wake a snoozed alert: it only goes back to its owner (or the queue) early."""
    _require_active(alert)
    if alert.status != AlertStatus.SNOOZED:
        raise Refused(f"{alert.key} is not snoozed")


def plan_wake(actor: Actor, now: datetime, config: ConfigSnapshot | None = None) -> Plan:
    """Snoozed → claimed (when it has an owner) or open, crediting a "waiting on customer" pause as
    claiming or the sweep's own wake-up (bot/sla_sweep.py `_woke`) do."""
    def plan(alert: Alert) -> Change:
        guard_wake(alert, actor, config)
        resume = AlertStatus.CLAIMED if alert.owner_id else AlertStatus.OPEN
        # next_nag_at = now: the SLA sweep looks at the alert at once and plans its next step itself
        values: AlertValues = {"status": resume.value, "snoozed_until": None, "snooze_reason": None,
                               "snoozed_at": None, "nag_count": 0, "next_nag_at": now}
        who = alert.owner_name or alert.owner_id
        line = f"{actor.name} woke it up · " + (f"back with {who}" if who else "back in the queue")
        data: dict[str, Any] = {"resume_status": resume.value, "reason": alert.snooze_reason, "manual": True}
        paused = _waiting_on_customer_credit(alert, now, config)
        if paused is not None:
            values["resolve_due_at"], data["paused_seconds"] = paused
            line += f" · resolve clock paused {humanize_delta(paused[1])} waiting on the customer"
        return Change(values, "woke", f"{alert.key} is awake: {resume.value}", f"{line} · {_clock(now)}",
                      thread_mention=None if is_owner(alert, actor) else alert.owner_id,
                      event_data=data)

    return plan


def plan_note(actor: Actor, now: datetime, text: str) -> Plan:
    def plan(alert: Alert) -> Change:
        if not text.strip():
            raise Refused("A note needs some text")
        return Change({}, "note", f"Note added to {alert.key}",
                      f"{actor.name} added a note: {text.strip()[:2000]}",
                      event_data={"text": text.strip()[:3000]})

    return plan


def guard_resolve(alert: Alert, actor: Actor, config: ConfigSnapshot) -> None:
    _require_active(alert)
    if alert.owner_id and not is_owner(alert, actor):
        _require_manager(alert, actor, config, "resolve")


def plan_resolve(actor: Actor, now: datetime, config: ConfigSnapshot, outcome: Outcome,
                 root_cause: str | None, note: str | None, follow_up: bool = False) -> Plan:
    def plan(alert: Alert) -> Change:
        guard_resolve(alert, actor, config)
        values: AlertValues = {
                  "status": AlertStatus.RESOLVED.value, "outcome": outcome.value, "root_cause": root_cause,
                  "resolution_note": (note or "")[:3000] or None, "resolved_at": now,
                  "resolved_by": actor.name, "resolved_by_id": actor.id,
                  "resolved_by_platform": actor.platform, "snoozed_until": None, "snoozed_at": None,
                  "next_nag_at": None,
                  # the follow-up sweep decides on it (bot/mail/followup.py); a second resolve asks anew
                  "follow_up_status": "asked" if follow_up else "unasked", "follow_up_due_at": None}
        label = OUTCOME_LABELS[outcome]
        cause = f" ({root_cause})" if root_cause else ""
        return Change(values, "resolved", f"{alert.key} resolved: {label}",
                      f"{actor.name} resolved: {label}" + cause + f" · {_clock(now)}",
                      event_data={"outcome": outcome.value, "root_cause": root_cause, "note": note,
                                  "follow_up_survey": follow_up})

    return plan


def guard_reopen(alert: Alert, actor: Actor, config: ConfigSnapshot) -> None:
    if alert.status != AlertStatus.RESOLVED:
        raise Refused(f"{alert.key} is not resolved")
    if not is_resolver(alert, actor):  # by id and platform: display names are not unique
        _require_manager(alert, actor, config, "reopen")  # the owner is one (`can_manage`)


def _reopened_values(alert: Alert, now: datetime, config: ConfigSnapshot) -> AlertValues:
    """Back to claimed (with its owner) or open, with fresh SLA clocks."""
    team = config.team(alert.team_id)
    claim_due, resolve_due = due_times(config, team=team, severity=Severity(alert.severity), start=now)
    status = AlertStatus.CLAIMED if alert.owner_id else AlertStatus.OPEN
    running = claim_due if status is AlertStatus.OPEN else resolve_due
    return {"status": status.value, "outcome": None,
            "root_cause": None, "resolution_note": None, "resolved_at": None, "resolved_by": None,
            "resolved_by_id": None, "resolved_by_platform": None,
            "claim_due_at": claim_due, "resolve_due_at": resolve_due, "nag_count": 0,
            # a fresh clock gets its heads-up at 75 %, as a new alert does
            "next_nag_at": heads_up_at(now, running, team.hours) if running else None}


def plan_reopen(actor: Actor, now: datetime, config: ConfigSnapshot) -> Plan:
    def plan(alert: Alert) -> Change:
        guard_reopen(alert, actor, config)
        values = _reopened_values(alert, now, config)
        return Change(values, "reopened", f"{alert.key} reopened", f"{actor.name} reopened · {_clock(now)}")

    return plan


def plan_customer_answer(now: datetime, config: ConfigSnapshot, *, resolved: bool, score: int | None,
                         comment: str | None) -> Plan:
    """The customer's answer to "did we fix it?" (bot/mail/followup.py), written by SYSTEM. "No" or a
    score ≤ 6 reopens the alert with their words, mentions the owner in the thread and DMs them; "yes"
    confirms the recovery. The customer's text goes to chat as plain text: the chat adapters escape it."""
    words = (comment or "").strip()[:2000] or None
    data: dict[str, Any] = {"resolved": resolved, "score": score, "comment": words}

    def plan(alert: Alert) -> Change:
        said = f" · score {score}/10" if score is not None else ""
        quoted = f": “{words}”" if words else ""
        if resolved and (score is None or score > 6):
            return Change({"follow_up_status": "confirmed"}, "follow_up_confirmed",
                          f"{alert.key}: the customer confirmed it is resolved",
                          f"The customer confirmed it is resolved{said}{quoted} · {_clock(now)}",
                          event_data=data)
        if alert.status != AlertStatus.RESOLVED:  # reopened meanwhile: the answer is recorded, nothing moves
            return Change({"follow_up_status": "reopened"}, "follow_up_unhappy",
                          f"{alert.key}: the customer is not satisfied",
                          f"The customer says it is not resolved{said}{quoted} · {_clock(now)}",
                          thread_mention=alert.owner_id, event_data=data)
        values = {**_reopened_values(alert, now, config), "follow_up_status": "reopened"}
        owner = [(alert.owner_platform, alert.owner_id,
                  f"The customer says {alert.key} is not resolved{said}; it is open again")] \
            if alert.owner_id and alert.owner_platform else []
        return Change(cast("AlertValues", values), "reopened_by_customer",
                      f"{alert.key} reopened by the customer",
                      f"Reopened by the customer{said}{quoted} · {_clock(now)}",
                      thread_mention=alert.owner_id, event_data=data, directs=owner)

    return plan

