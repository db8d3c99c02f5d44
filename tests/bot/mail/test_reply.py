"""The Reply draft and e-mail in each language, on SQLite and PostgreSQL; the HTML escapes the agent's
text; no address → a refusal that says what to do instead; the card's contact facts and Reply button."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.action_ids import ActionId
from bot.alerts.lifecycle import Refused
from bot.mail.message import mime
from bot.mail.reply import reply_draft, reply_mail, reply_target
from storage import queries
from storage.db import SessionFactory
from tests.bot.mail.test_ack import kit
from tests.factories import NOW, sample_alert, sample_card
from tests.helpers import prepared_config, raise_alert

GREETINGS = {"en": ("Hello Dana,", "Best regards,"), "de": ("Guten Tag Dana,", "Mit freundlichen Grüßen"),
             "fr": ("Bonjour Dana,", "Cordialement,"), "es": ("Hola, Dana:", "Atentamente,")}


@pytest.mark.parametrize("language", sorted(GREETINGS))
async def test_the_draft_greets_by_first_name_and_signs_with_the_agent(sessions: SessionFactory,
                                                                        language: str) -> None:
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config, customer={"name": "Dana Scully", "email": "dana@example.com"},
                            attributes={"language": language})
    async with sessions() as session:
        alert = await queries.get_alert(session, key=key)
        assert alert is not None
        target = await reply_target(session, kit(), alert)
    draft = reply_draft(kit(), target, agent_name="Ann Lee")
    hello, regards = GREETINGS[language]
    assert draft.startswith(hello) and regards in draft and draft.endswith("Ann Lee\nAcme Support")
    mail = reply_mail(kit(), target, text=draft + "\n<script>x</script> & more")
    assert mail.purpose == "reply" and mail.language == language and key in mail.subject
    assert "<script>x</script> & more" in mail.text
    assert "&lt;script&gt;x&lt;/script&gt; &amp; more" in mail.html and "<script>" not in mail.html
    message = mime(mail, message_id="<1.x@acme.test>", now=NOW)
    assert message["Auto-Submitted"] is None and message["List-Unsubscribe"] is None


async def test_no_address_is_refused_with_what_to_do_instead(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config, customer={"name": "Dana", "email": "not an address"})
    async with sessions() as session:
        alert = await queries.get_alert(session, key=key)
        assert alert is not None
        with pytest.raises(Refused, match="left no e-mail address: call them and log the call"):
            await reply_target(session, kit(), alert)


def test_the_card_shows_acknowledgement_and_first_contact_and_offers_reply() -> None:
    card = sample_card(acknowledged_at=NOW + timedelta(minutes=10),
                       first_contact_at=NOW + timedelta(minutes=12))
    facts = dict(card.facts)
    assert facts["Acknowledged"].startswith("to d•••@example.com · ")
    assert facts["First contact"].endswith(" after arrival")
    assert [b.action for b in card.menu][1:3] == [ActionId.REPLY, ActionId.LOG_CALL]
    managers = dict(sample_card(audience="managers", acknowledged_at=NOW).facts)
    assert "example.com" not in managers["Acknowledged"]  # the masked address stays with the team
    assert sample_alert().first_contact_at is None
