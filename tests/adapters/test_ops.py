"""Health, readiness and Prometheus metrics on the real app."""

from __future__ import annotations

from tests.adapters.test_webhook import DETRACTOR
from tests.appserver import AppServer


async def test_health_ready_and_metrics(app_server: AppServer) -> None:
    assert (await app_server.client.get("/healthz")).json() == {"status": "ok"}
    assert (await app_server.client.get("/readyz")).json() == {"status": "ready"}
    await app_server.post_feedback(DETRACTOR)
    await app_server.post_feedback({"id": "bad"}, secret="wrong-secret-123456789")
    text = (await app_server.client.get("/metrics")).text
    assert 'hotloop_feedback_received_total{result="new",source="web"}' in text
    assert 'hotloop_webhooks_rejected_total{status="401"}' in text
    assert "hotloop_outbox_depth" in text
    assert 'hotloop_alerts_created_total{severity="critical"}' in text


async def test_delivery_worker_is_woken_by_the_commit(engine: object, database_url: str) -> None:
    """With a 60 s poll interval, only the commit's wake-up can deliver the card within 2 s."""
    import asyncio

    from sqlalchemy import select

    from storage.models import CardRef
    from tests.appserver import serve_app, test_settings

    async with serve_app(test_settings(database_url, delivery_poll_seconds=60)) as server:
        await server.add_source("web")
        await asyncio.sleep(0.3)  # let the worker settle into its (long) wait
        await server.post_feedback(DETRACTOR)
        refs: list[CardRef] = []
        for _ in range(100):
            async with server.ctx.sessions() as session:
                refs = list((await session.execute(select(CardRef))).scalars().all())
            if refs:
                break
            await asyncio.sleep(0.02)
    assert [r.platform for r in refs] == ["log"]
