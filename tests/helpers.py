"""Build alerts through the real ingest path, for lifecycle and delivery tests."""

from __future__ import annotations

from typing import Any

from bot.config.snapshot import ConfigCache, ConfigSnapshot, ensure_defaults
from bot.domain import FeedbackIn, utcnow
from bot.ingest.accept import ingest
from storage.db import SessionFactory, transaction
from storage.models import Source, Team


async def prepared_config(
    sessions: SessionFactory,
    *,
    slack_channel: str | None = None,
    managers: list[str] | None = None,
    admins: list[str] | None = None,
    managers_channel: str | None = None,
) -> ConfigSnapshot:
    await ensure_defaults(sessions, default_team="support", admins=admins or ["U0ADMIN"])
    async with transaction(sessions) as session:
        team = (await session.execute(Team.__table__.select())).first()  # type: ignore[attr-defined]
        row = await session.get(Team, team.id)
        assert row is not None
        row.slack_channel = slack_channel
        row.managers = managers or ["U0MANAGER"]
        row.managers_slack_channel = managers_channel
        if (await session.get(Source, 1)) is None:
            session.add(Source(id=1, name="web", kind="generic", secret_encrypted="x"))
    return await ConfigCache(sessions).get()


async def raise_alert(
    sessions: SessionFactory, config: ConfigSnapshot, *, external_id: str = "r-1", **fields: Any
) -> str:
    values: dict[str, Any] = {"external_id": external_id, "nps": 2, "comment": "rude staff"}
    values.update(fields)
    result = await ingest(
        sessions,
        source_id=1,
        source_name="web",
        item=FeedbackIn(**values),
        config=config,
        alarming_words=["rude"],
        now=utcnow(),
    )
    assert result.alert_key is not None
    return result.alert_key
