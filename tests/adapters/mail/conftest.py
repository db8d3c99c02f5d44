"""The mail tests' SMTP server: a real one on loopback (tests/adapters/mail/smtpd.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.adapters.mail.smtpd import SmtpSink, smtp_server


@pytest.fixture
def smtpd() -> Iterator[SmtpSink]:
    with smtp_server() as sink:
        yield sink
