"""Contact with the customer (issue 14): a reply by e-mail from the card, or a phone call logged.

Each is a `contacted` event (data: the channel, "email" or "phone", never the address or number) through
the one writer like any click. The first contact sets `alert.first_contact_at` (time to first contact, a
figure of its own; a waiting acknowledgement is then skipped); later ones leave it. A reply's e-mail is
an `email.send` outbox row written in the same transaction: it goes out only if the contact commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.alerts.lifecycle import Actor, Plan, guard_active
from bot.alerts.writer import AlertValues, Change
from bot.config.snapshot import ConfigSnapshot
from storage.models import Alert


def guard_contact(alert: Alert, actor: Actor, config: ConfigSnapshot | None = None) -> None:
    """Anyone who can see the card may contact the customer while the alert is active."""
    guard_active(alert, actor, config)


@dataclass(frozen=True)
class Contact:
    """One contact with the customer: how ("email" | "phone"), the thread line, and what it sends."""

    channel: str
    line: str  # the thread line, without the time
    message: str  # the answer to whoever acted
    data: dict[str, Any]  # more event data; never the customer's address or number
    outbox: Callable[[int], list[dict[str, Any]]] | None = None  # by alert id: the e-mail to send


def plan_contact(actor: Actor, now: datetime, contact: Contact) -> Plan:
    """A `contacted` event; the first one sets `first_contact_at`, later ones leave it as it is."""
    def plan(alert: Alert) -> Change:
        guard_contact(alert, actor)
        assert alert.id is not None
        first = alert.first_contact_at is None
        values: AlertValues = {"first_contact_at": now} if first else {}
        data: dict[str, Any] = {"channel": contact.channel, "first": first, **contact.data}
        if first:
            data["after_seconds"] = max(0, int((now - alert.created_at).total_seconds()))
        rows = contact.outbox(alert.id) if contact.outbox is not None else []
        return Change(values, "contacted", contact.message, f"{contact.line} · {now:%H:%M} UTC",
                      event_data=data, outbox=rows)

    return plan
