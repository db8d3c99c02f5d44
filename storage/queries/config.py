"""Configuration rows: teams, routes, rules, SLA policies, escalation steps, admins. The reads the admin
commands and `hotloop config export` need, and the deletes of `hotloop config import` (which replaces
everything in one transaction). Callers own the session and the transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Admin, Alert, EscalationStep, Route, Rule, SlaPolicy, Team


@dataclass(frozen=True)
class StoredConfig:
    """Every configuration row, each kind in the order the exported document lists it."""

    teams: Sequence[Team]  # by name
    routes: Sequence[Route]  # by priority, then id
    rules: Sequence[Rule]  # by priority, then id
    sla_policies: Sequence[SlaPolicy]  # by id
    escalation_steps: Sequence[EscalationStep]  # by level
    admins: Sequence[tuple[str, str]]  # (platform, user id)


async def stored_config(session: AsyncSession) -> StoredConfig:
    teams = (await session.execute(select(Team).order_by(col(Team.name)))).scalars().all()
    routes = (await session.execute(select(Route).order_by(col(Route.priority), col(Route.id)))).scalars()
    rules = (await session.execute(select(Rule).order_by(col(Rule.priority), col(Rule.id)))).scalars()
    slas = (await session.execute(select(SlaPolicy).order_by(col(SlaPolicy.id)))).scalars()
    steps = (await session.execute(select(EscalationStep).order_by(col(EscalationStep.level)))).scalars()
    admins = (await session.execute(select(col(Admin.platform), col(Admin.user_id)))).tuples()
    return StoredConfig(teams, routes.all(), rules.all(), slas.all(), steps.all(), admins.all())


async def delete_row(session: AsyncSession, *, row: Team | Route | Rule | Admin) -> None:
    """Delete one loaded row (at the next flush, within the caller's transaction)."""
    await session.delete(row)


async def delete_policies(session: AsyncSession) -> None:
    """Every route, rule, SLA policy and escalation step (an import writes them all again)."""
    for model in (Route, Rule, SlaPolicy, EscalationStep):
        await session.execute(delete(model))


async def teams_by_name(session: AsyncSession) -> dict[str, Team]:
    return {team.name: team for team in (await session.execute(select(Team))).scalars()}


async def teams_with_alerts(session: AsyncSession, *, team_ids: Collection[int]) -> set[int]:
    """Which of these teams some alert points at (such a team cannot be deleted)."""
    query = select(col(Alert.team_id)).where(col(Alert.team_id).in_(list(team_ids)))
    return set((await session.execute(query)).scalars())


async def all_admins(session: AsyncSession) -> Sequence[Admin]:
    return (await session.execute(select(Admin))).scalars().all()


async def team_bound_to(session: AsyncSession, *, platform: str, channel: str) -> Team | None:
    """The (first) team whose alert channel on this platform is `channel`."""
    column = col(Team.slack_channel) if platform == "slack" else col(Team.teams_channel)
    query = select(Team).where(column == channel).order_by(col(Team.id)).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def get_route(session: AsyncSession, *, route_id: int) -> Route | None:
    return await session.get(Route, route_id)


async def rule_named(session: AsyncSession, *, name: str) -> Rule | None:
    return (await session.execute(select(Rule).where(col(Rule.name) == name))).scalars().first()


async def sla_policy(session: AsyncSession, *, team_id: int | None, severity: str) -> SlaPolicy | None:
    """The SLA for `severity` set for this team (None: the one for every team)."""
    team_match = col(SlaPolicy.team_id).is_(None) if team_id is None else col(SlaPolicy.team_id) == team_id
    query = select(SlaPolicy).where(team_match, col(SlaPolicy.severity) == severity)
    return (await session.execute(query)).scalars().first()


def _step_scope(team_id: int | None) -> ColumnElement[bool]:
    column = col(EscalationStep.team_id)
    return column.is_(None) if team_id is None else column == team_id


async def escalation_steps_of(session: AsyncSession, *, team_id: int | None) -> Sequence[EscalationStep]:
    """A team's own escalation steps (None: the steps for every team), by level."""
    query = select(EscalationStep).where(_step_scope(team_id)).order_by(col(EscalationStep.level))
    return (await session.execute(query)).scalars().all()


async def delete_escalation_steps(session: AsyncSession, *, team_id: int | None) -> None:
    """A team's own escalation steps (None: the steps for every team)."""
    await session.execute(delete(EscalationStep).where(_step_scope(team_id)))
