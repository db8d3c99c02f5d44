"""An e-mail as the outbox carries it (`Mail`, rendered when it is decided), and the MIME message the
transport sends (`mime`): multipart text + HTML, with the headers a customer's mailbox needs.

The Message-ID comes from the outbox row (`message_id`), so every attempt at one row sends the same id.
Delivery is at least once: when an attempt ends without a definite answer (the server took the DATA but
the reply was lost, or the process died before recording it), the next attempt sends the message again
with the same Message-ID, which mailboxes that deduplicate recognise and a reader can tell apart.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from bot.mail.address import address_hash, lane_of
from bot.outbox import outbox_values

EMAIL_KIND = "email.send"
EMAIL_PLATFORM = "email"
AUTOMATIC = frozenset({"ack", "follow_up"})  # sent by hotloop on its own, not written by a person


@dataclass(frozen=True)
class Mail:
    purpose: str  # "ack" (issue 14: "reply", "follow_up" next)
    to: str
    sender: str
    reply_to: str | None
    subject: str
    text: str
    html: str
    language: str
    unsubscribe_url: str | None = None
    alert_key: str | None = None

    def payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Mail:
        """KeyError/TypeError when a field is missing or of the wrong shape."""
        values = {f.name: payload[f.name] for f in fields(cls) if f.name in payload}
        mail = cls(**values)
        if not all(isinstance(getattr(mail, n), str) for n in ("purpose", "to", "sender", "subject", "text")):
            raise TypeError("an e-mail payload field is not text")
        return mail


def email_row(mail: Mail, *, alert_id: int | None, now: datetime) -> dict[str, Any]:
    """The outbox row that sends `mail`: its own lane per recipient, named by a hash, not the address."""
    return outbox_values(kind=EMAIL_KIND, platform=EMAIL_PLATFORM, destination=lane_of(address_hash(mail.to)),
                         alert_id=alert_id, now=now, payload=mail.payload())


def domain_of(mailbox: str) -> str:
    return parseaddr(mailbox)[1].rpartition("@")[2] or "hotloop.invalid"


def message_id(*, row_id: int, created_at: datetime | None, sender: str, key: bytes) -> str:
    """The same for every attempt at one outbox row, and unguessable from the row id alone."""
    seed = f"{row_id}:{created_at.isoformat() if created_at else ''}".encode()
    digest = hmac.new(key, seed, hashlib.sha256).hexdigest()[:24]
    return f"<{row_id}.{digest}@{domain_of(sender)}>"


def _one_line(text: str) -> str:
    return " ".join(text.split())  # a header value never carries a line break


def mime(mail: Mail, *, message_id: str, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = _one_line(mail.sender)
    message["To"] = mail.to
    if mail.reply_to:
        message["Reply-To"] = _one_line(mail.reply_to)
    message["Subject"] = _one_line(mail.subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    if mail.purpose in AUTOMATIC:  # RFC 3834: auto-responders must not answer it
        message["Auto-Submitted"] = "auto-generated"
    if mail.alert_key:
        message["X-Hotloop-Alert"] = mail.alert_key
    if mail.unsubscribe_url:  # RFC 8058 one-click: a POST to the URL unsubscribes, no page visit needed
        message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    message["Content-Language"] = mail.language  # after the parts: set_content drops Content-* headers
    return message
