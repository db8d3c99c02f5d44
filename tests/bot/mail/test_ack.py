"""The acknowledgement sweep on a real database (SQLite and PostgreSQL): who gets one, when, in which
language, and who is skipped (contacted first, unsubscribed, not asked for, too late)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.domain import utcnow
from bot.mail.ack import sweep_acks
from bot.mail.address import address_hash
from bot.mail.kit import MailKit
from bot.mail.message import EMAIL_KIND, Mail
from bot.settings import build_settings
from storage.db import SessionFactory, transaction
from storage.models import Alert, AlertEvent, Feedback, MailSuppression, Outbox, Team
from tests.appserver import TEST_SECRET_KEY
from tests.helpers import prepared_config, raise_alert

DANA = {"name": "Dana Scully", "email": "dana@example.com"}


def kit(**settings: Any) -> MailKit:
    values: dict[str, Any] = {"mode": "test", "secret_key": TEST_SECRET_KEY, "smtp_url": "smtp://127.0.0.1:1",
                              "mail_from": "Acme Support <support@acme.test>", "ack_delay": "10m",
                              "public_url": "https://hotloop.acme.test"}
    values.update(settings)
    return MailKit.from_settings(build_settings(**values))


async def set_team_mail(sessions: SessionFactory, mail: dict[str, Any]) -> None:
    async with transaction(sessions) as session:
        await session.execute(update(Team).values(mail=mail))


async def emails(sessions: SessionFactory) -> list[tuple[int | None, Mail]]:
    async with sessions() as session:
        rows = (await session.execute(select(Outbox).where(Outbox.kind == EMAIL_KIND))).scalars().all()
    return [(row.alert_id, Mail.from_payload(row.payload)) for row in rows]


async def ack_state(sessions: SessionFactory, key: str) -> tuple[str | None, list[dict[str, Any]]]:
    async with sessions() as session:
        alert = (await session.execute(select(Alert).where(Alert.key == key))).scalar_one()
        events = (await session.execute(select(AlertEvent).where(
            AlertEvent.alert_id == alert.id, AlertEvent.kind == "ack_skipped"))).scalars().all()
    return alert.ack_status, [e.data for e in events]


async def test_a_contact_request_is_acknowledged_once_its_delay_has_passed(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    asked = await raise_alert(sessions, config, external_id="r-1", customer=DANA, contact_requested=True)
    not_asked = await raise_alert(sessions, config, external_id="r-2", customer={"email": "fox@example.com"})
    no_address = await raise_alert(sessions, config, external_id="r-3", contact_requested=True)
    mail_kit, now = kit(), utcnow()
    early = await sweep_acks(sessions, mail_kit, now=now + timedelta(minutes=9))
    assert early.scheduled == 3 and early.queued == 0 and await emails(sessions) == []
    due = await sweep_acks(sessions, mail_kit, now=now + timedelta(minutes=11))
    assert (due.queued, due.not_wanted) == (1, 2)
    ((_, mail),) = await emails(sessions)
    assert (mail.purpose, mail.to, mail.language, mail.alert_key) == ("ack", "dana@example.com", "en", asked)
    assert mail.sender == "Acme Support <support@acme.test>" and mail.reply_to is None
    assert mail.subject == "We received your feedback"
    assert "Hello Dana," in mail.text and "Acme Support will get back to you by" in mail.text
    assert mail.unsubscribe_url is not None and mail.unsubscribe_url.startswith("https://hotloop.acme.test/u/u1.en.")
    assert (await ack_state(sessions, asked))[0] == "queued"
    assert (await ack_state(sessions, not_asked))[0] == "none"
    assert (await ack_state(sessions, no_address))[0] == "none"
    again = await sweep_acks(sessions, mail_kit, now=now + timedelta(hours=1))
    assert (again.scheduled, again.queued) == (0, 0) and len(await emails(sessions)) == 1


@pytest.mark.parametrize(("policy", "expected"), [("every_alert", 2), ("contact_requests", 1), ("off", 0)])
async def test_the_team_policy(sessions: SessionFactory, policy: str, expected: int) -> None:
    config = await prepared_config(sessions)
    await set_team_mail(sessions, {"ack": policy, "ack_delay": "0s", "reply_to": "care@acme.test"})
    await raise_alert(sessions, config, external_id="r-1", customer=DANA, contact_requested=True)
    await raise_alert(sessions, config, external_id="r-2", customer={"email": "fox@example.com"})
    await sweep_acks(sessions, kit(), now=utcnow() + timedelta(seconds=1))
    sent = await emails(sessions)
    assert len(sent) == expected
    assert all(mail.reply_to == "care@acme.test" for _, mail in sent)


async def test_the_team_delay_wins_over_the_environment(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    await set_team_mail(sessions, {"ack_delay": "1h"})
    await raise_alert(sessions, config, customer=DANA, contact_requested=True)
    now = utcnow()
    assert (await sweep_acks(sessions, kit(), now=now + timedelta(minutes=30))).queued == 0
    assert (await sweep_acks(sessions, kit(), now=now + timedelta(minutes=61))).queued == 1


async def test_german_from_the_response_with_the_promised_time(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    await set_team_mail(sessions, {"sender": "Kundendienst <kd@acme.test>", "ack_delay": "0s"})
    key = await raise_alert(sessions, config, customer=DANA, contact_requested=True,
                            attributes={"language": "de-AT"})
    await sweep_acks(sessions, kit(), now=utcnow() + timedelta(seconds=1))
    ((_, mail),) = await emails(sessions)
    assert mail.language == "de" and mail.subject == "Wir haben Ihr Feedback erhalten"
    assert "Guten Tag Dana," in mail.text and "Kundendienst meldet sich bei Ihnen bis " in mail.text
    assert " Uhr (UTC)" in mail.text and key in mail.html
    assert mail.sender == "Kundendienst <kd@acme.test>"


async def test_a_customer_contacted_first_or_unsubscribed_is_skipped(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    contacted = await raise_alert(sessions, config, external_id="r-1", customer=DANA, contact_requested=True)
    gone = await raise_alert(sessions, config, external_id="r-2", contact_requested=True,
                             customer={"email": "Fox@Example.com"})
    async with transaction(sessions) as session:
        await session.execute(update(Alert).where(Alert.key == contacted).values(first_contact_at=utcnow()))
        session.add(MailSuppression(address_hash=address_hash("fox@example.com"), reason="unsubscribed"))
    result = await sweep_acks(sessions, kit(ack_delay="0s"), now=utcnow() + timedelta(seconds=1))
    assert (result.queued, result.skipped) == (0, 2) and await emails(sessions) == []
    assert await ack_state(sessions, contacted) == ("skipped", [{"reason": "contacted"}])
    assert await ack_state(sessions, gone) == ("skipped", [{"reason": "unsubscribed"}])


async def test_the_decision_reads_the_response_as_it_is_when_due(sessions: SessionFactory) -> None:
    """A later part of the response (Delighted's update) may bring the address and the request."""
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config)
    mail_kit, now = kit(), utcnow()
    await sweep_acks(sessions, mail_kit, now=now)
    async with transaction(sessions) as session:
        later_part = {"customer_email": "dana@example.com", "contact_requested": True}
        await session.execute(update(Feedback).values(**later_part))
    await sweep_acks(sessions, mail_kit, now=now + timedelta(minutes=11))
    assert [mail.to for _, mail in await emails(sessions)] == ["dana@example.com"]
    assert (await ack_state(sessions, key))[0] == "queued"


async def test_an_acknowledgement_more_than_a_day_late_is_not_sent(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config, customer=DANA, contact_requested=True)
    await sweep_acks(sessions, kit(), now=utcnow() + timedelta(days=2))
    assert await emails(sessions) == [] and (await ack_state(sessions, key))[0] == "none"


async def test_without_a_public_url_there_is_no_unsubscribe_link(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    await raise_alert(sessions, config, customer=DANA, contact_requested=True)
    await sweep_acks(sessions, kit(ack_delay="0s", public_url=""), now=utcnow() + timedelta(seconds=1))
    ((_, mail),) = await emails(sessions)
    assert mail.unsubscribe_url is None and "/u/" not in mail.text


async def test_one_tick_works_through_more_than_a_batch(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    for n in range(5):
        await raise_alert(sessions, config, external_id=f"r-{n}", contact_requested=True,
                          customer={"email": f"customer{n}@example.com"})
    result = await sweep_acks(sessions, kit(ack_delay="0s"), now=utcnow() + timedelta(seconds=1), batch=2)
    assert (result.scheduled, result.queued) == (5, 5)
    expected = [f"customer{n}@example.com" for n in range(5)]
    assert sorted(mail.to for _, mail in await emails(sessions)) == expected
