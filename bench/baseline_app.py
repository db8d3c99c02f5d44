"""The bare baseline for bench/ingest.py: the least a webhook receiver can do on the same stack.

`POST /webhooks/{source}` (routed like hotloop's: a plain Starlette route in the FastAPI app) reads
the raw body, does ONE INSERT of it (SQLAlchemy Core, async, the
engine built by `storage.db.create_engine_for`, so SQLite gets the same WAL / BEGIN IMMEDIATE
settings and PostgreSQL the same pool), commits and answers 202. No signature check, no parsing,
no rules: the floor hotloop's ingest path is compared against.

    python bench/baseline_app.py --port 8100     # database from HOTLOOP_DATABASE_URL
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Column, DateTime, Integer, LargeBinary, MetaData, String, Table, insert
from starlette.routing import Route

from storage.db import create_engine_for

metadata = MetaData()
raw_webhook = Table(
    "bench_raw_webhook",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


def create_app(database_url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine_for(database_url)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        app.state.engine = engine
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="hotloop-bench-baseline", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    async def receive(request: Request) -> JSONResponse:
        source = request.path_params["source"]
        body = await request.body()
        async with request.app.state.engine.begin() as conn:  # BEGIN (IMMEDIATE on SQLite) … COMMIT
            await conn.execute(
                insert(raw_webhook).values(source=source, body=body, received_at=datetime.now(UTC))
            )
        return JSONResponse({"alert": None}, status_code=202)

    # registered like hotloop's webhook (adapters/webhook_routes.py): a plain Starlette route in the
    # FastAPI app, so both pay the same framework cost per request
    app.router.routes.insert(0, Route("/webhooks/{source}", receive, methods=["POST"]))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    url = os.environ.get("HOTLOOP_DATABASE_URL", "")
    if not url:
        raise SystemExit("HOTLOOP_DATABASE_URL is required")
    # the same uvicorn settings as `hotloop serve` (uvloop/httptools when installed, no access log)
    uvicorn.run(
        create_app(url), host=args.host, port=args.port, log_level="warning", access_log=False, lifespan="on"
    )


if __name__ == "__main__":
    main()
