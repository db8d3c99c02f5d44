"""A real-looking history for the dashboard benchmark: N response alerts over the last 12 weeks (4 teams,
40 locations, 25 employees), most of them claimed, contacted and resolved, their events, follow-ups
(some answered), a few systemic issues — bulk-loaded (sqlite3 executemany / asyncpg COPY)."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

TEAMS = ("support", "stores-north", "stores-south", "delivery")
LOCATIONS = 40
EMPLOYEES = 25
SPAN = timedelta(weeks=12)
CHUNK = 20_000
SEVERITIES = ("critical", "high", "normal")

FEEDBACK_COLUMNS = ("id", "source_id", "external_id", "received_at", "customer_name", "nps",
                    "contact_requested", "comment", "answers", "attributes", "partial")
ALERT_COLUMNS = ("id", "key", "feedback_id", "severity", "status", "team_id", "created_at", "updated_at",
                 "claimed_at", "resolved_at", "claim_due_at", "resolve_due_at", "next_due_at",
                 "first_contact_at", "owner_id", "owner_name", "owner_platform", "outcome", "kind",
                 "routed_by_default", "reasons", "escalation_level", "nag_count", "version")
EVENT_COLUMNS = ("id", "alert_id", "kind", "actor_id", "actor_name", "platform", "at", "data")
FOLLOW_UP_COLUMNS = ("id", "alert_id", "nonce", "address_hash", "language", "created_at", "expires_at",
                     "sent_at", "answered_at", "resolved", "score")


@dataclass
class Chunk:
    feedback: list[tuple[Any, ...]] = field(default_factory=list)
    alerts: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    follow_ups: list[tuple[Any, ...]] = field(default_factory=list)


def _alert(i: int, n: int, now: datetime, rng: random.Random, out: Chunk) -> None:
    created = now - SPAN + SPAN * (i / (n + 1)) + timedelta(seconds=rng.randint(0, 60))
    systemic = i % 997 == 0
    team = 1 + i % len(TEAMS)
    location, employee = f"{(i * 7) % LOCATIONS:03d}", f"Employee {(i * 3) % EMPLOYEES:02d}"
    attributes = {"location": location, "employee": employee}
    age = (now - created).total_seconds()
    claimed = created + timedelta(seconds=rng.expovariate(1 / 1500)) if rng.random() < 0.93 else None
    contact = created + timedelta(seconds=rng.expovariate(1 / 2700)) if rng.random() < 0.75 else None
    resolved = (claimed + timedelta(seconds=rng.expovariate(1 / 30000))
                if claimed is not None and rng.random() < (0.95 if age > 3 * 86400 else 0.4) else None)
    claimed, contact, resolved = (t if t is not None and t < now else None
                                  for t in (claimed, contact, resolved))
    if resolved is not None and claimed is None:
        resolved = None
    status = "resolved" if resolved else "claimed" if claimed else "open"
    owner = (f"U{(i * 3) % EMPLOYEES:04d}", employee, "slack") if claimed else (None, None, None)
    key = f"SYS-{i}" if systemic else f"HA-{1000 + i}"
    claim_due, resolve_due = created + timedelta(hours=1), created + timedelta(hours=24)
    next_due = None if resolved else (resolve_due if claimed else claim_due)
    out.feedback.append((i, 1, f"r-{i}", created, f"Customer {i}", i % 7, i % 3 == 0,
                         f"Order {i} arrived late and cold at location {location}", "[]",
                         json.dumps(attributes), False))
    outcome = ("recovered" if i % 3 else "contacted_not_recovered") if resolved else None
    out.alerts.append((i, key, i, SEVERITIES[i % 3], status, team, created, resolved or claimed or created,
                       claimed, resolved, claim_due, resolve_due, next_due, contact, *owner, outcome,
                       "systemic" if systemic else "response", False, "[]", 0, 0, 1))
    base = i * 3
    out.events.append((base, i, "created", "hotloop", "hotloop", "hotloop", created, "{}"))
    if claimed is not None:
        out.events.append((base + 1, i, "claimed", owner[0], owner[1], "slack", claimed, "{}"))
    if resolved is not None:
        out.events.append((base + 2, i, "resolved", owner[0], owner[1], "slack", resolved,
                           json.dumps({"outcome": outcome})))
        if i % 4 == 0 and resolved + timedelta(days=2) < now:
            sent = resolved + timedelta(days=2)
            answered = sent + timedelta(hours=5) if i % 8 == 0 else None
            yes = None if answered is None else i % 24 != 0
            out.follow_ups.append((i, i, f"n{i:030d}"[-32:], "0" * 64, "en", sent, sent + timedelta(days=30),
                                   sent, answered, yes, None if answered is None else 8))


def chunks(n: int, now: datetime) -> Iterator[Chunk]:
    rng = random.Random(16)
    for first in range(1, n + 1, CHUNK):
        out = Chunk()
        for i in range(first, min(first + CHUNK, n + 1)):
            _alert(i, n, now, rng, out)
        yield out


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return value


def _insert(conn: sqlite3.Connection, table: str, columns: tuple[str, ...],
            rows: list[tuple[Any, ...]]) -> None:
    marks = ", ".join("?" for _ in columns)
    conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                     [tuple(_iso(v) for v in row) for row in rows])


def _teams(now: datetime) -> list[tuple[Any, ...]]:
    return [(t + 1, name, "[]", "UTC", t == 0, now) for t, name in enumerate(TEAMS)]


TEAM_COLUMNS = ("id", "name", "managers", "timezone", "is_default", "created_at")
SOURCE_COLUMNS = ("id", "name", "kind", "secret_encrypted", "mapping", "created_at")


def load_sqlite(path: str, n: int, now: datetime) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    _insert(conn, "team", TEAM_COLUMNS, _teams(now))
    _insert(conn, "source", SOURCE_COLUMNS, [(1, "web", "generic", "x", "{}", now)])
    for part in chunks(n, now):
        _insert(conn, "feedback", FEEDBACK_COLUMNS, part.feedback)
        _insert(conn, "alert", ALERT_COLUMNS, part.alerts)
        _insert(conn, "alertevent", EVENT_COLUMNS, part.events)
        _insert(conn, "followup", FOLLOW_UP_COLUMNS, part.follow_ups)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


async def load_postgres(url: str, n: int, now: datetime) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.copy_records_to_table("team", columns=list(TEAM_COLUMNS), records=_teams(now))
        await raw.copy_records_to_table("source", columns=list(SOURCE_COLUMNS),
                                        records=[(1, "web", "generic", "x", "{}", now)])
        for part in chunks(n, now):
            for table, columns, rows in (("feedback", FEEDBACK_COLUMNS, part.feedback),
                                         ("alert", ALERT_COLUMNS, part.alerts),
                                         ("alertevent", EVENT_COLUMNS, part.events),
                                         ("followup", FOLLOW_UP_COLUMNS, part.follow_ups)):
                await raw.copy_records_to_table(table, columns=list(columns), records=rows)
        for table in ("team", "source", "feedback", "alert", "alertevent", "followup"):
            await raw.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
    await engine.dispose()
    # as autovacuum would after a bulk load: statistics, and the visibility map index-only scans need
    vacuum = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with vacuum.connect() as conn:
        await conn.execute(text("VACUUM ANALYZE"))
    await vacuum.dispose()
