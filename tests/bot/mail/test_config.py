"""A team's e-mail settings in the YAML configuration: validated with paths, stored, exported the same,
and read by the sender with the environment's defaults beneath."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.config.io import ConfigError, dump_yaml, export_config, import_yaml, load_yaml
from bot.mail.policy import AckPolicy, team_mail
from bot.settings import build_settings
from storage.db import SessionFactory
from storage.models import Team
from tests.appserver import TEST_SECRET_KEY

DOCUMENT = """
default_team: support
teams:
  - name: support
    slack_channel: C0654321
    mail:
      sender: "Acme Kundendienst <kundendienst@acme.test>"
      reply_to: antwort@acme.test
      ack: every_alert
      ack_delay: 15m
      language: de
  - name: night
    mail: {ack: "off"}
  - name: plain
"""


async def test_the_mail_block_round_trips(sessions: SessionFactory) -> None:
    await import_yaml(sessions, DOCUMENT)
    exported = await export_config(sessions)
    teams = {t["name"]: t for t in exported["teams"]}
    assert teams["support"]["mail"] == {
        "sender": "Acme Kundendienst <kundendienst@acme.test>", "reply_to": "antwort@acme.test",
        "ack": "every_alert", "ack_delay": "15m", "language": "de",
    }
    assert teams["night"]["mail"] == {"ack": "off"} and "mail" not in teams["plain"]
    assert load_yaml(dump_yaml(exported)).normalized() == exported  # re-imports as the same document
    async with sessions() as session:
        stored = {t.name: t for t in (await session.execute(select(Team))).scalars()}
    settings = build_settings(mode="test", secret_key=TEST_SECRET_KEY, mail_from="hotloop@acme.test",
                              ack_delay="10m")
    support = team_mail(name="support", timezone="UTC", stored=stored["support"].mail, settings=settings)
    assert (support.ack, support.ack_delay, support.language) == (AckPolicy.EVERY_ALERT, 900, "de")
    assert support.display_name == "Acme Kundendienst"
    plain = team_mail(name="plain", timezone="UTC", stored=stored["plain"].mail, settings=settings)
    assert (plain.ack, plain.ack_delay, plain.sender, plain.reply_to) == (
        AckPolicy.CONTACT_REQUESTS, 600, "hotloop@acme.test", None)
    assert plain.display_name == "plain"


@pytest.mark.parametrize(("block", "problem"), [
    ("{sender: not-an-address}", "teams[0].mail.sender: not an e-mail address"),
    ("{reply_to: \"a@b.test\\nBcc: c@d.test\"}", "teams[0].mail.reply_to"),
    ("{ack: sometimes}", "teams[0].mail.ack"),
    ("{ack_delay: soon}", "teams[0].mail.ack_delay"),
    ("{language: nl}", "teams[0].mail.language"),
    ("{from: a@b.test}", "teams[0].mail.from: unknown key"),
])
def test_a_bad_mail_block_is_refused_with_its_path(block: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_yaml(f"teams:\n  - name: support\n    mail: {block}\n")
    assert any(p.startswith(problem) for p in error.value.problems), error.value.problems


def test_a_stored_block_that_no_longer_validates_falls_back_to_the_defaults() -> None:
    settings = build_settings(mode="test", secret_key=TEST_SECRET_KEY, mail_from="hotloop@acme.test")
    mail = team_mail(name="x", timezone="UTC", stored={"ack": "sometimes"}, settings=settings)
    assert (mail.ack, mail.sender) == (AckPolicy.CONTACT_REQUESTS, "hotloop@acme.test")
