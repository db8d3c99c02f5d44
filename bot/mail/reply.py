"""A reply to the customer from the card (issue 14, part 3): the draft the form starts with, and the
e-mail the agent's text goes out in.

The draft is the `reply.draft.txt.j2` template in the customer's language (as the acknowledgement picks
it), greeting them by first name and signed with the agent's name and the team's. The e-mail is that
text as the agent left it, wrapped by `reply.*` (subject, text, HTML; the HTML escapes every character
of it). A reply is written by a person: no Auto-Submitted header, no unsubscribe link; but an address on
the suppression list (unsubscribed, bounced) is not written to, the agent is told to call instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.lifecycle import Refused
from bot.mail.ack import first_name
from bot.mail.address import address_hash, masked, usable_address
from bot.mail.kit import MailKit
from bot.mail.language import DEFAULT, pick_language
from bot.mail.message import Mail
from bot.mail.policy import TeamMail
from bot.mail.render import team_folder
from storage.models import Alert
from storage.queries import mail as mail_queries
from storage.queries.contact import reply_facts
from storage.queries.mail import TeamMailRow

REPLY_MAX = 3000  # characters of a reply (Slack's text input holds no more)


@dataclass(frozen=True)
class ReplyTarget:
    """Who a reply goes to and how it is written."""

    address: str
    first_name: str | None
    language: str
    team: TeamMail
    alert_key: str

    @property
    def shown(self) -> str:
        """The address as chat shows it: d•••@example.com."""
        return masked(self.address)


async def reply_target(session: AsyncSession, kit: MailKit, alert: Alert) -> ReplyTarget:
    """The customer to write to; `Refused` (with what to do instead) when there is no one to write to."""
    assert alert.id is not None
    facts = await reply_facts(session, alert_id=alert.id)
    address = usable_address(facts.email) if facts is not None else None
    if facts is None or address is None:
        raise Refused(f"The customer of {alert.key} left no e-mail address: call them and log the call")
    if await mail_queries.suppressed(session, hashes=[address_hash(address)]):
        raise Refused(f"{masked(address)} takes no e-mail from us (unsubscribed or bounced): call instead")
    team = kit.team_mail(TeamMailRow(alert.team_id, facts.team_name, facts.team_timezone, facts.team_mail))
    language = pick_language(attributes=facts.attributes, source_mapping=facts.source_mapping,
                             team_language=team.language)
    return ReplyTarget(address=address, first_name=first_name(facts.customer_name), language=language,
                       team=team, alert_key=alert.key or "")


def reply_draft(kit: MailKit, target: ReplyTarget, *, agent_name: str | None) -> str:
    """The text the Reply form starts with: greeting, a line to complete, the agent's signature."""
    names = [f"{team_folder(target.team.team_name)}/{target.language}/reply.draft.txt.j2",
             f"{target.language}/reply.draft.txt.j2", f"{DEFAULT}/reply.draft.txt.j2"]
    template = kit.templates.env.select_template(names)
    text = template.render(language=target.language, first_name=target.first_name, agent=agent_name,
                           team=target.team.display_name, alert_key=target.alert_key)
    return text.strip()[:REPLY_MAX]


def paragraphs(text: str) -> list[list[str]]:
    """The agent's text as paragraphs of lines, for the HTML part (each line escaped there)."""
    blocks = [block.strip("\n") for block in text.replace("\r\n", "\n").split("\n\n")]
    return [block.split("\n") for block in blocks if block.strip()]


def reply_mail(kit: MailKit, target: ReplyTarget, *, text: str) -> Mail:
    """The e-mail that carries the agent's `text` to the customer."""
    rendered = kit.templates.render(
        "reply", language=target.language, for_team=target.team.team_name, team=target.team.display_name,
        alert_key=target.alert_key, body=text.strip(), paragraphs=paragraphs(text.strip()),
        unsubscribe_url=None,
    )
    return Mail(purpose="reply", to=target.address, sender=target.team.sender,
                reply_to=target.team.reply_to, subject=rendered.subject, text=rendered.text,
                html=rendered.html, language=target.language, alert_key=target.alert_key or None)
