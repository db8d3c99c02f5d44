"""The demo's in-process SMTP sink (hotloop/demo_mail.py) speaks enough SMTP for the real client."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from hotloop.demo_mail import SmtpSink, received


async def test_the_sink_receives_what_aiosmtplib_sends_dot_stuffing_undone() -> None:
    sink = await SmtpSink().start()
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@acme.test", "dana@example.com", "Hi"
        message.set_content("line one\n.a line starting with a dot\nDana")
        await aiosmtplib.send(message, hostname="127.0.0.1", port=sink.port, start_tls=False, timeout=5)
        got = await received(sink, lambda m: m["To"] == "dana@example.com", timeout=2)
        assert got is not None and got["Subject"] == "Hi"
        assert got.get_content().splitlines() == ["line one", ".a line starting with a dot", "Dana"]
        assert await received(sink, lambda m: m["To"] == "fox@example.com", timeout=0.2) is None
    finally:
        await sink.close()
