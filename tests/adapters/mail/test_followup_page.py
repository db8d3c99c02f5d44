"""Issue 14 §8: the public `/f/` page through the real app — rate-limited per client IP (429 with
Retry-After), CSRF-checked, localized and accessible, every bad link or form a clear 4xx that names no
alert, and every item of the security suite's injection corpus inert on the thank-you page."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from adapters.rate_limit import ClientRateLimit
from bot.action_ids import ActionId, Arg
from bot.actions.table import ActionRequest, handle
from bot.alerts.lifecycle import Actor
from bot.domain import utcnow
from bot.mail.kit import MailKit
from storage.db import transaction
from storage.models import FollowUp
from tests.appserver import AppServer, AppWithChats
from tests.security.test_injection import EVIL

ANA = Actor(id="U0ANA", name="Ana", platform="slack")
LIVE_HTML = re.compile(r"<(?!/?(?:!DOCTYPE|html|head|meta|title|body|main|h1|p|dl|dt|dd|br)\b)[a-z!/]", re.I)


@pytest.fixture
async def server(app_with_chats: AppWithChats) -> AsyncIterator[AppServer]:
    async with app_with_chats(public_page_per_minute=600, public_page_burst=200) as app:
        yield app


async def follow_up_link(server: AppServer, *, language: str = "en", n: int = 1,
                         expires_in: timedelta = timedelta(days=30)) -> tuple[str, str]:
    """(alert key, /f/ path) of a resolved alert with a follow-up row, as the sweep leaves it."""
    reply = await server.post_feedback({"id": f"r-{n}", "nps": 1, "comment": "rude staff",
                                        "customer": {"email": f"c{n}@example.com", "name": "Dana Scully"}})
    key = str(reply.json()["alert"])
    ctx = server.ctx
    request = ActionRequest(ActionId.RESOLVE, key, ANA, {Arg.OUTCOME: "recovered"})
    assert (await handle(request, sessions=ctx.sessions, config=await ctx.config.get(), now=utcnow())).ok
    nonce, now = secrets.token_urlsafe(16), utcnow()
    async with transaction(ctx.sessions) as session:
        row = FollowUp(alert_id=n, nonce=nonce, address_hash="0" * 64, language=language, created_at=now,
                       expires_at=now + expires_in)
        session.add(row)
    token = MailKit.from_settings(ctx.settings).links.follow_up_token(
        nonce=nonce, alert_id=n, language=language, expires=now + expires_in)
    return key, f"/f/{token}"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


async def test_the_page_is_localized_accessible_and_names_nothing(server: AppServer) -> None:
    key, path = await follow_up_link(server, language="de")
    page = await server.client.get(path)
    assert page.status_code == 200 and '<html lang="de">' in page.text
    assert "Konnten wir Ihr Anliegen lösen?" in page.text and 'value="yes" required checked' in page.text
    for label in ("resolved-yes", "resolved-no", "score", "comment"):
        assert f'id="{label}"' in page.text and f'<label for="{label}">' in page.text
    assert page.text.count("<fieldset") == 2 and page.text.count("<legend>") == 2
    assert "<script" not in page.text and key not in page.text and "Dana" not in page.text
    assert "rude" not in page.text and "example.com" not in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["content-security-policy"]


async def test_bad_links_and_forms_are_clear_4xx_pages(server: AppServer) -> None:
    key, path = await follow_up_link(server)
    _, expired = await follow_up_link(server, n=2, expires_in=timedelta(seconds=-1))
    for bad in ("/f/nonsense", path[:-2] + "AA", path.replace("/f/f1.en.", "/f/f1.de."), "/f/" + "f" * 300):
        for method in ("GET", "POST"):
            answer = await server.client.request(method, bad, data={"resolved": "no"})
            assert answer.status_code == 404 and "This link does not work" in answer.text, bad
            assert key not in answer.text
    assert (await server.client.get(expired)).status_code == 410
    csrf = csrf_of((await server.client.get(path)).text)
    forged = await server.client.post(path, data={"resolved": "no", "csrf": csrf[:-2] + "xx"})
    missing = await server.client.post(path, data={"resolved": "no"})
    assert forged.status_code == missing.status_code == 403 and "open for too long" in forged.text
    for form in ({"resolved": "perhaps"}, {"resolved": "no", "score": "99"}):
        refused = await server.client.post(path, data={**form, "csrf": csrf})
        assert refused.status_code == 400 and "choose yes or no" in refused.text
    huge = await server.client.post(path, data={"resolved": "no", "csrf": csrf, "comment": "x" * 20000})
    assert huge.status_code == 403
    done = await server.client.post(path, data={"resolved": "yes", "csrf": csrf})
    assert done.status_code == 200
    used = await server.client.post(path, data={"resolved": "no", "csrf": csrf})
    assert used.status_code == 410 and "already been answered" in used.text and key not in used.text


@pytest.mark.parametrize("evil", EVIL)
async def test_the_injection_corpus_is_inert_on_the_thank_you_page(server: AppServer, evil: str) -> None:
    _, path = await follow_up_link(server)
    csrf = csrf_of((await server.client.get(path)).text)
    form = {"resolved": "no", "score": "2", "comment": evil, "csrf": csrf}
    done = await server.client.post(path, data=form)
    assert done.status_code == 200, done.text
    body = done.text.split("<dl>", 1)[1].split("</dl>", 1)[0]
    assert not LIVE_HTML.search(body), body
    assert "<script" not in done.text and "<b>" not in done.text and "<at>" not in done.text


async def test_too_many_requests_from_one_client_get_429_with_retry_after(
    app_with_chats: AppWithChats
) -> None:
    async with app_with_chats(public_page_per_minute=6, public_page_burst=3) as server:
        statuses = [(await server.client.get("/f/nonsense")).status_code for _ in range(4)]
        assert statuses == [404, 404, 404, 429]
        limited = await server.client.post("/f/nonsense")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert "Too many requests" in limited.text


def test_the_bucket_refills_and_forgets_idle_clients() -> None:
    now = [0.0]
    limit = ClientRateLimit(per_minute=60, burst=2, max_clients=2, clock=lambda: now[0])
    assert [limit.retry_after("a") for _ in range(3)] == [None, None, 1]
    assert limit.retry_after("b") is None  # another client has its own bucket
    now[0] = 1.0
    assert limit.retry_after("a") is None and limit.retry_after("a") == 1
    limit.retry_after("c")
    assert len(limit._buckets) == 2  # the longest idle client was dropped
