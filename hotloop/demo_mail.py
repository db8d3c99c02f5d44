"""The customer's side of `hotloop demo`: an in-process SMTP sink stands in for the mail server, so the
acknowledgement and the "did we fix it?" e-mails really go out over SMTP and are printed as received; the
customer then answers "no" on the real `/f/` page and the alert reopens.

The sink is a few lines of asyncio (RFC 5321's plain commands, no TLS, no AUTH) so the demo needs nothing
beyond hotloop's own dependencies; the tests use aiosmtpd, a complete server.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx

SWEEP_SECONDS = 0.5
MAIL_WAIT_SECONDS = 10.0
DANA = "dana@example.com"
_NO_LINK = re.compile(r"\S*/f/\S+\?resolved=no")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class DemoError(RuntimeError):
    """The demo could not run (e.g. its port is taken, or an e-mail never arrived)."""


@dataclass
class SmtpSink:
    """Accepts every message on 127.0.0.1 and keeps it (`received`) in order."""

    received: list[EmailMessage] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> SmtpSink:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        say("220 hotloop-demo-sink ESMTP")
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            while line := await reader.readline():
                verb = line[:4].decode(errors="replace").upper()
                if verb == "EHLO":
                    say("250-hotloop-demo-sink\r\n250-8BITMIME\r\n250 SMTPUTF8")
                elif verb == "DATA":
                    say("354 end with <CRLF>.<CRLF>")
                    await writer.drain()
                    self.received.append(await _read_data(reader))
                    say("250 OK: queued")
                elif verb == "QUIT":
                    say("221 bye")
                    break
                else:  # HELO, MAIL, RCPT, RSET, NOOP: all fine for a sink
                    say("250 OK")
                await writer.drain()
        writer.close()


async def _read_data(reader: asyncio.StreamReader) -> EmailMessage:
    lines: list[bytes] = []
    while (line := await reader.readline()) not in (b".\r\n", b".\n", b""):
        lines.append(line[1:] if line.startswith(b"..") else line)  # undo dot-stuffing
    message = message_from_bytes(b"".join(lines), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def mail_settings(sink: SmtpSink, *, public_url: str) -> dict[str, Any]:
    """The demo's e-mail settings: the sink, no delays (a real setup waits 10 minutes and 2 days), and
    the worker's mail sweeps every half second, so the demo sees the real path without waiting long."""
    return {"smtp_url": f"smtp://127.0.0.1:{sink.port}", "mail_from": "Acme Support <support@acme.example>",
            "ack_delay": "0s", "follow_up_delay": "0s", "public_url": public_url,
            "mail_sweep_seconds": SWEEP_SECONDS}


async def received(sink: SmtpSink, wanted: Callable[[EmailMessage], bool],
                   timeout: float = MAIL_WAIT_SECONDS) -> EmailMessage | None:  # noqa: ASYNC109
    """The first message at the sink that is `wanted`, once the worker has sent it (None: not in time)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if found := next((m for m in sink.received if wanted(m)), None):
            return found
        await asyncio.sleep(0.05)
    return None


def _to(address: str, *, follow_up: bool) -> Callable[[EmailMessage], bool]:
    def wanted(message: EmailMessage) -> bool:
        body = message.get_body(preferencelist=("plain",))
        links = body is not None and "/f/" in str(body.get_content())
        return str(message["To"]) == address and links == follow_up

    return wanted


def show_mail(message: EmailMessage, echo: Callable[[str], None]) -> str:
    """Print the headers a reader sees and the plain-text part; → that text."""
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    echo(f"  From: {message['From']}\n  To: {message['To']}\n  Subject: {message['Subject']}")
    echo(f"  List-Unsubscribe: {message['List-Unsubscribe']}")
    echo("  " + "\n  ".join(text.strip().splitlines()))
    return str(text)


async def acknowledge(workers: Any, sink: SmtpSink, echo: Callable[[str], None]) -> None:
    """The worker's acknowledgement sweep e-mails the customers who asked to be contacted."""
    ack = await received(sink, _to(DANA, follow_up=False))
    await workers.delivery.drain(timeout=10)  # the "Acknowledged to d•••@example.com" thread lines
    if ack is None:
        raise DemoError("the acknowledgement e-mail did not reach the demo's mail sink")
    echo(f"\nAcknowledgements e-mailed so far (via SMTP, to the demo's mail sink): {len(sink.received)}")
    echo("What Dana received:")
    show_mail(ack, echo)


async def follow_up(workers: Any, sink: SmtpSink, echo: Callable[[str], None]) -> None:
    """The follow-up e-mail after resolving, the customer's "no" on the /f/ page, the alert reopening."""
    asked = await received(sink, _to(DANA, follow_up=True))
    if asked is None:
        raise DemoError("the follow-up e-mail did not reach the demo's mail sink")
    echo("\n\"Did we fix it?\" — the follow-up e-mail Dana received:")
    found = _NO_LINK.search(show_mail(asked, echo))
    if found is None:
        raise DemoError("the follow-up e-mail carries no /f/ link")
    await _answer_no(found.group(0), echo)
    await workers.delivery.drain(timeout=10)


async def _answer_no(link: str, echo: Callable[[str], None]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        page = await client.get(link)
        csrf = _CSRF.search(page.text)
        echo(f"\nDana clicks \"No\": GET {httpx.URL(link).path}?resolved=no → {page.status_code}")
        form = {"resolved": "no", "score": "3", "comment": "Nobody called me back about the refund.",
                "csrf": csrf.group(1) if csrf else ""}
        answer = await client.post(str(httpx.URL(link).copy_with(query=None)), data=form)
        echo(f"Dana answers no, score 3, \"{form['comment']}\": POST → {answer.status_code}")
