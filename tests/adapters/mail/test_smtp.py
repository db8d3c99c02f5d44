"""The SMTP transport against a real SMTP server on loopback: what each reply means for the outbox
(4xx and timeouts → retry, 5xx → failed, a refused recipient flagged), STARTTLS, AUTH, and the URL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from adapters.mail.smtp import MailConfigError, SmtpMailer, build_mailer, parse_smtp_url
from bot.mail.port import MailError
from bot.settings import build_settings
from tests.adapters.mail.smtpd import SmtpSink, self_signed, smtp_server
from tests.appserver import TEST_SECRET_KEY, free_port

TO = "dana.scully@example.com"


def message(subject: str = "Hello") -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "Support <support@acme.test>", TO, subject
    mail.set_content("plain")
    mail.add_alternative("<p>html</p>", subtype="html")
    return mail


def mailer_for(sink: SmtpSink, *, query: str = "", timeout: float = 5.0, **kwargs: object) -> SmtpMailer:
    return SmtpMailer(parse_smtp_url(sink.url + query), timeout=timeout, local_hostname="hotloop.test",
                      **kwargs)  # type: ignore[arg-type]


async def test_a_message_reaches_the_server_with_both_parts(smtpd: SmtpSink) -> None:
    await mailer_for(smtpd).send(message(), sender="support@acme.test", recipient=TO)
    (got,) = await smtpd.wait_for(1)
    assert got.sender == "support@acme.test" and got.recipients == [TO]
    parts = [p.get_content_type() for p in got.message.walk()]
    assert parts == ["multipart/alternative", "text/plain", "text/html"]


async def test_a_4xx_is_worth_another_try_and_the_next_attempt_goes_through(smtpd: SmtpSink) -> None:
    smtpd.handler.data_replies.append("451 4.3.0 try later")
    mailer = mailer_for(smtpd)
    with pytest.raises(MailError) as refused:
        await mailer.send(message(), sender="support@acme.test", recipient=TO)
    assert not refused.value.permanent and "451" in refused.value.reason
    await mailer.send(message(), sender="support@acme.test", recipient=TO)
    assert len(await smtpd.wait_for(1)) == 1


async def test_a_5xx_for_the_recipient_is_final_names_the_recipient_and_quotes_no_address(
    smtpd: SmtpSink,
) -> None:
    smtpd.handler.rcpt_replies[TO] = f"550 5.1.1 <{TO}>: no such user"
    with pytest.raises(MailError) as refused:
        await mailer_for(smtpd).send(message(), sender="support@acme.test", recipient=TO)
    error = refused.value
    assert error.permanent and error.recipient_refused
    assert "550" in error.reason and "no such user" in error.reason
    assert TO not in error.reason and "scully" not in error.reason
    assert smtpd.handler.received == []


async def test_a_5xx_for_the_content_is_final_but_no_bounce(smtpd: SmtpSink) -> None:
    smtpd.handler.data_replies.append("554 5.7.1 message refused")
    with pytest.raises(MailError) as refused:
        await mailer_for(smtpd).send(message(), sender="support@acme.test", recipient=TO)
    assert refused.value.permanent and not refused.value.recipient_refused


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never says a word (a stalled mail server)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()


async def test_a_server_that_stalls_is_a_timeout_to_retry_within_the_deadline(silent_server: int) -> None:
    mailer = SmtpMailer(parse_smtp_url(f"smtp://127.0.0.1:{silent_server}"), timeout=0.5)
    started = time.monotonic()
    with pytest.raises(MailError) as refused:
        await mailer.send(message(), sender="support@acme.test", recipient=TO)
    assert not refused.value.permanent and "in time" in refused.value.reason
    assert time.monotonic() - started < 3


async def test_a_refused_connection_is_retried() -> None:
    mailer = SmtpMailer(parse_smtp_url(f"smtp://127.0.0.1:{free_port()}"), timeout=2)
    with pytest.raises(MailError) as refused:
        await mailer.send(message(), sender="support@acme.test", recipient=TO)
    assert not refused.value.permanent


async def test_starttls_is_used_when_the_server_offers_it(tmp_path: Path) -> None:
    server_tls, client_tls = self_signed(tmp_path)
    with smtp_server(tls=server_tls, require_starttls=True) as sink:
        mailer = mailer_for(sink, tls_context=client_tls)
        await mailer.send(message(), sender="support@acme.test", recipient=TO)
        (got,) = await sink.wait_for(1)
    assert got.tls


async def test_starttls_required_but_not_offered_is_a_final_failure(smtpd: SmtpSink) -> None:
    with pytest.raises(MailError) as refused:
        await mailer_for(smtpd, query="?starttls=require").send(message(), sender="s@acme.test", recipient=TO)
    assert refused.value.permanent and smtpd.handler.received == []


async def test_login_with_credentials_from_the_url_and_a_wrong_password() -> None:
    with smtp_server(users={"hotloop@acme.test": "p@ss:w/rd"}) as sink:
        good = parse_smtp_url(f"smtp://hotloop%40acme.test:p%40ss%3Aw%2Frd@127.0.0.1:{sink.port}")
        assert good.username == "hotloop@acme.test" and good.password == "p@ss:w/rd"
        await SmtpMailer(good, timeout=5).send(message(), sender="support@acme.test", recipient=TO)
        assert len(await sink.wait_for(1)) == 1
        bad = parse_smtp_url(sink.url, user="hotloop@acme.test", password="wrong")
        with pytest.raises(MailError) as refused:
            await SmtpMailer(bad, timeout=5).send(message(), sender="support@acme.test", recipient=TO)
        reason = refused.value.reason
        assert refused.value.permanent and "535" in reason and "wrong" not in reason


def test_smtp_urls() -> None:
    plain = parse_smtp_url("smtp://mail.acme.test")
    assert (plain.port, plain.implicit_tls, plain.starttls, plain.username) == (587, False, "auto", None)
    tls = parse_smtp_url("SMTPS://u:p@mail.acme.test", user="ignored", password="ignored")
    assert (tls.port, tls.implicit_tls, tls.username, tls.password) == (465, True, "u", "p")
    env = parse_smtp_url("smtp://mail.acme.test:2525?starttls=off", user="u", password="p")
    assert (env.port, env.starttls, env.username, env.password) == (2525, "off", "u", "p")
    assert "secretpw" not in repr(parse_smtp_url("smtp://u:secretpw@h"))
    for bad in ("http://h", "smtp://", "smtp://u:secretpw@h:notaport", "smtp://h?starttls=maybe"):
        with pytest.raises(MailConfigError) as error:
            parse_smtp_url(bad)
        assert "secretpw" not in str(error.value)


def test_no_mailer_without_an_smtp_url() -> None:
    base = {"mode": "test", "secret_key": TEST_SECRET_KEY}
    assert build_mailer(build_settings(**base)) is None
    mailer = build_mailer(build_settings(**base, smtp_url="smtp://h:25", mail_from="s@acme.test",
                                         public_url="https://hotloop.acme.test"))
    assert mailer is not None and mailer.local_hostname == "hotloop.acme.test"
