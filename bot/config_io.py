"""Configuration as code: teams, routes, rules, SLAs, escalation and admins as one YAML document.

`export_config` reads the database into the canonical document (a plain dict), `dump_yaml` writes
it, `load_yaml` validates a document strictly (unknown keys, bad durations, unknown teams or
severities are `ConfigError`s naming the path) and `import_config` replaces everything in ONE
transaction. Sources are never touched; teams are upserted by name, and a team missing from the
document is deleted only when no alert points at it (otherwise it is kept and reported).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from bot.domain import Severity
from bot.durations import DurationError, format_duration, parse_duration
from storage.db import SessionFactory, transaction
from storage.models import Admin, Alert, EscalationStep, Route, Rule, SlaPolicy, Team

SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EVERY_TEAM = "*"
NO_ALERT = "none"
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WORKWEEK: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")


class ConfigError(ValueError):
    """An invalid configuration document; `problems` lists one `path: message` per error."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems if problems is not None else [message]


def _duration(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value  # plain seconds
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except DurationError as exc:
            raise ValueError(str(exc)) from None
    raise ValueError(f"not a duration: {value!r} (write e.g. 90s, 15m, 4h, 2d)")


def _severity(value: Any, *, allow_none: bool = False) -> str:
    allowed = (*SEVERITIES, NO_ALERT) if allow_none else SEVERITIES
    if isinstance(value, str) and value.strip().lower() in allowed:
        return value.strip().lower()
    raise ValueError(f"unknown severity {value!r} (one of {', '.join(allowed)})")


def _clock(value: Any) -> str:
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise ValueError(f'not a time of day: {value!r} (write it quoted, e.g. "09:00")')
    return value


def _iso_date(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise ValueError(f"not a date: {value!r} (write e.g. 2026-12-25)") from None


Duration = Annotated[int, BeforeValidator(_duration), PlainSerializer(format_duration)]
SeverityName = Annotated[str, BeforeValidator(_severity)]
RuleSeverity = Annotated[str, BeforeValidator(lambda v: _severity(v, allow_none=True))]
Clock = Annotated[str, BeforeValidator(_clock)]
IsoDate = Annotated[str, BeforeValidator(_iso_date)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class BusinessHoursDoc(_Strict):
    days: list[Weekday] = Field(default_factory=lambda: list(_WORKWEEK))
    start: Clock
    end: Clock
    holidays: list[IsoDate] = Field(default_factory=list)

    @model_validator(mode="after")
    def _canonical(self) -> BusinessHoursDoc:
        self.days = sorted(set(self.days), key=WEEKDAYS.index)
        self.holidays = sorted(set(self.holidays))
        return self


class TeamDoc(_Strict):
    name: str = Field(min_length=1, max_length=100)
    slack_channel: str | None = Field(default=None, min_length=1, max_length=64)
    teams_channel: str | None = Field(default=None, min_length=1, max_length=255)
    managers_slack_channel: str | None = Field(default=None, min_length=1, max_length=64)
    managers_teams_channel: str | None = Field(default=None, min_length=1, max_length=255)
    managers: list[str] = Field(default_factory=list)
    timezone: str = Field(default="UTC", max_length=64)
    business_hours: BusinessHoursDoc | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value == EVERY_TEAM or value != value.strip():
            raise ValueError(f"not a usable team name: {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris, UTC)") from None
        return value


class RouteDoc(_Strict):
    # the same values `route add` accepts: a string, a list of alternatives, severity comparisons
    match: dict[str, str | list[str]] = Field(default_factory=dict)
    team: str
    priority: int | None = None  # None: position * 10, filled in by ConfigDoc

    @field_validator("match", mode="before")
    @classmethod
    def _match(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # the strict dict check reports it
        for key, item in value.items():
            items = item if isinstance(item, list) else [item]
            if not items or not all(isinstance(i, str) for i in items):
                raise ValueError(f"value of {key!r} must be a quoted string or a list of them, got {item!r}")
        if "severity" in value:  # an exact severity or a comparison like ">=high", "<critical"
            options = value["severity"] if isinstance(value["severity"], list) else [value["severity"]]
            for option in options:
                _severity(option.strip().lstrip("<>="))
        return dict(sorted(value.items()))


class RuleDoc(_Strict):
    name: str = Field(min_length=1, max_length=100)
    when: dict[str, Any]
    severity: RuleSeverity  # "none" = matching feedback raises no alert
    priority: int | None = None
    enabled: bool = True

    @field_validator("when", mode="before")
    @classmethod
    def _when(cls, value: Any) -> Any:
        # a textual condition is kept verbatim for the rule engine to parse later
        return {"text": value} if isinstance(value, str) else value

    @field_serializer("when")
    def _when_out(self, when: dict[str, Any]) -> Any:
        text = when.get("text")
        return text if set(when) == {"text"} and isinstance(text, str) else when


class SlaDoc(_Strict):
    claim: Duration
    resolve: Duration


class StepDoc(_Strict):
    after: Duration = 0
    platform: Literal["slack", "teams"]
    to: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=255)


def _sla_out(policies: dict[str, SlaDoc]) -> dict[str, Any]:
    return {sev: policies[sev].model_dump() for sev in SEVERITIES if sev in policies}


def _priority(item: RouteDoc | RuleDoc) -> int:
    return item.priority or 0


def _duplicates(items: list[str]) -> list[str]:
    return sorted(item for item, count in Counter(items).items() if count > 1)


class ConfigDoc(_Strict):
    default_team: str | None = Field(default=None, min_length=1, max_length=100)
    teams: list[TeamDoc] = Field(default_factory=list)
    routes: list[RouteDoc] = Field(default_factory=list)
    rules: list[RuleDoc] = Field(default_factory=list)
    sla: dict[SeverityName, SlaDoc] = Field(default_factory=dict)
    team_sla: dict[str, dict[SeverityName, SlaDoc]] = Field(default_factory=dict)
    escalation: dict[str, list[StepDoc]] = Field(default_factory=dict)  # team name or "*"
    admins: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> ConfigDoc:
        problems = [f"teams: duplicate team name {n!r}" for n in _duplicates([t.name for t in self.teams])]
        problems += [f"rules: duplicate rule name {n!r}" for n in _duplicates([r.name for r in self.rules])]
        problems += [f"admins: duplicate admin {n!r}" for n in _duplicates(self.admins)]
        names = {t.name for t in self.teams}
        if self.default_team is not None and self.default_team not in names:
            self.teams.append(TeamDoc(name=self.default_team))  # the default team is created if absent
            names.add(self.default_team)
        for i, route in enumerate(self.routes):
            if route.team not in names:
                problems.append(f"routes[{i}].team: unknown team {route.team!r}")
        problems += [f"team_sla.{n}: unknown team {n!r}" for n in self.team_sla if n not in names]
        problems += [
            f"escalation.{n}: unknown team {n!r} (use '*' for every team)"
            for n in self.escalation
            if n != EVERY_TEAM and n not in names
        ]
        if problems:
            raise ValueError("\n".join(problems))
        for i, route in enumerate(self.routes):  # default priority: position * 10
            route.priority = (i + 1) * 10 if route.priority is None else route.priority
        for i, rule in enumerate(self.rules):
            rule.priority = (i + 1) * 10 if rule.priority is None else rule.priority
        return self

    def normalized(self) -> dict[str, Any]:
        """The canonical form `export_config` produces: defaults dropped, durations spelled, stable order."""
        escalation = sorted(self.escalation.items(), key=lambda kv: (kv[0] != EVERY_TEAM, kv[0]))
        return {
            "default_team": self.default_team,
            "teams": [t.model_dump(exclude_defaults=True) for t in sorted(self.teams, key=lambda t: t.name)],
            "routes": [r.model_dump() for r in sorted(self.routes, key=_priority)],
            "rules": [r.model_dump(exclude_defaults=True) for r in sorted(self.rules, key=_priority)],
            "sla": _sla_out(self.sla),
            "team_sla": {n: _sla_out(p) for n, p in sorted(self.team_sla.items()) if p},
            "escalation": {k: [s.model_dump(exclude_none=True) for s in v] for k, v in escalation if v},
            "admins": sorted(self.admins),
        }


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of silently keeping the last one."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_config(data: Any) -> ConfigDoc:
    """Validate an already-parsed document; every problem is reported with its path."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a mapping (default_team:, teams:, routes: …)")
    try:
        return ConfigDoc.model_validate(data)
    except ValidationError as exc:
        problems: list[str] = []
        for err in exc.errors():
            path = _path(tuple(err["loc"]))
            message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            for line in message.removeprefix("Value error, ").split("\n"):
                problems.append(f"{path}: {line}" if path else line)
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems), problems) from None


def load_yaml(text: str) -> ConfigDoc:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506  (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}") from None
    return parse_config(data)


def dump_yaml(cfg: dict[str, Any]) -> str:
    return yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)


@dataclass
class ImportSummary:
    teams_created: list[str] = field(default_factory=list)
    teams_updated: list[str] = field(default_factory=list)
    teams_removed: list[str] = field(default_factory=list)
    teams_kept: list[str] = field(default_factory=list)  # not in the document, but alerts still point at them
    routes: int = 0
    rules: int = 0
    sla_policies: int = 0
    escalation_steps: int = 0
    admins: int = 0


async def export_config(sessions: SessionFactory) -> dict[str, Any]:
    """The stored configuration as the canonical document (see `ConfigDoc.normalized`)."""
    async with sessions() as session:
        teams = (await session.execute(select(Team).order_by(col(Team.name)))).scalars().all()
        routes = (await session.execute(select(Route).order_by(col(Route.priority), col(Route.id)))).scalars()
        rules = (await session.execute(select(Rule).order_by(col(Rule.priority), col(Rule.id)))).scalars()
        slas = (await session.execute(select(SlaPolicy).order_by(col(SlaPolicy.id)))).scalars()
        steps = (await session.execute(select(EscalationStep).order_by(col(EscalationStep.level)))).scalars()
        admins = (await session.execute(select(col(Admin.user_id)))).scalars().all()
    name = {t.id: t.name for t in teams}
    sla: dict[str, Any] = {}
    team_sla: dict[str, dict[str, Any]] = {}
    for p in slas:
        target = sla if p.team_id is None else team_sla.setdefault(name[p.team_id], {})
        target[p.severity] = {"claim": p.claim_seconds, "resolve": p.resolve_seconds}
    escalation: dict[str, list[dict[str, Any]]] = {}
    for s in steps:
        step = dict(after=s.after_seconds, platform=s.platform, to=s.destination, description=s.description)
        escalation.setdefault(EVERY_TEAM if s.team_id is None else name[s.team_id], []).append(step)
    data: dict[str, Any] = {
        "default_team": next((t.name for t in teams if t.is_default), None),
        "teams": [{key: getattr(t, key) for key in TeamDoc.model_fields} for t in teams],
        "routes": [dict(match=r.match, team=name[r.team_id], priority=r.priority) for r in routes],
        "rules": [
            dict(name=r.name, when=r.condition, severity=r.severity or NO_ALERT, priority=r.priority,
                 enabled=r.enabled)
            for r in rules
        ],
        "sla": sla,
        "team_sla": team_sla,
        "escalation": escalation,
        "admins": list(admins),
    }
    try:
        return parse_config(data).normalized()
    except ConfigError as exc:
        raise ConfigError(f"the stored configuration does not validate: {exc}", exc.problems) from None


async def import_config(sessions: SessionFactory, doc: ConfigDoc, *, actor: str = "cli") -> ImportSummary:
    """Replace teams/routes/rules/SLAs/escalation/admins with `doc`, all or nothing."""
    summary = ImportSummary()
    async with transaction(sessions) as session:
        for model in (Route, Rule, SlaPolicy, EscalationStep):
            await session.execute(delete(model))
        team_ids = await _upsert_teams(session, doc=doc, summary=summary)
        await _prune_teams(session, keep=set(team_ids), summary=summary)
        session.add_all(_config_rows(doc=doc, team_ids=team_ids, actor=actor, summary=summary))
        await _replace_admins(session, user_ids=doc.admins, actor=actor, summary=summary)
        await session.flush()
    return summary


async def import_yaml(sessions: SessionFactory, text: str, *, actor: str = "cli") -> ImportSummary:
    return await import_config(sessions, load_yaml(text), actor=actor)


async def _upsert_teams(session: AsyncSession, *, doc: ConfigDoc, summary: ImportSummary) -> dict[str, int]:
    existing = {t.name: t for t in (await session.execute(select(Team))).scalars()}
    rows: list[Team] = []
    for item in doc.teams:
        team = existing.get(item.name)
        if team is None:
            team = Team(name=item.name)
            session.add(team)
        (summary.teams_created if team.id is None else summary.teams_updated).append(item.name)
        for key in TeamDoc.model_fields.keys() - {"name", "business_hours"}:
            setattr(team, key, getattr(item, key))
        team.business_hours = item.business_hours.model_dump() if item.business_hours else None
        team.is_default = item.name == doc.default_team
        rows.append(team)
    await session.flush()
    return {team.name: _known(team.id) for team in rows}


async def _prune_teams(session: AsyncSession, *, keep: set[str], summary: ImportSummary) -> None:
    others = [t for t in (await session.execute(select(Team))).scalars() if t.name not in keep]
    ids = [_known(t.id) for t in others]
    used = set(
        (await session.execute(select(col(Alert.team_id)).where(col(Alert.team_id).in_(ids)))).scalars()
    )
    for team in sorted(others, key=lambda t: t.name):
        if team.id in used:
            team.is_default = False
            summary.teams_kept.append(team.name)
        else:
            await session.delete(team)
            summary.teams_removed.append(team.name)
    await session.flush()


def _config_rows(
    *, doc: ConfigDoc, team_ids: dict[str, int], actor: str, summary: ImportSummary
) -> list[SQLModel]:
    by = actor[:64]
    rows: list[SQLModel] = [
        Route(priority=_known(r.priority), match=dict(r.match), team_id=team_ids[r.team], created_by=by)
        for r in doc.routes
    ]
    rows += [
        Rule(name=r.name, priority=_known(r.priority), condition=dict(r.when), enabled=r.enabled,
             severity=None if r.severity == NO_ALERT else r.severity, created_by=by)
        for r in doc.rules
    ]
    scopes = [(None, doc.sla), *((team_ids[n], p) for n, p in doc.team_sla.items())]
    slas = [
        SlaPolicy(team_id=team_id, severity=sev, claim_seconds=p.claim, resolve_seconds=p.resolve)
        for team_id, policies in scopes
        for sev, p in policies.items()
    ]
    steps = [
        EscalationStep(team_id=None if k == EVERY_TEAM else team_ids[k], level=level, after_seconds=s.after,
                       platform=s.platform, destination=s.to, description=s.description)
        for k, k_steps in doc.escalation.items()
        for level, s in enumerate(k_steps, start=1)
    ]
    summary.routes, summary.rules = len(doc.routes), len(doc.rules)
    summary.sla_policies, summary.escalation_steps = len(slas), len(steps)
    return rows + slas + steps


async def _replace_admins(
    session: AsyncSession, *, user_ids: list[str], actor: str, summary: ImportSummary
) -> None:
    current = list((await session.execute(select(Admin))).scalars())
    for admin in current:
        if admin.user_id not in user_ids:
            await session.delete(admin)
    have = {admin.user_id for admin in current}
    for user_id in user_ids:
        if user_id not in have:  # existing rows keep their platform and added_by
            platform = "teams" if _GUID.fullmatch(user_id) or user_id.startswith("29:") else "slack"
            session.add(Admin(user_id=user_id, platform=platform, added_by=actor))
    summary.admins = len(user_ids)


def _known(value: int | None) -> int:
    if value is None:  # ids after a flush, priorities after ConfigDoc validation
        raise RuntimeError("value unexpectedly missing")
    return value
