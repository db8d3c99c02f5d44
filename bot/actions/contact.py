"""The Reply and Log a call actions (issue 14, part 3): their forms, the prefilled draft, the e-mail
a reply sends, and their plans (bot/alerts/contact.py). bot/actions/table.py routes them.

Reply reads more than a click does: the customer's address and language and the team's e-mail
settings, so its route has a `compose` step (the e-mail, read in the action's session before the
plan runs) and a `prefill` step (the form with the draft, for `precheck`). Both refuse, with what to do
instead, when no e-mail can go: e-mail not set up, no address, or an address that takes no mail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.action_ids import Arg
from bot.actions.forms import Form, FormField
from bot.alerts.contact import Contact, guard_contact, plan_contact
from bot.alerts.lifecycle import Actor, Plan, Refused
from bot.alerts.writer import Change
from bot.mail.address import masked
from bot.mail.kit import MailKit
from bot.mail.message import Mail, email_row
from bot.mail.reply import REPLY_MAX, reply_draft, reply_mail, reply_target
from storage.models import Alert

CALL_NOTE_MAX = 1000
THREAD_TEXT_MAX = 2000
NO_MAIL = "E-mail is not set up (HOTLOOP_SMTP_URL): call the customer and log the call"

REPLY_FORM = Form("Reply", "Send", style="primary", fields=(
    FormField(Arg.MESSAGE, "Message", required=True, multiline=True, max_length=REPLY_MAX,
              prompt="Write your reply", hint="E-mailed to the customer, and posted in the thread"),
))
# kept small: every form is in each Teams card, which must stay under Teams' size limit
LOG_CALL_FORM = Form("Log a call", "Log call", fields=(
    FormField(Arg.NOTE, "Note", multiline=True, max_length=CALL_NOTE_MAX, placeholder="What was said"),
))


def prefilled(form: Form, values: Mapping[str, str]) -> Form:
    """`form` with fields starting from `values` (by field id)."""
    fields = tuple(replace(f, initial=values[f.id]) if f.id in values else f for f in form.fields)
    return replace(form, fields=fields)


async def reply_form(session: AsyncSession, alert: Alert, actor: Actor, kit: MailKit | None) -> Form:
    """The Reply form with its draft for this customer, signed by `actor`; `Refused` if no mail can go."""
    if kit is None:
        raise Refused(NO_MAIL)
    target = await reply_target(session, kit, alert)
    return prefilled(REPLY_FORM, {Arg.MESSAGE: reply_draft(kit, target, agent_name=actor.name)})


async def compose_reply(
    session: AsyncSession, alert: Alert, inputs: Mapping[str, str], kit: MailKit | None
) -> Mail:
    """The e-mail carrying the submitted text to the customer."""
    if kit is None:
        raise Refused(NO_MAIL)
    target = await reply_target(session, kit, alert)
    return reply_mail(kit, target, text=inputs[Arg.MESSAGE])


def plan_reply(actor: Actor, now: datetime, text: str, mail: Mail | None) -> Plan:
    """The contact by e-mail: the `email.send` row, and the text as a thread line."""
    def plan(alert: Alert) -> Change:
        guard_contact(alert, actor)  # first, as every plan: its refusal is the one precheck showed
        if mail is None:
            raise Refused(NO_MAIL)
        shown = masked(mail.to)
        contact = Contact(
            channel="email",
            line=f"{actor.name} replied by e-mail to {shown}:\n{text.strip()[:THREAD_TEXT_MAX]}",
            message=f"Your reply to {shown} is on its way",
            data={"language": mail.language, "characters": len(text.strip())},
            outbox=lambda alert_id: [email_row(mail, alert_id=alert_id, now=now)],
        )
        return plan_contact(actor, now, contact)(alert)

    return plan


def plan_log_call(actor: Actor, now: datetime, note: str | None) -> Plan:
    note = (note or "").strip()[:CALL_NOTE_MAX] or None
    contact = Contact(
        channel="phone",
        line=f"{actor.name} called the customer" + (f": {note}" if note else ""),
        message="Call logged",
        data={"note": note} if note else {},
    )
    return plan_contact(actor, now, contact)
