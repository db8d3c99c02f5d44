"""Addresses, signed links, templates and the MIME message: the pure parts of customer e-mail."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from bot.mail.address import address_hash, masked, scrub, usable_address
from bot.mail.language import format_when, pick_language
from bot.mail.links import LinkSigner
from bot.mail.message import EMAIL_KIND, Mail, email_row, message_id, mime
from bot.mail.render import MailTemplates

WHEN = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)
VARIABLES = {"team": "Acme Support", "first_name": "Dana", "alert_key": "HA-1042",
             "unsubscribe_url": "https://hotloop.test/u/tok", "respond_by": "Tuesday"}


def test_only_one_plain_address_is_usable() -> None:
    assert usable_address("  dana.scully+fb@example.com ") == "dana.scully+fb@example.com"
    for bad in (None, "", "dana", "dana@localhost", "a@b.c\r\nBcc: evil@x.test", "a@b.test, c@d.test",
                "Dana <dana@example.com>", "dana@exa mple.com", "x" * 250 + "@example.com",
                "dänä@example.com"):
        assert usable_address(bad) is None, bad


def test_hash_mask_and_scrub() -> None:
    assert address_hash("Dana@Example.COM ") == address_hash("dana@example.com")
    assert address_hash("dana@example.com") != address_hash("fox@example.com")
    assert len(address_hash("dana@example.com")) == 64
    assert masked("dana@example.com") == "d•••@example.com"
    assert scrub("550 5.1.1 <dana@example.com>: unknown") == "550 5.1.1 <[address]>: unknown"


def test_unsubscribe_tokens_are_signed() -> None:
    signer = LinkSigner(b"k" * 32)
    hashed = address_hash("dana@example.com")
    token = signer.unsubscribe_token(address_hash=hashed, language="de")
    claim = signer.read_unsubscribe(token)
    assert claim is not None and (claim.address_hash, claim.language) == (hashed, "de")
    assert LinkSigner(b"o" * 32).read_unsubscribe(token) is None  # another server's key
    forged = token.replace(".de.", ".fr.")
    assert signer.read_unsubscribe(forged) is None
    assert signer.read_unsubscribe(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    for junk in ("", "u1", token + "x", "../../etc/passwd", "u1.de." + "A" * 43 + "." + "B" * 22):
        assert signer.read_unsubscribe(junk) is None


@pytest.mark.parametrize(("language", "subject", "phrase"), [
    ("en", "We received your feedback", "will get back to you by"),
    ("de", "Wir haben Ihr Feedback erhalten", "meldet sich bei Ihnen bis"),
    ("fr", "Nous avons bien reçu votre avis", "reviendra vers vous d'ici le"),
    ("es", "Hemos recibido sus comentarios", "se pondrá en contacto con usted antes del"),
])
def test_every_language_has_the_three_parts(language: str, subject: str, phrase: str) -> None:
    rendered = MailTemplates().render("ack", language=language, **VARIABLES)
    assert rendered.subject == subject
    for part in (rendered.text, rendered.html):
        assert phrase in part and "Acme Support" in part and "HA-1042" in part
        assert "https://hotloop.test/u/tok" in part


def test_customer_text_is_escaped_in_html_only() -> None:
    hostile = {**VARIABLES, "first_name": "<script>alert(1)</script>", "team": "R&D <b>"}
    rendered = MailTemplates().render("ack", language="en", **hostile)
    assert "<script>" not in rendered.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "R&amp;D &lt;b&gt;" in rendered.html
    assert "Hello <script>alert(1)</script>," in rendered.text  # plain text: nothing to interpret


def test_no_deadline_and_no_unsubscribe_link() -> None:
    rendered = MailTemplates().render("ack", language="en", **{**VARIABLES, "respond_by": None,
                                                                "unsubscribe_url": None, "first_name": None})
    assert "as soon as possible" in rendered.text and "Unsubscribe" not in rendered.text
    assert "Unsubscribe" not in rendered.html and rendered.text.startswith("Hello,")


def test_a_missing_variable_fails_instead_of_sending_a_gap() -> None:
    with pytest.raises(UndefinedError):
        MailTemplates().render("ack", language="en", team="Acme")


def test_a_team_folder_and_a_language_folder_override_the_built_ins(tmp_path: Path) -> None:
    (tmp_path / "night-shift" / "de").mkdir(parents=True)
    (tmp_path / "night-shift" / "de" / "ack.subject.j2").write_text("Nachtschicht: {{ alert_key }}")
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "ack.subject.j2").write_text("Merci !")
    templates = MailTemplates(str(tmp_path))
    def subject(language: str, team: str) -> str:
        return templates.render("ack", language=language, for_team=team, **VARIABLES).subject

    assert subject("de", "Night Shift") == "Nachtschicht: HA-1042"
    assert subject("de", "day") == "Wir haben Ihr Feedback erhalten"
    assert subject("fr", "Night Shift") == "Merci !"


def test_the_language_comes_from_the_response_then_the_source_then_the_team() -> None:
    assert pick_language(attributes={"language": "de-DE"}, source_mapping={}, team_language="fr") == "de"
    assert pick_language(attributes={"userLanguage": "ES"}, source_mapping={}, team_language=None) == "es"
    assert pick_language(attributes={"language": "default"}, source_mapping={"language": "fr"},
                         team_language="de") == "fr"
    assert pick_language(attributes={"locale": "pt_BR"}, source_mapping={}, team_language="de") == "de"
    assert pick_language(attributes={}, source_mapping={}, team_language=None) == "en"


def test_deadlines_read_in_the_language_and_the_team_zone() -> None:
    berlin = "Europe/Berlin"
    assert format_when(WHEN, language="en", timezone=berlin) == "Tuesday 24 November, 14:30 (CET)"
    assert format_when(WHEN, language="de", timezone=berlin) == "Dienstag, 24. November, 14:30 Uhr (CET)"
    assert format_when(WHEN, language="fr", timezone="UTC") == "mardi 24 novembre à 13 h 30 (UTC)"
    assert format_when(WHEN, language="es", timezone="No/Zone") == "martes 24 de noviembre a las 13:30 (UTC)"


def _mail(**changes: object) -> Mail:
    values: dict[str, object] = dict(
        purpose="ack", to="dana@example.com", sender="Acme Support <support@acme.test>",
        reply_to="care@acme.test", subject="We received\r\nBcc: evil@x.test your feedback", text="plain body",
        html="<p>html body</p>", language="de", unsubscribe_url="https://hotloop.test/u/tok",
        alert_key="HA-1042",
    )
    values.update(changes)
    return Mail(**values)  # type: ignore[arg-type]


def test_the_mime_message() -> None:
    mid = message_id(row_id=7, created_at=WHEN, sender="Acme <support@acme.test>", key=b"k")
    raw = mime(_mail(), message_id=mid, now=WHEN).as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["From"] == "Acme Support <support@acme.test>" and parsed["Reply-To"] == "care@acme.test"
    assert parsed["Subject"] == "We received Bcc: evil@x.test your feedback"  # one line: no injected header
    assert parsed["Bcc"] is None
    assert parsed["List-Unsubscribe"] == "<https://hotloop.test/u/tok>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Message-ID"] == mid and parsed["Content-Language"] == "de"
    assert parsed["Auto-Submitted"] == "auto-generated" and parsed["X-Hotloop-Alert"] == "HA-1042"
    assert [p.get_content_type() for p in parsed.walk()] == [
        "multipart/alternative", "text/plain", "text/html"
    ]
    assert parsed.get_body(("plain",)).get_content().strip() == "plain body"  # type: ignore[union-attr]
    assert parsed.get_body(("html",)).get_content().strip() == "<p>html body</p>"  # type: ignore[union-attr]
    plain = mime(_mail(unsubscribe_url=None, reply_to=None), message_id=mid, now=WHEN)
    bare = message_from_bytes(plain.as_bytes(), policy=policy.default)
    assert bare["List-Unsubscribe"] is None and bare["List-Unsubscribe-Post"] is None
    assert bare["Reply-To"] is None


def test_the_message_id_is_the_rows_own() -> None:
    first = message_id(row_id=7, created_at=WHEN, sender="support@acme.test", key=b"k")
    assert first == message_id(row_id=7, created_at=WHEN, sender="support@acme.test", key=b"k")  # a retry
    assert first != message_id(row_id=8, created_at=WHEN, sender="support@acme.test", key=b"k")
    assert first != message_id(row_id=7, created_at=WHEN, sender="support@acme.test", key=b"other")
    assert first.startswith("<7.") and first.endswith("@acme.test>")


def test_the_outbox_row_names_no_address() -> None:
    row = email_row(_mail(), alert_id=3, now=WHEN)
    assert row["kind"] == EMAIL_KIND and row["platform"] == "email" and row["status"] == "pending"
    assert "dana" not in row["destination"] and row["destination"].startswith("to:")
    assert Mail.from_payload(row["payload"]) == _mail()
    with pytest.raises((KeyError, TypeError)):
        Mail.from_payload({"purpose": "ack"})
