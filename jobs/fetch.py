"""Platforms that send only ids (Qualtrics, SurveyMonkey): the webhook queues a fetch in the outbox
(committed before the 202), and the worker fetches the response later, retrying with backoff, so a
notification is never lost even when the platform's API is down."""

from __future__ import annotations

from datetime import datetime

import httpx
from sqlalchemy import select
from sqlmodel import col

from adapters.sources.base import FetchNeeded, SourceConfig, SourceError
from adapters.sources.registry import adapter_for
from bot.context import Context
from bot.domain import utcnow
from bot.ingest import ingest
from bot.outbox import enqueue
from jobs.delivery_ops import Job, Verdict
from storage import queries
from storage.db import SessionFactory, transaction
from storage.models import Outbox, Source

FETCH_KIND = "source.fetch"
FETCH_PLATFORM = "fetch"


async def queue_fetch(
    sessions: SessionFactory, *, source_id: int, needed: FetchNeeded, now: datetime
) -> bool:
    """False when this response is already known or already queued (a platform retry)."""
    async with transaction(sessions) as session:
        if await queries.find_feedback(session, source_id=source_id, external_id=needed.external_id):
            return False
        queued = await session.execute(
            select(col(Outbox.id)).where(
                col(Outbox.kind) == FETCH_KIND, col(Outbox.destination) == f"{source_id}:{needed.external_id}"
            )
        )
        if queued.first() is not None:
            return False
        enqueue(session, kind=FETCH_KIND, platform=FETCH_PLATFORM,
                destination=f"{source_id}:{needed.external_id}", alert_id=None, now=now,
                payload={"source_id": source_id, "external_id": needed.external_id, "ref": dict(needed.ref)})
    return True


class Fetcher:
    """Runs queued fetches (registered as the delivery worker's handler for `source.fetch`)."""

    def __init__(self, ctx: Context, *, client: httpx.AsyncClient | None = None) -> None:
        self.ctx = ctx
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(10.0))

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __call__(self, job: Job) -> Verdict:
        name = await self._source_name(int(job.payload["source_id"]))
        runtime = await self.ctx.source(name) if name else None
        if runtime is None:
            return Verdict("failed", "the source was removed")
        adapter = adapter_for(runtime.kind)
        config = SourceConfig(name=runtime.name, kind=runtime.kind, secret=runtime.secret,
                              mapping=runtime.mapping, api_url=runtime.api_url, api_token=runtime.api_token)
        needed = FetchNeeded(
            external_id=str(job.payload["external_id"]), ref=dict(job.payload.get("ref", {}))
        )
        try:
            item = await adapter.fetch(self.client, config, needed)
        except httpx.HTTPStatusError as error:
            code = error.response.status_code
            # Qualtrics answers 404 for a few seconds after its event fires: retry it (attempts are capped)
            retry = code in (404, 408, 429) or code >= 500
            return Verdict("retry" if retry else "failed", f"{runtime.kind} API answered {code}")
        except (httpx.TransportError, httpx.TimeoutException) as error:
            return Verdict("retry", f"{runtime.kind} API unreachable: {type(error).__name__}")
        except SourceError as error:
            return Verdict("failed", f"{runtime.kind} response unusable: {error.reason}")
        config_snapshot = await self.ctx.config.get()
        await ingest(self.ctx.sessions, source_id=runtime.id, source_name=runtime.name, item=item,
                     config=config_snapshot, alarming_words=self.ctx.settings.alarming_words, now=utcnow())
        self.ctx.signal.notify()
        return Verdict("done")

    async def _source_name(self, source_id: int) -> str | None:
        async with self.ctx.sessions() as session:
            row = await session.get(Source, source_id)
        return row.name if row else None
