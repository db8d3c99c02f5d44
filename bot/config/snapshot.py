"""An in-memory snapshot of the routing/rule/SLA configuration, so ingest reads no config rows.

The snapshot is reloaded when a command in this process changes configuration (`invalidate`) and
at most `ttl` seconds after a change made by another process (CLI import, a second server).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from bot.business_hours import DEFAULT_SLA, BusinessHours
from bot.config.systemic import SystemicSettings, merged
from bot.domain import Severity
from bot.identity import parse_identity, qualify, read_identities
from bot.rules.evaluate import RuleError, RuleSpec, validate_condition
from bot.rules.routing import RouteSpec
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import Admin, Team

log = structlog.get_logger("hotloop.config")


@dataclass(frozen=True)
class TeamInfo:
    id: int
    name: str
    slack_channel: str | None
    teams_channel: str | None
    managers_slack_channel: str | None
    managers_teams_channel: str | None
    managers: frozenset[str]  # qualified identities, "slack:U…" / "teams:<guid>" (bot/identity.py)
    hours: BusinessHours | None
    # spike detection: HOTLOOP_SYSTEMIC_* with the team's `systemic:` block on top (bot/config/systemic.py)
    systemic: SystemicSettings = field(default_factory=SystemicSettings)

    @classmethod
    def from_row(cls, team: Team, *, systemic_defaults: SystemicSettings = SystemicSettings()) -> TeamInfo:
        assert team.id is not None
        return cls(
            id=team.id,
            name=team.name,
            slack_channel=team.slack_channel,
            teams_channel=team.teams_channel,
            managers_slack_channel=team.managers_slack_channel,
            managers_teams_channel=team.managers_teams_channel,
            managers=read_identities(team.managers),
            hours=BusinessHours.from_config(team.business_hours, timezone=team.timezone),
            systemic=merged(systemic_defaults, team.systemic),
        )

    @property
    def destinations(self) -> list[tuple[str, str]]:
        places = [("slack", self.slack_channel), ("teams", self.teams_channel)]
        return [(platform, channel) for platform, channel in places if channel]

    @property
    def manager_destinations(self) -> list[tuple[str, str]]:
        places = [("slack", self.managers_slack_channel), ("teams", self.managers_teams_channel)]
        return [(platform, channel) for platform, channel in places if channel]


@dataclass(frozen=True)
class EscalationTarget:
    level: int
    after_seconds: int
    platform: str
    destination: str
    description: str | None


@dataclass(frozen=True)
class ConfigSnapshot:
    teams: Mapping[int, TeamInfo]
    default_team_id: int
    routes: tuple[RouteSpec, ...]
    rules: tuple[RuleSpec, ...]
    sla: Mapping[tuple[int | None, str], tuple[int, int]]
    escalation: Mapping[int | None, tuple[EscalationTarget, ...]]
    admins: frozenset[str]  # qualified identities, "slack:U…" / "teams:<guid>"
    loaded_at: float = field(default_factory=time.monotonic)

    def sla_for(self, *, team_id: int, severity: Severity) -> tuple[int, int]:
        return (
            self.sla.get((team_id, severity.value))
            or self.sla.get((None, severity.value))
            or DEFAULT_SLA[severity]
        )

    def escalation_steps(self, team_id: int) -> tuple[EscalationTarget, ...]:
        return self.escalation.get(team_id) or self.escalation.get(None) or ()

    def team(self, team_id: int) -> TeamInfo:
        return self.teams.get(team_id) or self.teams[self.default_team_id]


def _rule_spec(rule: Any) -> RuleSpec:
    return RuleSpec(
        name=rule.name,
        condition=rule.condition,
        severity=Severity(rule.severity) if rule.severity else None,
        priority=rule.priority,
    )


def _usable_rules(rows: Any) -> list[RuleSpec]:
    """A rule whose stored condition no longer parses is skipped (and logged), never a failed ingest."""
    usable = []
    for row in rows:
        if not row.enabled:
            continue
        try:
            validate_condition(row.condition)
        except RuleError as error:
            log.error("rule.unusable", rule=row.name, error=str(error))
            continue
        usable.append(_rule_spec(row))
    return usable


async def ensure_defaults(sessions: SessionFactory, *, default_team: str, admins: list[str]) -> None:
    """A default team always exists (no black hole); admins from HOTLOOP_ADMINS are seeded once."""
    async with transaction(sessions) as session:
        if await queries.default_team(session) is None:
            team = await queries.get_team_by_name(session, name=default_team)
            if team is None:
                session.add(Team(name=default_team, is_default=True))
            else:
                team.is_default = True
        known = await queries.admin_pairs(session)
        for entry in admins:  # "slack:U…", "teams:<guid>", or an id of a known shape (bot/identity.py)
            platform, user_id = parse_identity(entry)
            if (platform, user_id) not in known:
                known.add((platform, user_id))
                session.add(Admin(user_id=user_id, platform=platform, added_by="env"))


async def load_snapshot(
    sessions: SessionFactory, *, systemic_defaults: SystemicSettings = SystemicSettings()
) -> ConfigSnapshot:
    """`systemic_defaults`: HOTLOOP_SYSTEMIC_* (bot/config/systemic.defaults), under each team's own."""
    async with sessions() as session:
        teams = {
            t.id: TeamInfo.from_row(t, systemic_defaults=systemic_defaults)
            for t in await queries.list_teams(session)
            if t.id is not None
        }
        default = await queries.default_team(session)
        routes = tuple(
            RouteSpec(id=r.id or 0, priority=r.priority, match=r.match, team_id=r.team_id)
            for r in await queries.list_routes(session)
        )
        rules = tuple(_usable_rules(await queries.list_rules(session)))
        sla = {
            (p.team_id, p.severity): (p.claim_seconds, p.resolve_seconds)
            for p in await queries.list_sla_policies(session)
        }
        escalation: dict[int | None, list[EscalationTarget]] = {}
        for step in await queries.list_escalation_steps(session):
            target = EscalationTarget(
                step.level, step.after_seconds, step.platform, step.destination, step.description
            )
            escalation.setdefault(step.team_id, []).append(target)
        admins = frozenset(qualify(*pair) for pair in await queries.admin_pairs(session))
    if default is None or default.id is None:
        raise RuntimeError("no default team: call ensure_defaults() first")
    return ConfigSnapshot(
        teams=teams,
        default_team_id=default.id,
        routes=routes,
        rules=rules,
        sla=sla,
        escalation={k: tuple(v) for k, v in escalation.items()},
        admins=admins,
    )


class ConfigCache:
    def __init__(
        self,
        sessions: SessionFactory,
        *,
        ttl: float = 2.0,
        systemic_defaults: SystemicSettings = SystemicSettings(),
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._systemic_defaults = systemic_defaults
        self._snapshot: ConfigSnapshot | None = None
        self._lock = asyncio.Lock()
        self._generation = 0  # bumped by invalidate(): a load that began before it is not kept

    def invalidate(self) -> None:
        self._snapshot = None
        self._generation += 1

    async def get(self) -> ConfigSnapshot:
        snapshot = self._snapshot
        if snapshot is not None and time.monotonic() - snapshot.loaded_at < self._ttl:
            return snapshot
        async with self._lock:
            snapshot = self._snapshot
            if snapshot is None or time.monotonic() - snapshot.loaded_at >= self._ttl:
                generation = self._generation
                snapshot = await load_snapshot(self._sessions, systemic_defaults=self._systemic_defaults)
                # a change committed (and invalidated) while this load read the old rows: keeping its
                # result would serve the old configuration for a whole TTL after the change
                if generation == self._generation:
                    self._snapshot = snapshot
            return snapshot
