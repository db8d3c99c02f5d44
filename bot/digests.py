"""The daily digest: one message per team to its managers' destinations, once a day at 09:00 local.

`build_team_digests` says what each team's digest contains (open / claimed / breached counts, the
oldest unclaimed alerts with their SLA text, this week's response rate and median time to claim, and —
when the server has a public URL the platforms can fetch from — the week's chart as a signed image link,
bot/web/chart_links.py);
`enqueue_due_digests` writes them as outbox rows of kind `digest.post` exactly once per team and
local day: the check for today's row and the insert happen in one transaction that holds the
team's row lock (PostgreSQL) or the database write lock (SQLite `BEGIN IMMEDIATE`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.business_hours import BusinessHours, BusinessHoursError
from bot.cards.model import DigestCard, DigestItem, sla_line
from bot.domain import AlertStatus, Severity
from bot.metrics import customer_loop_lines, format_rate, format_seconds, loop_figures
from bot.outbox import enqueue
from bot.settings import Settings
from bot.web.chart_links import signed_chart_url
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import Alert, Team
from storage.queries import figures as figure_queries

DIGEST_KIND = "digest.post"
DIGEST_HOUR = 9
DIGEST_GRACE = timedelta(hours=12)  # a server that was down at 09:00 still sends until 21:00
OLDEST = 5
WEEK = timedelta(days=7)

Digest = tuple[str, str, DigestCard]  # (platform, destination, card)


def digest_payload(card: DigestCard, *, key: str) -> dict[str, Any]:
    return {"key": key, "digest": dataclasses.asdict(card)}


def digest_from_payload(payload: dict[str, Any]) -> DigestCard:
    data = dict(payload["digest"])
    items = tuple(
        DigestItem(
            alert_key=i["alert_key"],
            severity=Severity(i["severity"]),
            summary=i["summary"],
            status=AlertStatus(i["status"]),
            link=i.get("link"),
        )
        for i in data.pop("items", ())
    )
    figures = tuple((str(a), str(b)) for a, b in data.pop("figures", ()))
    return DigestCard(items=items, figures=figures, **data)


def _chart_meta(settings: Settings | None, team: Team, now: datetime) -> dict[str, str]:
    """The week's chart for the digest: only with a public URL (Slack and Teams fetch it from there)."""
    url = signed_chart_url(settings, team_id=team.id, now=now) if settings and team.id is not None else None
    if url is None:
        return {}
    return {"chart_url": url, "chart_alt": f"{team.name}: alerts and time to first contact by week"}


async def build_team_digests(
    sessions: SessionFactory, *, now: datetime, team_ids: Collection[int] | None = None,
    settings: Settings | None = None,
) -> list[Digest]:
    """Each team's digest for each of its managers' destinations (teams without one are skipped)."""
    figures = {f.team: f for f in await loop_figures(sessions, now=now, window=WEEK)}
    digests: list[Digest] = []
    async with sessions() as session:
        by_status = await figure_queries.unresolved_counts(session)
        breached = await figure_queries.breached_counts(session, now=now)
        for team in await queries.list_teams(session):
            if team.id is None or (team_ids is not None and team.id not in team_ids):
                continue
            places = _manager_places(team)
            if not places:
                continue
            oldest = await figure_queries.oldest_open(session, team_id=team.id, limit=OLDEST)
            items = tuple(_item(a, now) for a in oldest)
            week = figures.get(team.name)
            open_count = by_status[(team.id, "open")] + by_status[(team.id, "snoozed")]
            shown = (
                ("Open", str(open_count)),
                ("Claimed", str(by_status[(team.id, "claimed")])),
                ("Breached", str(breached[team.id])),
                ("Responded to (7 days)", format_rate(week.response_rate if week else None)),
                ("Median time to claim (7 days)", format_seconds(week.median_claim if week else None)),
                *(customer_loop_lines(week) if week else ()),
            )
            local_day = now.astimezone(_zone(team.timezone)).date()
            card = DigestCard(
                title=f"Daily digest · {team.name} · {local_day:%a %d %b}",
                items=items,
                figures=shown,
                with_claim_buttons=False,
                more=max(0, by_status[(team.id, "open")] - len(items)),
                fallback_text=f"{team.name}: {open_count} open, {breached[team.id]} past their SLA",
                meta={"team": team.name, "team_id": str(team.id), "date": local_day.isoformat(),
                      **_chart_meta(settings, team, now)},
            )
            digests.extend((platform, destination, card) for platform, destination in places)
    return digests


def _item(alert: Alert, now: datetime) -> DigestItem:
    sla = sla_line(alert, now=now)[0] or "no SLA"
    return DigestItem(
        alert_key=alert.key or "HA-?",
        severity=Severity(alert.severity),
        status=AlertStatus(alert.status),
        summary=f"waiting since {alert.created_at:%a %H:%M} UTC · {sla}",
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _manager_places(team: Team) -> list[tuple[str, str]]:
    places = [("slack", team.managers_slack_channel), ("teams", team.managers_teams_channel)]
    return [(platform, channel) for platform, channel in places if channel]


def digest_slot(team: Team, now: datetime, *, hour: int = DIGEST_HOUR) -> datetime | None:
    """Today's 09:00 in the team's zone (UTC) when a digest is due now; None on closed days or too late."""
    local = now.astimezone(_zone(team.timezone))
    try:
        hours = BusinessHours.from_config(team.business_hours, timezone=team.timezone)
    except BusinessHoursError:
        hours = None
    if hours is not None and local.weekday() not in hours.days:
        return None
    slot = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if not slot <= local < slot + DIGEST_GRACE:
        return None
    return slot.astimezone(UTC)


async def enqueue_due_digests(sessions: SessionFactory, *, now: datetime, hour: int = DIGEST_HOUR,
                              settings: Settings | None = None) -> int:
    """Write today's digest rows for every team whose 09:00 has come; returns how many teams got one.
    `settings`: for the chart's signed link (none without them, or without a public URL)."""
    async with sessions() as session:
        teams = [t for t in await queries.list_teams(session) if _manager_places(t)]
    due = {t.id: slot for t in teams if t.id is not None and (slot := digest_slot(t, now, hour=hour))}
    if not due:
        return 0
    by_team: dict[int, list[Digest]] = {}
    for digest in await build_team_digests(sessions, now=now, team_ids=due, settings=settings):
        by_team.setdefault(int(digest[2].meta["team_id"]), []).append(digest)
    sent = 0
    for team_id, slot in due.items():
        key = f"{team_id}:{slot:%Y-%m-%dT%H:%MZ}"  # one 09:00 per local day
        async with transaction(sessions) as session:
            await figure_queries.lock_team(session, team_id=team_id)
            today = await figure_queries.outbox_payloads_since(session, kind=DIGEST_KIND, since=slot)
            if any(payload.get("key") == key for payload in today):
                continue
            for platform, destination, card in by_team.get(team_id, []):
                enqueue(
                    session,
                    kind=DIGEST_KIND,
                    platform=platform,
                    destination=destination,
                    alert_id=None,
                    now=now,
                    payload=digest_payload(card, key=key),
                )
            sent += 1
    return sent
