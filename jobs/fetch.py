"""Platforms that send only ids (Qualtrics, SurveyMonkey): the webhook queues a fetch in the outbox
(committed before the 202, `storage.queries.fetch.queue_fetch`), and the worker fetches the response
later, retrying with backoff, so a notification is never lost even when the platform's API is down."""

from __future__ import annotations

import httpx

from adapters.sources.base import FetchNeeded, SourceConfig, SourceError
from adapters.sources.registry import adapter_for
from bot.context import Context
from bot.domain import utcnow
from bot.ingest.accept import ingest
from jobs.delivery_ops import Job, Verdict
from storage.queries.fetch import FETCH_KIND as FETCH_KIND  # re-exported: the runner registers it
from storage.queries.fetch import FETCH_PLATFORM as FETCH_PLATFORM
from storage.queries.sources import source_name


class Fetcher:
    """Runs queued fetches (registered as the delivery worker's handler for `source.fetch`)."""

    def __init__(self, ctx: Context, *, client: httpx.AsyncClient | None = None) -> None:
        self.ctx = ctx
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(10.0))

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __call__(self, job: Job) -> Verdict:
        name = await source_name(self.ctx.sessions, source_id=int(job.payload["source_id"]))
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
