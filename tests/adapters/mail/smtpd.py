"""A real SMTP server on loopback (aiosmtpd's Controller, in its own thread and event loop) whose replies a
test scripts: refuse a recipient, answer DATA with a 4xx once, stall, ask for STARTTLS or AUTH."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.appserver import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    raw: bytes
    tls: bool

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class ScriptedHandler:
    """`data_replies`: what the next DATA commands answer instead of accepting ("451 …"), or
    ("stall", seconds): take the message, then wait that long before saying so (the reply that the
    client gives up on: the message is delivered, the client cannot know)."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: deque[Any] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # the DATA replies given instead of 250

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        reply = self.data_replies.popleft() if self.data_replies else None
        if reply is not None and not isinstance(reply, tuple):
            self.refused.append(reply)
            return str(reply)
        raw = envelope.original_content or b""
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), raw,
                                      tls=session.ssl is not None))
        if isinstance(reply, tuple):  # the message is taken, the answer never comes in time
            await asyncio.sleep(reply[1])
        return "250 2.0.0 Message accepted"


@dataclass
class SmtpSink:
    handler: ScriptedHandler
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    async def wait_for(self, count: int, *, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.handler.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.handler.received)} of {count} e-mails arrived")
            await asyncio.sleep(0.05)
        return list(self.handler.received)


def _check_login(users: dict[str, str]) -> Any:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword) and users.get(data.login.decode()) == data.password.decode():
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    return authenticate


@contextmanager
def smtp_server(
    *, tls: ssl.SSLContext | None = None, require_starttls: bool = False, users: dict[str, str] | None = None,
) -> Iterator[SmtpSink]:
    handler = ScriptedHandler()
    kwargs: dict[str, Any] = {"tls_context": tls, "require_starttls": require_starttls}
    if users is not None:
        kwargs.update(authenticator=_check_login(users), auth_require_tls=False, auth_required=True)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="smtp.test", **kwargs)
    controller.start()
    try:
        yield SmtpSink(handler, "127.0.0.1", port)
    finally:
        controller.stop()


def self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context that trusts only that server's certificate), for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client
