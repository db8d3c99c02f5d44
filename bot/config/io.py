"""Configuration as code: teams, routes, rules, SLAs, escalation and admins as one YAML document.

`export_config` reads the database into the canonical document (a plain dict), `dump_yaml` writes
it, `load_yaml` validates a document strictly (unknown keys, bad durations, unknown teams or
severities are `ConfigError`s naming the path) and `import_config` replaces everything in ONE
transaction. Sources are never touched; teams are upserted by name, and a team missing from the
document is deleted only when no alert points at it (otherwise it is kept and reported).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from bot.config.document import (
    EVERY_TEAM,
    NO_ALERT,
    ConfigDoc,
    ConfigError,
    TeamDoc,
    dump_yaml,
    load_yaml,
    parse_config,
)
from bot.identity import parse_identity, qualify
from storage.db import SessionFactory, transaction
from storage.models import Admin, EscalationStep, Route, Rule, SlaPolicy, Team
from storage.queries import config as config_queries

__all__ = [  # the document's names are re-exported: callers import the whole feature from here
    "ConfigDoc", "ConfigError", "ImportSummary", "dump_yaml", "export_config", "import_config", "import_yaml",
    "load_yaml", "parse_config",
]


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
        stored = await config_queries.stored_config(session)
    teams, admins = stored.teams, stored.admins
    name = {t.id: t.name for t in teams}
    sla: dict[str, Any] = {}
    team_sla: dict[str, dict[str, Any]] = {}
    for p in stored.sla_policies:
        target = sla if p.team_id is None else team_sla.setdefault(name[p.team_id], {})
        target[p.severity] = {"claim": p.claim_seconds, "resolve": p.resolve_seconds}
    escalation: dict[str, list[dict[str, Any]]] = {}
    for s in stored.escalation_steps:
        step = dict(after=s.after_seconds, platform=s.platform, to=s.destination, description=s.description)
        escalation.setdefault(EVERY_TEAM if s.team_id is None else name[s.team_id], []).append(step)
    data: dict[str, Any] = {
        "default_team": next((t.name for t in teams if t.is_default), None),
        "teams": [{key: getattr(t, key) for key in TeamDoc.model_fields} for t in teams],
        "routes": [dict(match=r.match, team=name[r.team_id], priority=r.priority) for r in stored.routes],
        "rules": [
            dict(name=r.name, when=r.condition, severity=r.severity or NO_ALERT, priority=r.priority,
                 enabled=r.enabled)
            for r in stored.rules
        ],
        "sla": sla,
        "team_sla": team_sla,
        "escalation": escalation,
        "admins": [qualify(platform, user_id) for platform, user_id in admins],
    }
    try:
        return parse_config(data).normalized()
    except ConfigError as exc:
        raise ConfigError(f"the stored configuration does not validate: {exc}", exc.problems) from None


async def import_config(sessions: SessionFactory, doc: ConfigDoc, *, actor: str = "cli") -> ImportSummary:
    """Replace teams/routes/rules/SLAs/escalation/admins with `doc`, all or nothing. Admins and team
    managers are (platform, id) identities (`ConfigDoc` has qualified them: "slack:U…")."""
    summary = ImportSummary()
    async with transaction(sessions) as session:
        await config_queries.delete_policies(session)
        team_ids = await _upsert_teams(session, doc=doc, summary=summary)
        await _prune_teams(session, keep=set(team_ids), summary=summary)
        session.add_all(_config_rows(doc=doc, team_ids=team_ids, actor=actor, summary=summary))
        await _replace_admins(session, user_ids=doc.admins, actor=actor, summary=summary)
        await session.flush()
    return summary


async def import_yaml(sessions: SessionFactory, text: str, *, actor: str = "cli") -> ImportSummary:
    return await import_config(sessions, load_yaml(text), actor=actor)


async def _upsert_teams(session: AsyncSession, *, doc: ConfigDoc, summary: ImportSummary) -> dict[str, int]:
    existing = await config_queries.teams_by_name(session)
    rows: list[Team] = []
    for item in doc.teams:
        team = existing.get(item.name)
        if team is None:
            team = Team(name=item.name)
            session.add(team)
        (summary.teams_created if team.id is None else summary.teams_updated).append(item.name)
        for key in TeamDoc.model_fields.keys() - {"name", "business_hours", "mail", "systemic"}:
            setattr(team, key, getattr(item, key))
        team.business_hours = item.business_hours.model_dump() if item.business_hours else None
        team.mail = item.mail.model_dump(exclude_defaults=True) if item.mail else None
        team.systemic = item.systemic.stored() if item.systemic else None
        team.is_default = item.name == doc.default_team
        rows.append(team)
    await session.flush()
    return {team.name: _known(team.id) for team in rows}


async def _prune_teams(session: AsyncSession, *, keep: set[str], summary: ImportSummary) -> None:
    others = [t for name, t in (await config_queries.teams_by_name(session)).items() if name not in keep]
    used = await config_queries.teams_with_alerts(session, team_ids=[_known(t.id) for t in others])
    for team in sorted(others, key=lambda t: t.name):
        if team.id in used:
            team.is_default = False
            summary.teams_kept.append(team.name)
        else:
            await config_queries.delete_row(session, row=team)
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
    wanted = [parse_identity(identity) for identity in user_ids]
    current = list(await config_queries.all_admins(session))
    for admin in current:
        if (admin.platform, admin.user_id) not in wanted:
            await config_queries.delete_row(session, row=admin)
    have = {(admin.platform, admin.user_id) for admin in current}
    for platform, user_id in wanted:
        if (platform, user_id) not in have:  # existing rows keep their added_by
            session.add(Admin(user_id=user_id, platform=platform, added_by=actor))
    summary.admins = len(user_ids)


def _known(value: int | None) -> int:
    if value is None:  # ids after a flush, priorities after ConfigDoc validation
        raise RuntimeError("value unexpectedly missing")
    return value
