"""Migration 0004 (customer e-mail) on a database that already holds alerts: they are marked as needing
no acknowledgement (turning e-mail on must not write to old customers), and it steps back cleanly."""

from __future__ import annotations

from sqlalchemy import text

from storage.db import create_engine_for
from storage.migrate import current_revision, downgrade, upgrade
from tests.storage.test_migrations import fresh_url  # noqa: F401  (the fixture: an empty database each)

NOW = "CURRENT_TIMESTAMP"
ROWS = (
    f"INSERT INTO team (name, managers, timezone, is_default, created_at) VALUES ('support', '[]', 'UTC', "
    f"true, {NOW})",
    f"INSERT INTO source (name, kind, secret_encrypted, mapping, created_at) VALUES ('web', 'generic', 'x', "
    f"'{{}}', {NOW})",
    "INSERT INTO feedback (source_id, external_id, received_at, customer_email, contact_requested, answers, "
    f"attributes, partial) VALUES (1, 'r-1', {NOW}, 'dana@example.com', true, '[]', '{{}}', false)",
    "INSERT INTO alert (feedback_id, severity, status, team_id, routed_by_default, reasons, "
    f"escalation_level, created_at, updated_at, nag_count, version) VALUES (1, 'high', 'open', 1, false, "
    f"'[]', 0, {NOW}, {NOW}, 0, 1)",
)


async def test_alerts_from_before_are_not_acknowledged_and_the_step_reverts(fresh_url: str) -> None:  # noqa: F811
    await upgrade(fresh_url, "0003")
    engine = create_engine_for(fresh_url)
    try:
        async with engine.begin() as conn:
            for statement in ROWS:
                await conn.execute(text(statement))
        await upgrade(fresh_url)
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT ack_status, acknowledged_at FROM alert"))).one()
            assert tuple(row) == ("none", None)
            assert (await conn.execute(text("SELECT count(*) FROM mailsuppression"))).scalar_one() == 0
        await downgrade(fresh_url, "0003")
        assert await current_revision(fresh_url) == "0003"
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM alert"))).scalar_one() == 1
    finally:
        await engine.dispose()
