"""Alerts written straight into the test's database for the dashboard's queue and page tests (hundreds
at once, in any state), and reading the queue page's HTML back."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from storage import queries
from storage.db import transaction
from storage.models import Alert, Feedback, Team
from storage.types import utcnow
from tests.appserver import AppServer

ROW_KEY = re.compile(r'<tr class="[^"]*" data-key="([^"]+)"')
NEXT = re.compile(r'<a href="([^"]+)" rel="next">')


@dataclass(frozen=True)
class Made:
    key: str
    alert_id: int


async def default_team_id(server: AppServer) -> int:
    return (await server.ctx.config.get()).default_team_id


async def add_team(server: AppServer, name: str) -> int:
    async with transaction(server.ctx.sessions) as session:
        team = Team(name=name)
        session.add(team)
        await session.flush()
        assert team.id is not None
        team_id = team.id
    server.ctx.config.invalidate()
    return team_id


async def add_alert(server: AppServer, key: str, *, team_id: int | None = None, source: str = "web",
                    feedback: dict[str, Any] | None = None, **alert: Any) -> Made:
    """One alert (and its feedback) as ingest would leave it; `alert` sets any Alert column."""
    now = utcnow()
    team = team_id if team_id is not None else await default_team_id(server)
    async with transaction(server.ctx.sessions) as session:
        row = await queries.get_source(session, name=source)
        assert row is not None and row.id is not None
        values: dict[str, Any] = {"customer_name": "Dana", "nps": 2, "comment": "Rude staff",
                                  "attributes": {"location": "042"}, "received_at": now}
        values.update(feedback or {})
        made = Feedback(source_id=row.id, external_id=f"ext-{key}", **values)
        session.add(made)
        await session.flush()
        assert made.id is not None
        columns: dict[str, Any] = {"severity": "high", "status": "open", "created_at": now,
                                   "claim_due_at": now + timedelta(hours=1),
                                   "resolve_due_at": now + timedelta(hours=8), "reasons": ["NPS 2"]}
        columns.update(alert)
        new = Alert(key=key, feedback_id=made.id, team_id=team, **columns)
        session.add(new)
        await session.flush()
        assert new.id is not None
        return Made(key, new.id)


async def add_many(server: AppServer, count: int, *, start: datetime, prefix: str = "HB",
                   **alert: Any) -> list[str]:
    """`count` alerts created a minute apart from `start`, severities and statuses mixed."""
    keys = []
    severities = ("critical", "high", "normal", "low")
    statuses = ("open", "claimed", "snoozed", "resolved")
    for i in range(count):
        key = f"{prefix}-{i + 1}"
        created = start + timedelta(minutes=i)
        status = statuses[i % 4]
        due = created + timedelta(minutes=30 * (i % 3))
        extra: dict[str, Any] = {"severity": severities[(i // 4) % 4], "status": status,
                                 "created_at": created, "claim_due_at": due}
        if status == "snoozed":
            extra["snoozed_until"] = created + timedelta(hours=i % 2 * 1000)
        await add_alert(server, key, **{**extra, **alert})
        keys.append(key)
    return keys


def row_keys(page: str) -> list[str]:
    return ROW_KEY.findall(page)


def next_link(page: str) -> str | None:
    found = NEXT.search(page)
    return html.unescape(found.group(1)) if found else None
