"""'Did we fix it?' on a real database (SQLite and PostgreSQL): who is asked under each team policy and when,
who is skipped (unsubscribed, asked in the last 30 days, reopened meanwhile), what the links accept
(forged, another alert's, expired, used), and what an answer does to the alert."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.action_ids import ActionId, Arg
from bot.actions.table import ActionRequest, handle
from bot.alerts.lifecycle import Actor
from bot.config.snapshot import ConfigSnapshot
from bot.domain import utcnow
from bot.mail.address import address_hash
from bot.mail.followup import sweep_follow_ups
from bot.mail.followup_answer import LinkState, open_link, read_answer, record
from bot.mail.kit import MailKit
from bot.mail.message import EMAIL_KIND, Mail
from storage.db import SessionFactory, transaction
from storage.models import Alert, AlertEvent, FollowUp, MailSuppression, Outbox, Team
from tests.bot.mail.test_ack import kit
from tests.helpers import prepared_config, raise_alert

ANA = Actor(id="U0ANA", name="Ana", platform="slack")


async def resolve(sessions: SessionFactory, config: ConfigSnapshot, key: str, *, follow_up: bool = False,
                  outcome: str = "recovered") -> None:
    args = {Arg.OUTCOME: outcome, Arg.FOLLOW_UP: "true" if follow_up else "false"}
    reply = await handle(ActionRequest(ActionId.RESOLVE, key, ANA, args), sessions=sessions, config=config,
                         now=utcnow())
    assert reply.ok, reply.message


async def set_team_mail(sessions: SessionFactory, mail: dict[str, Any]) -> None:
    async with transaction(sessions) as session:
        await session.execute(update(Team).values(mail=mail))


async def mails(sessions: SessionFactory) -> list[Mail]:
    async with sessions() as session:
        rows = (await session.execute(select(Outbox).where(Outbox.kind == EMAIL_KIND))).scalars().all()
    return [Mail.from_payload(row.payload) for row in rows]


async def status_of(sessions: SessionFactory, key: str) -> str | None:
    async with sessions() as session:
        return (await session.execute(select(Alert.follow_up_status).where(Alert.key == key))).scalar_one()


def token_of(mail: Mail) -> str:
    return mail.text.split("/f/", 1)[1].split()[0]


async def test_by_default_detractors_and_ticked_alerts_are_asked_after_the_delay(
    sessions: SessionFactory
) -> None:
    config = await prepared_config(sessions)
    await set_team_mail(sessions, {"follow_up_delay": "1h"})
    customer = {"email": "dana@example.com", "name": "Dana Scully"}
    detractor = await raise_alert(sessions, config, external_id="r-1", customer=customer)
    passive = await raise_alert(sessions, config, external_id="r-2", nps=8,
                                customer={"email": "fox@example.com"})
    ticked = await raise_alert(sessions, config, external_id="r-3", nps=8,
                               customer={"email": "walt@example.com"}, attributes={"language": "fr-FR"})
    unreachable = await raise_alert(sessions, config, external_id="r-4",
                                    customer={"email": "alex@example.com"})
    for key in (detractor, passive):
        await resolve(sessions, config, key)
    await resolve(sessions, config, ticked, follow_up=True)
    await resolve(sessions, config, unreachable, outcome="unreachable")
    mail_kit, now = kit(), utcnow()
    early = await sweep_follow_ups(sessions, mail_kit, now=now + timedelta(minutes=59))
    assert early.scheduled == 4 and early.queued == 0 and await mails(sessions) == []
    due = await sweep_follow_ups(sessions, mail_kit, now=now + timedelta(minutes=61))
    assert due.queued == 2
    by_to = {m.to: m for m in await mails(sessions)}
    assert set(by_to) == {"dana@example.com", "walt@example.com"}
    dana, walt = by_to["dana@example.com"], by_to["walt@example.com"]
    assert dana.purpose == "follow_up" and dana.subject == "Did we resolve your issue?"
    assert "Hello Dana," in dana.text
    assert walt.language == "fr" and walt.subject == "Avons-nous résolu votre problème ?"
    token = token_of(dana)
    assert f"https://hotloop.acme.test/f/{token}?resolved=no" in dana.text and token.startswith("f1.en.")
    assert dana.unsubscribe_url is not None and f'href="https://hotloop.acme.test/f/{token}"' in dana.html
    assert [await status_of(sessions, k) for k in (detractor, passive, ticked, unreachable)] == [
        "queued", "none", "queued", "none"]
    again = await sweep_follow_ups(sessions, mail_kit, now=now + timedelta(days=1))
    assert (again.scheduled, again.queued) == (0, 0)


@pytest.mark.parametrize(("policy", "expected"), [("detractors", 2), ("asked", 1), ("off", 0)])
async def test_the_team_policy(sessions: SessionFactory, policy: str, expected: int) -> None:
    config = await prepared_config(sessions)
    await set_team_mail(sessions, {"follow_up": policy, "follow_up_delay": "0s"})
    first = await raise_alert(sessions, config, external_id="r-1", customer={"email": "dana@example.com"})
    second = await raise_alert(sessions, config, external_id="r-2", customer={"email": "fox@example.com"})
    await resolve(sessions, config, first, follow_up=True)
    await resolve(sessions, config, second)
    result = await sweep_follow_ups(sessions, kit(), now=utcnow() + timedelta(seconds=1))
    assert result.queued == expected == len(await mails(sessions))


async def test_one_per_customer_in_30_days_none_when_unsubscribed_or_reopened(
    sessions: SessionFactory
) -> None:
    config = await prepared_config(sessions)
    await set_team_mail(sessions, {"follow_up_delay": "0s"})
    keys = [await raise_alert(sessions, config, external_id=f"r-{n}", customer={"email": email})
            for n, email in enumerate(["Dana@Example.com", "dana@example.com", "gone@example.com",
                                       "back@example.com"])]
    async with transaction(sessions) as session:
        session.add(MailSuppression(address_hash=address_hash("gone@example.com"), reason="unsubscribed"))
    for key in keys:
        await resolve(sessions, config, key)
    reopen = ActionRequest(ActionId.REOPEN, keys[3], ANA)
    now = utcnow()
    async with transaction(sessions) as session:  # scheduled, then reopened before it was due
        await session.execute(update(Alert).where(Alert.key == keys[3]).values(follow_up_status="waiting",
                                                                               follow_up_due_at=now))
    assert (await handle(reopen, sessions=sessions, config=config, now=now)).ok
    result = await sweep_follow_ups(sessions, kit(), now=now + timedelta(seconds=1))
    assert (result.queued, result.skipped) == (1, 2)
    assert [m.to for m in await mails(sessions)] == ["Dana@Example.com"]
    assert [await status_of(sessions, k) for k in keys] == ["queued", "skipped", "skipped", "none"]
    async with sessions() as session:
        reasons = sorted(e.data["reason"] for e in (await session.execute(
            select(AlertEvent).where(AlertEvent.kind == "follow_up_skipped"))).scalars())
    assert reasons == ["asked in the last 30 days", "unsubscribed"]
    later = await raise_alert(sessions, config, external_id="r-9", customer={"email": "dana@example.com"})
    await resolve(sessions, config, later)
    async with transaction(sessions) as session:  # the first follow-up is a month old
        await session.execute(update(FollowUp).values(created_at=now - timedelta(days=31)))
    month = await sweep_follow_ups(sessions, kit(), now=utcnow() + timedelta(seconds=1))
    assert month.queued == 1  # a month later the same customer may be asked again


async def queued_link(sessions: SessionFactory, config: ConfigSnapshot, mail_kit: MailKit) -> tuple[str, str]:
    await set_team_mail(sessions, {"follow_up_delay": "0s"})
    key = await raise_alert(sessions, config, external_id="r-1", customer={"email": "dana@example.com"})
    await sessions_resolve_claimed(sessions, config, key)
    await sweep_follow_ups(sessions, mail_kit, now=utcnow() + timedelta(seconds=1))
    (mail,) = await mails(sessions)
    return key, token_of(mail)


async def sessions_resolve_claimed(sessions: SessionFactory, config: ConfigSnapshot, key: str) -> None:
    assert (await handle(ActionRequest(ActionId.CLAIM, key, ANA), sessions=sessions, config=config,
                         now=utcnow())).ok
    await resolve(sessions, config, key)


async def test_links_that_are_not_good_say_nothing(sessions: SessionFactory) -> None:
    config, mail_kit = await prepared_config(sessions), kit()
    _, token = await queued_link(sessions, config, mail_kit)
    now = utcnow()
    assert (await open_link(sessions, mail_kit, token=token, now=now)).state is LinkState.OPEN
    body, signature = token.rsplit(".", 1)
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    nonce = body.split(".")[2]
    other_alert = mail_kit.links.follow_up_token(nonce=nonce, alert_id=999, language="en",
                                                 expires=now + timedelta(days=30))
    for bad in (f"{body}.{flipped}", other_alert, "f1.en.x", token + "x", "", "u1.en.abc", token.replace(
            "f1.en.", "f1.xx.")):
        assert (await open_link(sessions, mail_kit, token=bad, now=now)).state is LinkState.INVALID, bad
    assert kit(secret_key="another-secret-key-0123456789abcdef").links.read_follow_up(token) is not None
    other_key = await open_link(sessions, kit(secret_key="another-secret-key-0123456789abcdef"), token=token,
                                now=now)
    assert other_key.state is LinkState.INVALID
    expired = await open_link(sessions, mail_kit, token=token, now=now + timedelta(days=31))
    assert (expired.state, expired.status_code) == (LinkState.EXPIRED, 410)


def test_csrf_values_are_bound_to_the_token_and_to_time() -> None:
    links, now = kit().links, utcnow()
    value = links.csrf_value("f1.en.a", now=now)
    assert links.csrf_ok("f1.en.a", value, now=now + timedelta(hours=1))
    assert not links.csrf_ok("f1.en.b", value, now=now)
    assert not links.csrf_ok("f1.en.a", value, now=now + timedelta(days=2))
    assert not links.csrf_ok("f1.en.a", "", now=now) and not links.csrf_ok("f1.en.a", "1.x", now=now)
    assert not kit(secret_key="another-secret-key-0123456789abcdef").links.csrf_ok("f1.en.a", value, now=now)


@pytest.mark.parametrize("form", [{}, {"resolved": "maybe"}, {"resolved": "yes", "score": "11"},
                                  {"resolved": "no", "score": "-1"}, {"resolved": "no", "score": "a"},
                                  {"resolved": "no", "score": "007"}])
def test_bad_answers_are_refused(form: dict[str, str]) -> None:
    assert read_answer(form) is None


def test_answers_are_cleaned() -> None:
    answer = read_answer({"resolved": "yes", "score": " 6 ", "comment": " a\u202eb\x00c\r\nd " + "x" * 3000})
    assert answer is not None and answer.unhappy and answer.score == 6
    assert answer.comment is not None and answer.comment.startswith("abc\nd") and len(answer.comment) == 2000


async def test_a_low_score_reopens_even_with_yes_and_a_second_answer_changes_nothing(
    sessions: SessionFactory
) -> None:
    config, mail_kit = await prepared_config(sessions), kit()
    key, token = await queued_link(sessions, config, mail_kit)
    link = await open_link(sessions, mail_kit, token=token, now=utcnow())
    answer = read_answer({"resolved": "yes", "score": "4", "comment": "still cold"})
    assert answer is not None
    results = await asyncio.gather(*(record(sessions, config, link=link, answer=answer, now=utcnow())
                                     for _ in range(3)))
    assert sorted(results) == [False, False, True]
    async with sessions() as session:
        alert = (await session.execute(select(Alert).where(Alert.key == key))).scalar_one()
        events = (await session.execute(select(AlertEvent).where(AlertEvent.kind == "reopened_by_customer")))
        (event,) = events.scalars().all()
        row = (await session.execute(select(FollowUp))).scalar_one()
        dms = (await session.execute(select(Outbox).where(Outbox.kind == "dm"))).scalars().all()
    assert alert.status == "claimed" and alert.follow_up_status == "reopened" and alert.resolved_at is None
    assert event.data["comment"] == "still cold" and event.actor_id == "customer"
    assert row.resolved is True and row.score == 4 and row.comment == "still cold"
    assert [(d.platform, d.destination) for d in dms] == [("slack", "U0ANA")]  # the owner is told
    assert "is not resolved" in str(dms[0].payload) and "still cold" not in str(dms[0].payload)
    assert (await open_link(sessions, mail_kit, token=token, now=utcnow())).state is LinkState.USED
