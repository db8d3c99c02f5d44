"""Signed links in e-mails. An unsubscribe token names the address only by its hash, with the
language of the page it opens, signed with a key derived from HOTLOOP_SECRET_KEY (`purpose_key`).
It does not expire: RFC 8058 asks that a one-click link keep working.

    u1.<lang>.<base64url of the 32-byte address hash>.<base64url of a 16-byte HMAC-SHA256>

A follow-up token ("did we fix it?", bot/mail/followup.py) names its `followup` row by a random nonce and
carries its expiry (days since the epoch); its HMAC also covers the alert id, which the token does not
show: a token is good only for the alert its row belongs to.

    f1.<lang>.<base64url of a 16-byte nonce>.<expiry day>.<base64url of a 16-byte HMAC-SHA256>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from bot.mail.language import SUPPORTED

_VERSION = "u1"
_TOKEN = re.compile(r"u1\.([a-z]{2})\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{22})")
MAX_TOKEN = 80
_FOLLOW_UP = re.compile(r"f1\.([a-z]{2})\.([A-Za-z0-9_-]{22})\.([0-9]{5,6})\.([A-Za-z0-9_-]{22})")
CSRF_SECONDS = 86400  # a page left open a day still posts


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class FollowUpClaim:
    """What a follow-up token says before its row is read: the signature is checked with `signed_for`."""

    token: str
    nonce: str
    language: str
    expires_day: int

    def expired(self, now: datetime) -> bool:
        return now.timestamp() >= self.expires_day * 86400


@dataclass(frozen=True)
class Unsubscribe:
    address_hash: str
    language: str


class LinkSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _signature(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:16])

    def unsubscribe_token(self, *, address_hash: str, language: str) -> str:
        body = f"{_VERSION}.{language}.{_b64(bytes.fromhex(address_hash))}"
        return f"{body}.{self._signature(body)}"

    def read_unsubscribe(self, token: str) -> Unsubscribe | None:
        """The claim of a token this server signed; None for anything else (forged, cut, altered)."""
        match = _TOKEN.fullmatch(token) if len(token) <= MAX_TOKEN else None
        if match is None or match.group(1) not in SUPPORTED:
            return None
        body = token.rsplit(".", 1)[0]
        if not hmac.compare_digest(self._signature(body), match.group(3)):
            return None
        try:
            return Unsubscribe(address_hash=_unb64(match.group(2)).hex(), language=match.group(1))
        except (binascii.Error, ValueError):
            return None

    def follow_up_token(self, *, nonce: str, alert_id: int, language: str, expires: datetime) -> str:
        body = f"f1.{language}.{nonce}.{int(expires.timestamp()) // 86400}"
        return f"{body}.{self._signature(f'{body}:{alert_id}')}"

    def read_follow_up(self, token: str) -> FollowUpClaim | None:
        """The shape of a follow-up token; None for anything that is not one (checked before any read)."""
        match = _FOLLOW_UP.fullmatch(token) if len(token) <= MAX_TOKEN else None
        if match is None or match.group(1) not in SUPPORTED:
            return None
        return FollowUpClaim(token=token, nonce=match.group(2), language=match.group(1),
                             expires_day=int(match.group(3)))

    def signed_for(self, claim: FollowUpClaim, *, alert_id: int) -> bool:
        body, signature = claim.token.rsplit(".", 1)
        return hmac.compare_digest(self._signature(f"{body}:{alert_id}"), signature)

    def csrf_value(self, token: str, *, now: datetime) -> str:
        """The form's hidden field: bound to this follow-up token and to when the page was shown."""
        issued = int(now.timestamp())
        return f"{issued}.{self._signature(f'csrf:{token}:{issued}')}"

    def csrf_ok(self, token: str, value: str, *, now: datetime) -> bool:
        issued, _, signature = value.partition(".")
        if not issued.isdigit() or len(issued) > 12:
            return False
        if not 0 <= now.timestamp() - int(issued) <= CSRF_SECONDS:
            return False
        return hmac.compare_digest(self._signature(f"csrf:{token}:{issued}"), signature)
