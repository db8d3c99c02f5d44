"""SLA deadlines for an alert, from the policy for its team and severity and the team's hours."""

from __future__ import annotations

from datetime import datetime

from bot.business_hours import add_business_seconds
from bot.config.snapshot import ConfigSnapshot, TeamInfo
from bot.domain import Severity


def due_times(
    config: ConfigSnapshot, *, team: TeamInfo, severity: Severity, start: datetime
) -> tuple[datetime, datetime]:
    """(claim due, resolve due), counting only the team's business hours when it has them."""
    claim_seconds, resolve_seconds = config.sla_for(team_id=team.id, severity=severity)
    return (
        add_business_seconds(start, claim_seconds, team.hours),
        add_business_seconds(start, resolve_seconds, team.hours),
    )
