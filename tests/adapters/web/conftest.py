"""Shared by the dashboard tests: Ana, a Slack user signed in through a link. Each module gives its own
`server` (the app with the settings its tests need)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.adapters.web.signin_helpers import SignedIn, sign_in
from tests.appserver import AppServer


@pytest.fixture
async def ana(server: AppServer) -> AsyncIterator[SignedIn]:
    web = await sign_in(server, user_id="U0ANA", name="ana")
    yield web
    await web.aclose()
