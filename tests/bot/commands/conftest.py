"""The command tests' context: hotloop's own `Context` on the test database (U0ADMIN is an admin)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.context import Context
from tests.bot.commands.test_commands import open_context


@pytest.fixture
async def ctx(engine: AsyncEngine, database_url: str) -> AsyncIterator[Context]:
    context = await open_context(database_url)
    yield context
    await context.close()
