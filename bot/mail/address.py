"""Customer e-mail addresses: which are usable, how they are hashed (the suppression list keeps only
the hash), masked (what chat shows) and kept out of error texts.

The hash is SHA-256 of the normalized address with a fixed prefix, not keyed with HOTLOOP_SECRET_KEY:
a suppression list must survive a key rotation, or everyone who unsubscribed would get mail again.
"""

from __future__ import annotations

import hashlib
import re

# one plain addr-spec (dot-atom local part, a domain with a dot): no display name, no second address,
# no CR/LF — what a survey hands us is untrusted and lands in a header
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
_ANY_ADDRESS = re.compile(r"[^\s<>\"'(),;:@]+@[A-Za-z0-9.-]+")
MAX_ADDRESS = 254
_HASH_PREFIX = b"hotloop-mail-address/v1:"


def usable_address(raw: str | None) -> str | None:
    """The address to send to, or None when `raw` is not one plain address."""
    if raw is None:
        return None
    address = raw.strip()
    if len(address) > MAX_ADDRESS or not _ADDRESS.fullmatch(address):
        return None
    return address


def normalized(address: str) -> str:
    """What makes two spellings one recipient (case does not, in practice)."""
    return address.strip().casefold()


def address_hash(address: str) -> str:
    return hashlib.sha256(_HASH_PREFIX + normalized(address).encode()).hexdigest()


def masked(address: str) -> str:
    """`dana@example.com` → `d•••@example.com`: enough for a colleague to recognise, not to copy."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


def scrub(text: str) -> str:
    """An SMTP server's reply may quote the recipient: never let it into a log or an admin DM."""
    return _ANY_ADDRESS.sub("[address]", text)


def lane_of(hashed: str) -> str:
    """The outbox `destination` of a recipient's e-mails: their own delivery lane (one recipient's 4xx
    holds back only their mail), named without the address."""
    return f"to:{hashed[:16]}"
