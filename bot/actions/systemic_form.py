"""The Resolve form's systemic part: a systemic case asks whether to resolve its open children too
(checked by default); every other alert's form has no such box. Lives with the forms so that
bot/systemic never imports bot/actions (the table imports the systemic resolve, not the reverse).
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from bot.action_ids import Arg
from bot.actions.forms import TRUE, FieldKind, Form, FormField
from bot.alerts.lifecycle import Actor
from bot.mail.kit import MailKit
from storage.models import Alert
from storage.queries import systemic as systemic_queries


def children_field(count: int | None) -> FormField:
    """The form's "Also resolve its N open alerts" box (N unknown in a form shared by every card)."""
    what = f"its {count} open alert{'s' if count != 1 else ''}" if count is not None else "its open alerts"
    return FormField(Arg.CHILDREN, "Children", FieldKind.BOOLEAN, placeholder=f"Also resolve {what}",
                     hint="Systemic issues only: each alert gets the same outcome and root cause",
                     initial=TRUE if count else None)


def resolve_form_with(base: Form, open_children: int) -> Form:
    """`base` with the children box for a case with `open_children` open alerts (checked), without it
    when there are none (every alert that is no systemic case). Pure: Teams builds its card's Resolve
    form from the card's own children (adapters/teams/card_actions.py), Slack from the database."""
    others = tuple(f for f in base.fields if f.id != Arg.CHILDREN)
    if open_children <= 0:
        return replace(base, fields=others)
    return replace(base, fields=(*others, children_field(open_children)))


async def resolve_form_for(session: AsyncSession, alert: Alert, base: Form) -> Form:
    """The Resolve form for this alert: a systemic case asks about its open children (checked), any
    other alert has no such box."""
    if alert.kind != "systemic" or alert.id is None:
        return resolve_form_with(base, 0)
    count = await systemic_queries.open_children_count(session, parent_alert_id=alert.id)
    return resolve_form_with(base, count)


async def resolve_form_prefill(session: AsyncSession, alert: Alert, actor: Actor, mail: MailKit | None,
                               *, base: Form) -> Form:
    """`Route.prefill`'s shape (bot/actions/table.py)."""
    return await resolve_form_for(session, alert, base)
