"""The generic webhook contract: 202 after commit, 200 on repeats, clear 4xx that write nothing."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

from tests.appserver import AppServer

DETRACTOR = {
    "id": "r-1",
    "nps": 2,
    "contact_requested": True,
    "customer": {"name": "Dana", "email": "dana@example.com"},
    "comment": "Rude staff",
    "attributes": {"location": "042"},
}


async def row_counts(server: AppServer) -> dict[str, int]:
    counts = {}
    async with server.ctx.sessions() as session:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in ("feedback", "alert", "alertevent", "outbox"):
                query = select(func.count()).select_from(table)
                counts[table.name] = (await session.execute(query)).scalar_one()
    return counts


async def test_detractor_is_accepted_after_commit_with_an_alert_key(app_server: AppServer) -> None:
    reply = await app_server.post_feedback(DETRACTOR)
    assert reply.status_code == 202
    assert reply.json() == {"alert": "HA-1001"}
    counts = await row_counts(app_server)
    assert counts["feedback"] == 1 and counts["alert"] == 1
    assert counts["alertevent"] >= 1 and counts["outbox"] >= 1


async def test_happy_customer_is_accepted_without_alert(app_server: AppServer) -> None:
    reply = await app_server.post_feedback({"id": "r-2", "nps": 10, "comment": "Lovely"})
    assert (reply.status_code, reply.json()) == (202, {"alert": None})
    assert (await row_counts(app_server))["alert"] == 0
    assert (await row_counts(app_server))["feedback"] == 1


async def test_repeated_id_is_idempotent(app_server: AppServer) -> None:
    first = await app_server.post_feedback(DETRACTOR)
    before = await row_counts(app_server)
    second = await app_server.post_feedback(DETRACTOR)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert await row_counts(app_server) == before


async def test_later_part_updates_the_same_alert_and_can_raise_severity(app_server: AppServer) -> None:
    first = await app_server.post_feedback({"id": "r-9", "nps": 9, "contact_requested": True})
    assert first.status_code == 202
    richer = {"id": "r-9", "nps": 9, "contact_requested": True, "comment": "I want a refund, staff were rude"}
    second = await app_server.post_feedback(richer)
    assert second.status_code == 200 and second.json() == first.json()
    async with app_server.ctx.sessions() as session:
        from storage.models import Alert

        alerts = (await session.execute(select(Alert))).scalars().all()
    assert len(alerts) == 1
    # normal (promoter asks for contact) raised one level by alarming words
    assert alerts[0].severity == "high"


@pytest.mark.parametrize(
    ("secret", "age", "header"),
    [
        ("wrong-secret-0123456789", 0, None),  # other secret
        (None, 301, None),  # stale
        (None, -301, None),  # future
        (None, 0, ""),  # missing
        (None, 0, "t=abc,v1=00"),  # garbage
        (None, 0, "v1=00"),  # no timestamp
    ],
)
async def test_bad_signatures_are_refused_and_write_nothing(
    app_server: AppServer, secret: str | None, age: int, header: str | None
) -> None:
    from tests.appserver import SOURCE_SECRET

    extra = {} if header is None else {"x-hotloop-signature": header}
    reply = await app_server.post_feedback(
        DETRACTOR, secret=secret or SOURCE_SECRET, timestamp=int(time.time()) - age, headers=extra
    )
    assert reply.status_code == 401
    assert reply.json()["error"]
    assert sum((await row_counts(app_server)).values()) == 0


async def test_body_signed_then_altered_is_refused(app_server: AppServer) -> None:
    from adapters.sources.generic import sign
    from tests.appserver import SOURCE_SECRET

    body = json.dumps(DETRACTOR).encode()
    header = sign(SOURCE_SECRET, body, int(time.time()))
    altered = body.replace(b'"nps": 2', b'"nps": 9')
    reply = await app_server.client.post(
        "/webhooks/web", content=altered, headers={"x-hotloop-signature": header}
    )
    assert reply.status_code == 401


async def test_unknown_source_is_404(app_server: AppServer) -> None:
    reply = await app_server.post_feedback(DETRACTOR, source="nope")
    assert reply.status_code == 404
    assert "nope" in reply.json()["error"]


async def test_oversize_body_is_413_even_without_content_length(app_server: AppServer) -> None:
    big = b'{"id": "x", "comment": "' + b"a" * (300 * 1024) + b'"}'
    reply = await app_server.post_feedback(big)
    assert reply.status_code == 413

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(300):
            yield b"a" * 1024

    streamed = await app_server.client.post("/webhooks/web", content=chunks())
    assert streamed.status_code == 413
    assert sum((await row_counts(app_server)).values()) == 0


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "JSON"),
        (b"[1, 2]", 400, "object"),
        (b'{"nps": 3}', 422, "id"),
        (b'{"id": "a", "nps": 11}', 422, "nps"),
        (b'{"id": "a", "answers": [{"value": 1}]}', 422, "question"),
        (b'{"id": "a", "unknown_field": 1}', 422, "unknown_field"),
        (b'{"id": "a", "attributes": {"k": {"nested": 1}}}', 422, "attributes"),
        (b"[" * 100 + b"]" * 100, 400, "deeper"),
    ],
)
async def test_malformed_bodies_get_a_reason_and_write_nothing(
    app_server: AppServer, body: bytes, status: int, needle: str
) -> None:
    reply = await app_server.post_feedback(body)
    assert reply.status_code == status, reply.text
    assert needle.lower() in reply.json()["error"].lower()
    assert sum((await row_counts(app_server)).values()) == 0


async def test_openapi_documents_the_generic_body(app_server: AppServer) -> None:
    spec = (await app_server.client.get("/openapi.json")).json()
    operation = spec["paths"]["/webhooks/{source}"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert "id" in schema["required"]
    assert {"202", "401", "404", "413", "422"} <= set(operation["responses"])


async def test_head_checks_a_webhook_url_without_writing(app_server: AppServer) -> None:
    assert (await app_server.client.head("/webhooks/web")).status_code == 200
    assert (await app_server.client.head("/webhooks/none")).status_code == 404
    assert sum((await row_counts(app_server)).values()) == 0


async def test_posts_go_to_the_plain_route_and_the_documented_route_serves_the_same(
    app_server: AppServer,
) -> None:
    from fastapi.routing import APIRoute

    first = app_server.app.router.routes[0]
    assert not isinstance(first, APIRoute) and getattr(first, "path", "") == "/webhooks/{source}"
    # without the plain route, the documented FastAPI route answers exactly the same
    app_server.app.router.routes.remove(first)
    try:
        body = b'{"id": "doc-1", "nps": 2}'
        assert (await app_server.post_feedback(body)).status_code == 202
        assert (await app_server.post_feedback(body)).status_code == 200
        assert (await app_server.post_feedback(b"{nope")).status_code == 400
    finally:
        app_server.app.router.routes.insert(0, first)
