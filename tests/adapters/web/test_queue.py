"""The queue (/app) through the real app: views, filters, keyset pagination and team scoping, on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from storage.types import utcnow
from tests.adapters.web.queue_helpers import add_alert, add_many, add_team, next_link, row_keys
from tests.adapters.web.signin_helpers import SignedIn, sign_in
from tests.appserver import AppServer, AppWithChats

ADMIN_ID = "U0ADMIN"


@pytest.fixture
async def server(app_with_chats: AppWithChats) -> AsyncIterator[AppServer]:
    # no systemic spikes opened from these made-up alerts while a test reads the queue
    async with app_with_chats(public_url="http://127.0.0.1", admins=[f"slack:{ADMIN_ID}"],
                              systemic_min_count=1_000_000) as server:
        yield server


@pytest.fixture
async def admin(server: AppServer) -> AsyncIterator[SignedIn]:
    web = await sign_in(server, user_id=ADMIN_ID, name="root")
    yield web
    await web.aclose()


async def keys_of(web: SignedIn, query: str = "") -> list[str]:
    reply = await web.client.get(f"/app{query}")
    assert reply.status_code == 200, reply.text
    return row_keys(reply.text)


async def test_the_queue_needs_a_session_and_shows_no_alert_without_one(server: AppServer) -> None:
    await add_alert(server, "HA-7001", feedback={"customer_name": "Secret Customer"})
    for path in ("/app", "/app?view=all", "/app/queue/fragment"):
        reply = await server.client.get(path)
        assert reply.status_code == 401
        assert "HA-7001" not in reply.text and "Secret Customer" not in reply.text


async def test_saved_views(server: AppServer, ana: SignedIn) -> None:
    now = utcnow()
    old = now - timedelta(hours=5)
    await add_alert(server, "HA-1", severity="normal", created_at=old)
    await add_alert(server, "HA-2", severity="critical", created_at=now - timedelta(minutes=5))
    await add_alert(server, "HA-3", severity="low", claim_due_at=now - timedelta(minutes=1))  # overdue
    await add_alert(server, "HA-4", status="claimed", owner_id="U0ANA", owner_name="ana",
                    owner_platform="slack")
    await add_alert(server, "HA-5", status="claimed", owner_id="U0BEN", owner_name="ben",
                    owner_platform="slack")
    await add_alert(server, "HA-6", status="snoozed", snoozed_until=now + timedelta(hours=2))
    await add_alert(server, "HA-7", status="snoozed", snoozed_until=now - timedelta(minutes=2),
                    created_at=old - timedelta(hours=1))
    await add_alert(server, "HA-8", status="resolved")
    await add_alert(server, "SYS-901", kind="systemic", feedback={"comment": "5 detractors mention rude"})

    # needs a human: active now; overdue first (HA-7 woke up, HA-3 by its clock), then severity, then age
    needs = await keys_of(ana)
    assert needs[:2] == ["HA-7", "HA-3"]  # both overdue: high before low
    assert needs[2] == "HA-2"  # critical
    assert set(needs) == {"HA-1", "HA-2", "HA-3", "HA-4", "HA-5", "HA-7", "SYS-901"}
    assert await keys_of(ana, "?view=all") == ["SYS-901", "HA-8", "HA-7", "HA-6", "HA-5", "HA-4", "HA-3",
                                                 "HA-2", "HA-1"]
    assert set(await keys_of(ana, "?view=unassigned")) == {"HA-1", "HA-2", "HA-3", "HA-6", "HA-7", "SYS-901"}
    assert await keys_of(ana, "?view=mine") == ["HA-4"]
    assert set(await keys_of(ana, "?view=team")) == {"HA-1", "HA-2", "HA-3", "HA-4", "HA-5", "HA-6", "HA-7",
                                                     "SYS-901"}
    assert await keys_of(ana, "?view=overdue") == ["HA-7", "HA-3"]
    systemic = await ana.client.get("/app?view=systemic")
    assert row_keys(systemic.text) == ["SYS-901"] and ">SYS</span>" in systemic.text


async def test_filters(server: AppServer, ana: SignedIn) -> None:
    now = utcnow()
    await server.add_source("kiosk")
    await add_alert(server, "HA-1", severity="critical", feedback={"attributes": {"location": "042"}})
    await add_alert(server, "HA-2", severity="low", source="kiosk",
                    feedback={"attributes": {"location": "7"}})
    await add_alert(server, "HA-3", status="resolved", created_at=now - timedelta(days=3))
    await add_alert(server, "SYS-901", kind="systemic")
    assert await keys_of(ana, "?view=all&severity=critical") == ["HA-1"]
    assert await keys_of(ana, "?view=all&source=kiosk") == ["HA-2"]
    assert await keys_of(ana, "?view=all&location=7") == ["HA-2"]
    assert await keys_of(ana, "?view=all&status=resolved") == ["HA-3"]
    assert await keys_of(ana, "?view=all&kind=systemic") == ["SYS-901"]
    assert set(await keys_of(ana, "?view=all&kind=response")) == {"HA-1", "HA-2", "HA-3"}
    day = (now - timedelta(days=3)).strftime("%Y-%m-%d")
    assert await keys_of(ana, f"?view=all&from={day}&to={day}") == ["HA-3"]
    assert "HA-3" not in await keys_of(ana, f"?view=all&from={now:%Y-%m-%d}")
    page = await ana.client.get("/app?view=all&severity=critical")
    assert '<option value="critical" selected>' in page.text  # the form shows what is applied


@pytest.mark.parametrize("query", ["?view=nope", "?severity=urgent", "?status=x", "?from=yesterday",
                                   "?team=abc", "?cursor=not-a-cursor", "?kind=both",
                                   "?location=" + "x" * 300])
async def test_bad_filters_answer_422_with_the_reason(server: AppServer, ana: SignedIn, query: str) -> None:
    reply = await ana.client.get(f"/app{query}")
    assert reply.status_code == 422
    assert "must be" in reply.text or "not valid" in reply.text or "longer than" in reply.text


async def walk(web: SignedIn, first: str) -> tuple[list[str], int]:
    """Every key across the pages from `first`, following "Next page"; and how many pages."""
    keys: list[str] = []
    url: str | None = first
    pages = 0
    while url is not None:
        reply = await web.client.get(url)
        assert reply.status_code == 200, reply.text
        keys += row_keys(reply.text)
        url = next_link(reply.text)
        pages += 1
        assert pages < 20
    return keys, pages


async def test_keyset_pages_have_no_duplicates_and_no_gaps(server: AppServer, ana: SignedIn) -> None:
    start = utcnow() - timedelta(hours=6)
    made = await add_many(server, 250, start=start)
    everything, pages = await walk(ana, "/app?view=all")
    assert pages == 5 and len(everything) == 250
    assert everything == list(reversed(made))  # newest first, none twice, none missing
    # the default view sorts on computed keys (overdue, severity, age): still every active one, once
    needs, _ = await walk(ana, "/app")
    assert len(needs) == len(set(needs))
    reply = await ana.client.get("/app?view=unassigned")
    assert next_link(reply.text) is not None
    # a page link made for one view is refused by another, never misread
    cursor = (next_link((await ana.client.get("/app?view=all")).text) or "").partition("cursor=")[2]
    assert (await ana.client.get(f"/app?view=needs-human&cursor={cursor}")).status_code == 422


async def test_keyset_pages_of_the_default_view_match_one_sort(server: AppServer, ana: SignedIn) -> None:
    start = utcnow() - timedelta(hours=6)
    await add_many(server, 120, start=start, prefix="HC")
    paged, pages = await walk(ana, "/app")
    assert pages >= 2
    one_page = await ana.client.get("/app/queue/fragment")  # the first page, as the live refresh reads it
    assert row_keys(one_page.text) == paged[:50]
    assert len(paged) == len(set(paged))


async def test_a_member_sees_only_their_teams_alerts(server: AppServer, ana: SignedIn,
                                                     admin: SignedIn) -> None:
    other = await add_team(server, "other-team")
    await add_alert(server, "HA-1")
    await add_alert(server, "HA-2", team_id=other, feedback={"customer_name": "Hidden Person"})
    for view in ("needs-human", "all", "unassigned", "team", "overdue"):
        assert "HA-2" not in await keys_of(ana, f"?view={view}")
    page = await ana.client.get(f"/app?view=all&team={other}")
    assert row_keys(page.text) == [] and "Hidden Person" not in page.text and "other-team" not in page.text
    assert set(await keys_of(admin, "?view=all")) == {"HA-1", "HA-2"}
    assert await keys_of(admin, f"?view=all&team={other}") == ["HA-2"]
