"""SMTP through aiosmtplib: `HOTLOOP_SMTP_URL` → one connection per message (at most a few at once).

    smtp://[user[:password]@]host[:port][?starttls=auto|require|off]   port 587 by default; STARTTLS when
                                                                         the server offers it (auto)
    smtps://[user[:password]@]host[:port]                               TLS from the first byte, port 465

User and password may instead come from HOTLOOP_SMTP_USER / HOTLOOP_SMTP_PASSWORD (percent-encode them in
the URL). A whole send — waiting for a connection slot, connect, STARTTLS, AUTH, MAIL, RCPT, DATA — has one
deadline (HOTLOOP_SMTP_TIMEOUT_SECONDS), under the outbox lease, so no other worker takes the row while
it is in flight. What the server says is sorted for the outbox (`classify`): 4xx, timeouts and broken
connections are worth another try; 5xx is final. Nothing that leaves this module quotes an address.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from bot.mail.address import scrub
from bot.mail.port import MailError
from bot.settings import Settings

STARTTLS_MODES = ("auto", "require", "off")
MAX_CONNECTIONS = 4
QUIT_SECONDS = 2.0


class MailConfigError(ValueError):
    """HOTLOOP_SMTP_URL cannot be used (the message never quotes the URL: it may hold a password)."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    implicit_tls: bool
    starttls: str = "auto"
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_smtp_url(url: str, *, user: str = "", password: str = "") -> SmtpServer:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise MailConfigError("HOTLOOP_SMTP_URL must start with smtp:// or smtps://")
    try:
        port = parts.port
    except ValueError:
        raise MailConfigError("HOTLOOP_SMTP_URL has a port that is not a number") from None
    if not parts.hostname:
        raise MailConfigError("HOTLOOP_SMTP_URL names no host (smtp://host:587)")
    starttls = parse_qs(parts.query).get("starttls", ["auto"])[-1].lower()
    if starttls not in STARTTLS_MODES or (scheme == "smtps" and starttls == "require"):
        raise MailConfigError("HOTLOOP_SMTP_URL: starttls must be auto, require or off (smtp:// only)")
    return SmtpServer(
        host=parts.hostname,
        port=port or (465 if scheme == "smtps" else 587),
        implicit_tls=scheme == "smtps",
        starttls="off" if scheme == "smtps" else starttls,
        username=unquote(parts.username) if parts.username else (user or None),
        password=unquote(parts.password) if parts.password is not None else (password or None),
    )


def _reply(code: int, message: str) -> str:
    return scrub(" ".join(f"{code} {message}".split()))[:300]


def classify(error: BaseException) -> MailError:
    """What a failed send means for the outbox row."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        error = error.recipients[0]
    if isinstance(error, aiosmtplib.SMTPRecipientRefused):
        return MailError(f"recipient refused: {_reply(error.code, error.message)}",
                         permanent=error.code >= 500, recipient_refused=True)
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        return MailError(f"SMTP login refused ({error.code}): check HOTLOOP_SMTP_USER/HOTLOOP_SMTP_PASSWORD",
                         permanent=error.code >= 500)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        reply = _reply(error.code, error.message)
        return MailError(f"SMTP server answered {reply}", permanent=error.code >= 500)
    if isinstance(error, TimeoutError):  # aiosmtplib's own timeouts are TimeoutErrors too
        return MailError("the SMTP server did not answer in time", permanent=False)
    # ?starttls=require and no STARTTLS offered (aiosmtplib raises the base class for it), or no AUTH
    if isinstance(error, aiosmtplib.SMTPNotSupported) or (
        type(error) is aiosmtplib.SMTPException and "STARTTLS" in str(error)
    ):
        return MailError(f"SMTP server lacks a needed feature: {scrub(str(error))[:200]}", permanent=True)
    if isinstance(error, aiosmtplib.SMTPException | OSError):  # ssl.SSLError is an OSError
        return MailError(f"SMTP connection failed: {type(error).__name__}", permanent=False)
    return MailError(f"e-mail could not be sent: {type(error).__name__}", permanent=True)


class SmtpMailer:
    """The `Mailer` port over SMTP."""

    def __init__(
        self,
        server: SmtpServer,
        *,
        timeout: float = 20.0,
        local_hostname: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.server = server
        self.timeout = timeout
        self.local_hostname = local_hostname or socket.gethostname() or "localhost"  # no DNS lookup
        self.tls_context = tls_context
        self._slots = asyncio.Semaphore(max_connections)

    def _client(self) -> aiosmtplib.SMTP:
        server = self.server
        start_tls = {"auto": None, "require": True, "off": False}[server.starttls]
        return aiosmtplib.SMTP(
            hostname=server.host, port=server.port, use_tls=server.implicit_tls, start_tls=start_tls,
            username=server.username, password=server.password, timeout=self.timeout,
            local_hostname=self.local_hostname, tls_context=self.tls_context,
        )

    async def send(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        deadline = asyncio.get_running_loop().time() + self.timeout
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError:
            raise MailError("every SMTP connection stayed busy", permanent=False) from None
        client = self._client()
        try:
            async with asyncio.timeout_at(deadline):
                await client.connect()
                await client.send_message(message, sender=sender, recipients=[recipient])
        except Exception as error:  # sorted into retry or failed; never an address in the reason
            raise classify(error) from None
        finally:
            await self._close(client)  # after the deadline: a slow QUIT must not undo a sent message
            self._slots.release()

    async def _close(self, client: aiosmtplib.SMTP) -> None:
        if not client.is_connected:
            return
        try:
            async with asyncio.timeout(QUIT_SECONDS):
                await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()

    async def aclose(self) -> None:
        return None  # no connection outlives a send


def build_mailer(settings: Settings, *, tls_context: ssl.SSLContext | None = None) -> SmtpMailer | None:
    """The SMTP mailer HOTLOOP_SMTP_URL describes; None when it is not set (no e-mail is sent)."""
    if not settings.mail_enabled:
        return None
    server = parse_smtp_url(settings.smtp_url.get_secret_value(), user=settings.smtp_user,
                            password=settings.smtp_password.get_secret_value())
    public_host = urlsplit(settings.public_url).hostname if settings.public_url else None
    return SmtpMailer(server, timeout=settings.smtp_timeout_seconds, local_hostname=public_host,
                      tls_context=tls_context)
