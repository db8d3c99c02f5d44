"""Command handlers for how alerts are judged and chased: SLAs, rules, escalation steps."""

from __future__ import annotations

import json
import re
from typing import Any

from bot.business_hours import DEFAULT_SLA
from bot.commands.base import (
    CHAT_PLATFORMS,
    EVERY_TEAM,
    Caller,
    CommandError,
    CommandReply,
    UsageError,
    changed,
    destination_arg,
    duration_arg,
    expect_words,
    int_arg,
    name_arg,
    split_words,
    take_option,
    team_names,
    team_scope,
)
from bot.context import Context
from bot.domain import Severity
from bot.durations import format_duration
from bot.ingest.generic_body import GenericBodyError, feedback_from_generic
from bot.rules.evaluate import RuleError, evaluate, explain, format_condition, parse_rule_text
from storage import queries
from storage.db import transaction
from storage.models import EscalationStep, Rule, SlaPolicy
from storage.queries import config as config_queries

DEFAULT_RULE_PRIORITY = 100
MAX_LEVEL = 20
SEVERITIES = tuple(s.value for s in Severity)
_RULE_PRIORITY = re.compile(r"^(?P<body>.*\bthen\s+\S+)\s+priority\s+(?P<priority>\S+)\s*$", re.I | re.S)
_RULE_TEST_SOURCE = re.compile(r"^source\s+(?P<source>[^\s{]+)\s+(?P<body>.*)$", re.I | re.S)


def _scope_name(team_id: int | None, names: dict[int, str]) -> str:
    return EVERY_TEAM if team_id is None else names.get(team_id, "?")


# ---------------------------------------------------------------------------------------------
# sla


async def sla_set(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    words, team = take_option(split_words(args), "team")
    if len(words) != 5 or words[1].lower() != "claim" or words[3].lower() != "resolve":
        raise UsageError("expected a severity, then 'claim <duration> resolve <duration>'")
    severity = words[0].lower()
    if severity not in SEVERITIES:
        raise UsageError(f"unknown severity {words[0]!r} (one of {', '.join(SEVERITIES)})")
    claim, resolve = duration_arg(words[2], what="claim"), duration_arg(words[4], what="resolve")
    if claim > resolve:
        raise UsageError("the claim deadline must not come after the resolve deadline")
    async with transaction(ctx.sessions) as session:
        team_id = await team_scope(session, name=team) if team is not None else None
        row = await config_queries.sla_policy(session, team_id=team_id, severity=severity)
        if row is None:
            row = SlaPolicy(team_id=team_id, severity=severity, claim_seconds=claim, resolve_seconds=resolve)
            session.add(row)
        row.claim_seconds, row.resolve_seconds = claim, resolve
    scope = f"team {team}" if team_id is not None else "every team"
    return changed(
        f"SLA for {severity} alerts ({scope}): claim within {format_duration(claim)}, "
        f"resolve within {format_duration(resolve)}."
    )


def _sla_text(claim: int, resolve: int) -> str:
    return f"claim {format_duration(claim)}, resolve {format_duration(resolve)}"


async def sla_list(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    expect_words(args, 0)
    async with ctx.sessions() as session:
        policies = await queries.list_sla_policies(session)
        names = await team_names(session)
    glob = {p.severity: p for p in policies if p.team_id is None}
    lines = ["SLAs for every team:"]
    for severity in Severity:
        policy = glob.get(severity.value)
        if policy is not None:
            lines.append(f"  {severity.value}: {_sla_text(policy.claim_seconds, policy.resolve_seconds)}")
        else:
            lines.append(f"  {severity.value}: {_sla_text(*DEFAULT_SLA[severity])} (built-in default)")
    team_rows = sorted(
        (p for p in policies if p.team_id is not None),
        key=lambda p: (
            names.get(p.team_id or 0, ""),
            SEVERITIES.index(p.severity) if p.severity in SEVERITIES else 9,
        ),
    )
    if team_rows:
        lines.append("Team overrides:")
        lines += [
            f"  {_scope_name(p.team_id, names)} {p.severity}: {_sla_text(p.claim_seconds, p.resolve_seconds)}"
            for p in team_rows
        ]
    return CommandReply("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# rule


async def rule_add(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    parts = args.strip().split(maxsplit=1)
    if len(parts) != 2:
        raise UsageError("expected a rule name, a condition, 'then' and a severity")
    name, text = name_arg(parts[0], what="rule name"), parts[1]
    priority = DEFAULT_RULE_PRIORITY
    found = _RULE_PRIORITY.match(text)
    if found:
        text, priority = found["body"], int_arg(found["priority"], what="priority")
    try:
        condition, severity = parse_rule_text(text)
    except RuleError as exc:
        raise UsageError(str(exc)) from None
    async with transaction(ctx.sessions) as session:
        if await config_queries.rule_named(session, name=name) is not None:
            raise CommandError(f"a rule named {name!r} already exists: 'rule remove {name}' first")
        session.add(
            Rule(
                name=name,
                priority=priority,
                condition=condition,
                severity=severity.value if severity else None,
                created_by=caller.actor.id[:64],
            )
        )
    outcome = severity.value if severity else "none (no alert)"
    return changed(f"Rule {name!r} added (priority {priority}): {format_condition(condition)} → {outcome}")


def _condition_text(condition: dict[str, Any]) -> str:
    try:
        return format_condition(condition)
    except RuleError:
        return json.dumps(condition, ensure_ascii=False)


async def rule_list(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    expect_words(args, 0)
    async with ctx.sessions() as session:
        rules = await queries.list_rules(session)
    lines = ["Rules (lowest priority number first; the first match decides, then the built-in defaults):"]
    for r in rules:
        off = " (disabled)" if not r.enabled else ""
        lines.append(
            f"  {r.name}  priority {r.priority}{off}: {_condition_text(r.condition)} → {r.severity or 'none'}"
        )
    if not rules:
        lines.append("  (no custom rules: the built-in defaults decide)")
    return CommandReply("\n".join(lines))


async def rule_remove(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    (name,) = expect_words(args, 1)
    async with transaction(ctx.sessions) as session:
        rule = await config_queries.rule_named(session, name=name)
        if rule is None:
            raise CommandError(f"no rule named {name!r} (see 'rule list')")
        await config_queries.delete_row(session, row=rule)
    return changed(f"Rule {name!r} removed.")


def _test_body(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError('the response must be a JSON object, e.g. {"nps": 3, "comment": "…"}')
    data.setdefault("id", "rule-test")
    return data


async def rule_test(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    text, source = args.strip(), "generic"
    found = _RULE_TEST_SOURCE.match(text)
    if found:
        text, source = found["body"], found["source"]
    if not text:
        raise UsageError("expected a generic webhook JSON body")
    try:
        item = feedback_from_generic(_test_body(text))
    except GenericBodyError as exc:
        raise UsageError(f"not a generic webhook body: {exc}") from None
    config = await ctx.config.get()
    try:
        decision = evaluate(
            item, rules=config.rules, alarming_words=ctx.settings.alarming_words, source=source
        )
    except RuleError as exc:
        raise CommandError(f"a stored rule is broken: {exc}") from None
    return CommandReply(explain(decision))


# ---------------------------------------------------------------------------------------------
# escalation


def _target(word: str) -> tuple[str, str]:
    platform, sep, rest = word.partition(":")
    platform = platform.lower()
    if not sep or platform not in CHAT_PLATFORMS or not rest:
        raise UsageError(f"expected slack:<channel or user> or teams:<conversation or user>, got {word!r}")
    return platform, destination_arg(rest)


async def escalation_set(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    words = split_words(args)
    if len(words) != 6 or words[2].lower() != "after" or words[4].lower() != "to":
        raise UsageError("expected '<team|*> <level> after <duration> to <platform>:<destination>'")
    scope = words[0]
    level = int_arg(words[1], what="level", low=1, high=MAX_LEVEL)
    after = duration_arg(words[3], what="after", allow_zero=True)
    platform, destination = _target(words[5])
    async with transaction(ctx.sessions) as session:
        team_id = await team_scope(session, name=scope)
        steps = await config_queries.escalation_steps_of(session, team_id=team_id)
        who = "every team" if team_id is None else f"team {scope}"
        step = next((s for s in steps if s.level == level), None)
        if step is None and level > len(steps) + 1:
            raise UsageError(f"levels go up one at a time: the next level for {who} is {len(steps) + 1}")
        step = step or EscalationStep(
            team_id=team_id, level=level, platform=platform, destination=destination
        )
        step.after_seconds, step.platform, step.destination = after, platform, destination
        session.add(step)
    when = f"{format_duration(after)} after a breach"
    return changed(f"Escalation level {level} for {who}: {when}, notify {platform}:{destination}.")


def _step_line(step: EscalationStep) -> str:
    note = f" ({step.description})" if step.description else ""
    target = f"{step.platform}:{step.destination}{note}"
    return f"    level {step.level}: after {format_duration(step.after_seconds)} → {target}"


async def escalation_list(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    words = split_words(args)
    if len(words) > 1:
        raise UsageError("expected at most one team name")
    async with ctx.sessions() as session:
        names = await team_names(session)
        wanted = await team_scope(session, name=words[0]) if words else None
        steps = await queries.list_escalation_steps(session)
    if words and wanted is not None:
        steps = [s for s in steps if s.team_id in (wanted, None)]
    scopes: dict[str, list[EscalationStep]] = {}
    for step in steps:
        scopes.setdefault(_scope_name(step.team_id, names), []).append(step)
    if not scopes:
        return CommandReply("No escalation steps: breaches are only nagged in the alert's thread.")
    lines = ["Escalation steps (a team's own steps replace the '*' steps):"]
    for scope in sorted(scopes, key=lambda s: (s != EVERY_TEAM, s)):
        lines.append(f"  {'every team (*)' if scope == EVERY_TEAM else scope}:")
        lines += [_step_line(step) for step in scopes[scope]]
    return CommandReply("\n".join(lines))


async def escalation_clear(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    (scope,) = expect_words(args, 1)
    async with transaction(ctx.sessions) as session:
        team_id = await team_scope(session, name=scope)
        count = len(await config_queries.escalation_steps_of(session, team_id=team_id))
        await config_queries.delete_escalation_steps(session, team_id=team_id)
    who = "every team (*)" if team_id is None else f"team {scope}"
    if not count:
        return CommandReply(f"No escalation steps to clear for {who}.")
    return changed(f"Cleared {count} escalation step{'s' if count != 1 else ''} for {who}.")
