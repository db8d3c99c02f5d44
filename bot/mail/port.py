"""The e-mail port beside `Chat`: send one message, or say why not and whether trying again can help.
adapters/mail/smtp.py implements it over SMTP; tests run it against a real SMTP server on loopback."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class MailError(Exception):
    """A send that did not happen. `permanent`: the server refused it for good (5xx), trying again is
    useless; otherwise (4xx, timeout, connection) it is retried with backoff. `recipient_refused`: the
    refusal was about the recipient (a hard bounce when permanent). `reason` never holds an address."""

    def __init__(self, reason: str, *, permanent: bool, recipient_refused: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.recipient_refused = recipient_refused


class Mailer(Protocol):
    async def send(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        """Hand `message` to the mail server for `recipient` (envelope `sender`); MailError if not."""
        ...

    async def aclose(self) -> None: ...
