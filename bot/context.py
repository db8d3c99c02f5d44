"""Everything a running hotloop holds: settings, database, config cache, outbox signal, secret box.

Built by `Context.open(settings)` (never at import) and shared by the web app, the workers and the CLI.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cards.systemic import configure_card_links
from bot.config.snapshot import ConfigCache, ensure_defaults
from bot.config.systemic import defaults as systemic_defaults
from bot.crypto import SecretBox
from bot.ingest.queue import IngestQueue
from bot.outbox import OutboxSignal
from bot.settings import Settings
from storage import queries
from storage.db import SessionFactory, create_engine_for, session_factory


@dataclass(frozen=True)
class SourceRuntime:
    """A source as the webhook needs it, with its secret decrypted (cached briefly, never logged)."""

    id: int
    name: str
    kind: str
    secret: str
    mapping: dict[str, object]
    api_url: str | None
    api_token: str | None


@dataclass
class Context:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    config: ConfigCache
    signal: OutboxSignal
    secrets: SecretBox
    ingest_queue: IngestQueue
    _sources: dict[str, tuple[float, SourceRuntime | None]] = field(default_factory=dict)

    @classmethod
    async def open(cls, settings: Settings, *, prepare: bool = True) -> Context:
        configure_card_links(settings.public_url)  # cards link a systemic issue's children to the dashboard
        engine = create_engine_for(settings.effective_database_url)
        sessions = session_factory(engine)
        ctx = cls(
            settings,
            engine,
            sessions,
            ConfigCache(sessions, systemic_defaults=systemic_defaults(settings)),
            OutboxSignal(),
            SecretBox.from_settings(settings),
            IngestQueue(sessions),
        )
        if prepare:
            await ensure_defaults(sessions, default_team=settings.default_team, admins=settings.admins)
        return ctx

    async def close(self) -> None:
        await self.engine.dispose()

    def forget_source(self, name: str) -> None:
        self._sources.pop(name, None)

    async def source(self, name: str, *, ttl: float = 5.0) -> SourceRuntime | None:
        cached = self._sources.get(name)
        if cached is not None and time.monotonic() - cached[0] < ttl:
            return cached[1]
        async with self.sessions() as session:
            row = await queries.get_source(session, name=name)
        runtime = None
        # the built-in "systemic" source (bot/systemic/parent.py) takes no webhooks: it has no secret
        if row is not None and row.id is not None and row.kind != "systemic":
            runtime = SourceRuntime(
                id=row.id,
                name=row.name,
                kind=row.kind,
                secret=self.secrets.open(row.secret_encrypted),
                mapping=dict(row.mapping),
                api_url=row.api_url,
                api_token=self.secrets.open(row.api_token_encrypted) if row.api_token_encrypted else None,
            )
        if len(self._sources) > 1000:  # unknown names probed by strangers must not grow memory
            self._sources.clear()
        self._sources[name] = (time.monotonic(), runtime)
        return runtime
