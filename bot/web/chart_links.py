"""Signed, expiring links to a team's weekly chart (a PNG): Slack and Teams fetch the digest's image
without a session, so the URL itself carries the right to it — the team, an expiry, and an HMAC of both
under a key derived from HOTLOOP_SECRET_KEY for this purpose only (`bot.crypto.purpose_key`).

    <public url>/app/charts/week.png?team=<id>&exp=<unix seconds>&sig=<base64url HMAC-SHA256, 16 bytes>
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import urlencode

from bot.crypto import purpose_key
from bot.settings import Settings

CHART_PATH = "/app/charts/week.png"
CHART_LINK_TTL = timedelta(days=7)  # Teams fetches the image again whenever the card is shown
PURPOSE = "chart-links"
MAX_SIGNATURE = 64


def chart_signature(key: bytes, *, team_id: int, expires: int) -> str:
    digest = hmac.new(key, f"week.png:{team_id}:{expires}".encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signed_chart_url(settings: Settings, *, team_id: int, now: datetime,
                     ttl: timedelta = CHART_LINK_TTL) -> str | None:
    """The chart's public URL, or None without HOTLOOP_PUBLIC_URL (the platforms could not fetch it)."""
    base = settings.public_url.strip().rstrip("/")
    if not base.startswith(("https://", "http://")):
        return None
    expires = int((now + ttl).timestamp())
    signature = chart_signature(purpose_key(settings, PURPOSE), team_id=team_id, expires=expires)
    return f"{base}{CHART_PATH}?{urlencode({'team': team_id, 'exp': expires, 'sig': signature})}"


def chart_link_valid(
    settings: Settings, *, team_id: int, expires: int, signature: str, now: datetime
) -> bool:
    """Signed by this server for this team and not expired."""
    if len(signature) > MAX_SIGNATURE or expires <= now.timestamp():
        return False
    expected = chart_signature(purpose_key(settings, PURPOSE), team_id=team_id, expires=expires)
    return hmac.compare_digest(expected.encode(), signature.encode())
