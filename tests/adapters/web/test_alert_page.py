"""An alert's page (/app/alerts/<KEY>) through the real app: what it shows (customer, answers, comment,
reasons, facts, systemic parents and children, the whole timeline), one form per action the user may
take, team scoping, and customer text rendered inert."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from storage.db import transaction
from storage.models import FollowUp, Outbox, SystemicIssue, SystemicMember
from storage.types import utcnow
from tests.adapters.web.queue_helpers import add_alert, add_team
from tests.adapters.web.signin_helpers import SignedIn
from tests.appserver import AppServer, AppWithChats
from tests.security.test_injection import RESPONSE

FORM = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.S)
ANSWERS = [{"question": "Staff friendliness", "value": 1, "scale_min": 1, "scale_max": 5}]


@pytest.fixture
async def server(app_with_chats: AppWithChats) -> AsyncIterator[AppServer]:
    async with app_with_chats(public_url="http://127.0.0.1", systemic_min_count=1_000_000) as server:
        yield server


def action_forms(page: str) -> dict[str, str]:
    """Each alert action form's last path segment → its body (the sign-out form is not one)."""
    return {action.rsplit("/", 1)[1]: body for action, body in FORM.findall(page)
            if action.startswith("/app/alerts/")}


async def test_the_page_shows_the_response_and_its_reasons(server: AppServer, ana: SignedIn) -> None:
    await add_alert(server, "HA-1", reasons=["NPS 2 (detractor 0–3)", "alarming words: rude"],
                    feedback={"customer_name": "Dana Scully", "customer_email": "dana@example.com",
                              "comment": "Waited 40 minutes", "answers": ANSWERS,
                              "attributes": {"location": "042", "employee": "Jessica C"}})
    page = await ana.client.get("/app/alerts/HA-1")
    assert page.status_code == 200
    text = html.unescape(page.text)
    for shown in ("Dana Scully", "dana@example.com", "Waited 40 minutes", "Staff friendliness", "1 / 5",
                  "NPS 2 (detractor 0–3)", "alarming words: rude", "042", "Jessica C", "Open · unclaimed"):
        assert shown in text, shown
    fragment = await ana.client.get("/app/alerts/HA-1/fragment")
    assert fragment.status_code == 200 and "Waited 40 minutes" in fragment.text
    assert "<html" not in fragment.text  # the sections only, for the live swap


async def test_every_action_form_ends_with_its_name_and_carries_the_csrf_field(
    server: AppServer, ana: SignedIn
) -> None:
    await add_alert(server, "HA-1")
    page = (await ana.client.get("/app/alerts/HA-1")).text
    forms = action_forms(page)
    # an open alert: what the table's guards let anyone do (Reply needs e-mail, which is off here)
    assert set(forms) == {"claim", "escalate", "resolve", "not_actionable", "note", "snooze", "log_call",
                          "reassign"}
    hidden = f'<input type="hidden" name="csrf_token" value="{ana.csrf}">'
    for name, body in forms.items():
        assert hidden in body, name
    assert '<select id="f-snooze-until" name="until" required>' in forms["snooze"]
    assert 'name="outcome"' in forms["resolve"] and 'name="root_cause"' in forms["resolve"]
    assert 'name="follow_up"' in forms["resolve"] and 'name="children"' not in forms["resolve"]
    assert 'name="user"' in forms["reassign"] and 'name="user_name"' in forms["reassign"]
    assert "<textarea" in forms["note"]
    await ana.post_form("/app/alerts/HA-1/claim")
    owned = action_forms((await ana.client.get("/app/alerts/HA-1")).text)
    assert "claim" not in owned and {"unclaim", "resolve", "note"} <= set(owned)


async def test_another_teams_alert_is_not_found(server: AppServer, ana: SignedIn) -> None:
    other = await add_team(server, "other-team")
    await add_alert(server, "HA-2", team_id=other, feedback={"customer_name": "Hidden Person"})
    for path in ("/app/alerts/HA-2", "/app/alerts/HA-2/fragment", "/app/alerts/HA-999"):
        reply = await ana.client.get(path)
        assert reply.status_code == 404
        assert "Hidden Person" not in reply.text
    missing = await ana.client.get("/app/alerts/HA-999")
    hidden = await ana.client.get("/app/alerts/HA-2")
    assert missing.text.replace("HA-999", "") == hidden.text.replace("HA-2", "")  # existence not revealed


async def test_the_timeline_has_events_thread_lines_e_mails_and_answers(server: AppServer,
                                                                         ana: SignedIn) -> None:
    made = await add_alert(server, "HA-1")
    await ana.post_form("/app/alerts/HA-1/claim")
    await ana.post_form("/app/alerts/HA-1/note", {"note": "Left a voicemail"})
    later = utcnow() + timedelta(minutes=5)
    async with transaction(server.ctx.sessions) as session:
        session.add(Outbox(kind="email.send", platform="email", destination="lane", alert_id=made.alert_id,
                           payload={"purpose": "follow_up", "to": "dana@example.com",
                                    "subject": "Did we fix it?"}, status="done", done_at=later))
        session.add(FollowUp(alert_id=made.alert_id, nonce="n1", address_hash="h", language="en",
                             answered_at=later + timedelta(minutes=1), resolved=False, score=3,
                             comment="Still <i>broken</i>"))
    page = (await ana.client.get("/app/alerts/HA-1")).text
    timeline = page[page.index('<section class="timeline">'):]
    order = [timeline.index(s) for s in ("<strong>claimed</strong>", "<strong>note</strong>",
                                          "Left a voicemail", "E-mail: follow_up", "Did we fix it?",
                                          "Customer answered: not fixed · score 3")]
    assert order == sorted(order)
    assert "Still &lt;i&gt;broken&lt;/i&gt;" in timeline
    assert "dana@example.com" not in timeline  # an e-mail shows its purpose and subject, not the address
    assert timeline.count('class="tl tl-thread"') >= 2  # the claim's and the note's thread lines


async def test_a_systemic_parent_lists_its_alerts_and_a_child_its_parent(server: AppServer,
                                                                         ana: SignedIn) -> None:
    parent = await add_alert(server, "SYS-77", kind="systemic", severity="critical",
                             feedback={"comment": "3 detractors mention rude at location 042"})
    children = [await add_alert(server, f"HA-{n}", feedback={"comment": f"Rude staff {n}"}) for n in (1, 2)]
    team_id = (await server.ctx.config.get()).default_team_id
    async with transaction(server.ctx.sessions) as session:
        issue = SystemicIssue(number=77, alert_id=parent.alert_id, team_id=team_id, dimension="location",
                              value="042", window_seconds=7200, child_count=2)
        session.add(issue)
        await session.flush()
        assert issue.id is not None
        for child in children:
            session.add(SystemicMember(systemic_id=issue.id, alert_id=child.alert_id, dimension="location"))
    page = (await ana.client.get("/app/alerts/SYS-77")).text
    assert "Its alerts (2)" in page
    assert '<a href="/app/alerts/HA-1">HA-1</a>' in page and "Rude staff 2" in page
    resolve = action_forms(page)["resolve"]
    assert 'name="children"' in resolve  # "also resolve its open alerts"
    child_page = (await ana.client.get("/app/alerts/HA-1")).text
    assert "Part of" in child_page and '<a href="/app/alerts/SYS-77">SYS-77</a>' in child_page
    queue = (await ana.client.get("/app?view=systemic")).text
    assert 'data-key="SYS-77"' in queue and ">SYS</span>" in queue


async def test_injection_text_renders_inert_on_the_queue_and_the_alert_page(server: AppServer,
                                                                            ana: SignedIn) -> None:
    reply = await server.post_feedback(RESPONSE)
    assert reply.status_code == 202, reply.text
    key = str(reply.json()["alert"])
    for path in ("/app", "/app?view=all", f"/app/alerts/{key}", f"/app/alerts/{key}/fragment",
                 "/app/queue/fragment?view=all"):
        page = await ana.client.get(path)
        assert page.status_code == 200, path
        assert key in page.text, path
        for live in ("<script>alert(1)</script>", "<b>html</b>", "<at>", "<https://evil", "<!channel>"):
            assert live not in page.text, (path, live)
        assert "\u202e" not in page.text and "\u200b" not in page.text  # invisible characters removed
    alert_page = (await ana.client.get(f"/app/alerts/{key}")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in alert_page  # shown, as text
    assert "Dana &lt;!channel&gt; &lt;@U123&gt; *Scully*" in alert_page
