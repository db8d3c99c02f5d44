"""A team's e-mail settings as the sender needs them: the YAML's `mail:` block (bot.config.document
`TeamMailDoc`, stored as JSON on the team) over the environment's defaults."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr
from enum import StrEnum
from typing import Any

import structlog
from pydantic import ValidationError

from bot.config.document import TeamMailDoc
from bot.settings import Settings

log = structlog.get_logger("hotloop.mail")


class AckPolicy(StrEnum):
    CONTACT_REQUESTS = "contact_requests"  # only customers who asked to be contacted (the default)
    EVERY_ALERT = "every_alert"  # every alerted customer who left an address
    OFF = "off"


@dataclass(frozen=True)
class TeamMail:
    team_name: str
    timezone: str
    sender: str
    reply_to: str | None
    ack: AckPolicy
    ack_delay: int  # seconds after the alert was raised
    language: str | None
    follow_up: str = "detractors"  # detractors | asked | off (bot/mail/followup.py)
    follow_up_delay: int = 2 * 86400  # seconds after the alert was resolved

    @property
    def display_name(self) -> str:
        """How the team signs: the sender's display name ("Acme Support"), else the team's name."""
        return parseaddr(self.sender)[0] or self.team_name

    def wants_ack(self, *, contact_requested: bool) -> bool:
        if self.ack is AckPolicy.OFF:
            return False
        return self.ack is AckPolicy.EVERY_ALERT or contact_requested


def team_mail(*, name: str, timezone: str, stored: dict[str, Any] | None, settings: Settings) -> TeamMail:
    """The team's settings; a stored block that no longer validates falls back to the defaults (logged)."""
    try:
        doc = TeamMailDoc.model_validate(stored or {})
    except ValidationError:
        log.error("mail.team_settings_unusable", team=name)
        doc = TeamMailDoc()
    return TeamMail(
        team_name=name,
        timezone=timezone,
        sender=doc.sender or settings.mail_from,
        reply_to=doc.reply_to,
        ack=AckPolicy(doc.ack),
        ack_delay=settings.ack_delay if doc.ack_delay is None else doc.ack_delay,
        language=doc.language,
        follow_up=doc.follow_up,
        follow_up_delay=settings.follow_up_delay if doc.follow_up_delay is None else doc.follow_up_delay,
    )
