"""Slack's Web API rate limits, enforced by the fake Slack (`tests/fakes/slack_api.py`) by default.

Slack counts calls per method, per workspace and per app (PROTOCOLS "Facts learned the hard way"):
Tier 1 ≈ 1/min, Tier 2 ≈ 20/min, Tier 3 ≈ 50/min, Tier 4 ≈ 100/min, bursts tolerated. chat.postMessage is
special: about one message per second per channel (thread replies are messages in that channel too), short
bursts tolerated, plus a workspace-wide cap. conversations.history / .replies are Tier 1 with at most 15
messages a page for apps outside the Marketplace (Slack's rate-limit page, since May 2025).

Each limit is a token bucket: it holds at most `burst` calls and refills at `per_minute / 60` a second; a
call that finds it empty is answered HTTP 429 with `Retry-After` (whole seconds until the next token,
at least 1) and `{"ok": false, "error": "ratelimited"}` — and is not counted. Method tiers follow Slack's
own SDK table (java-slack-sdk `MethodsRateLimits`); a method not listed here is not limited.

`SlackTiers(speed=10)` runs the clock ten times faster (buckets refill faster, Retry-After shrinks);
`advance(seconds)` jumps the clock forward, for a test that wants a refilled bucket at once.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

POST_MESSAGE = "chat.postMessage"
HISTORY_PAGE_MAX = 15  # conversations.history / .replies for an app outside the Marketplace


@dataclass(frozen=True)
class Limit:
    per_minute: float
    burst: float  # calls the bucket holds when full: what a burst may spend at once


# Tier 1's "small amount of burst behavior is tolerated"; the other tiers tolerate a minute's worth
TIERS = {1: Limit(1, 3), 2: Limit(20, 20), 3: Limit(50, 50), 4: Limit(100, 100)}
METHOD_TIERS = {
    "apps.connections.open": 1,
    "auth.test": 4,  # "special": generous
    "bots.info": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "conversations.history": 1,  # Tier 3 for Marketplace apps (`marketplace=True`)
    "conversations.replies": 1,
    "conversations.info": 3,
    "conversations.open": 3,
    "users.info": 4,
    "users.list": 2,
    "views.open": 4,
    "views.publish": 4,
    "views.push": 4,
    "views.update": 4,
}
MARKETPLACE_TIERS = {"conversations.history": 3, "conversations.replies": 3}
POST_PER_CHANNEL = Limit(60, 3)  # one a second per channel, a short burst of 3 tolerated
# Slack publishes no figure for the workspace-wide cap: several hundred messages a minute
POST_PER_WORKSPACE = Limit(300, 300)


@dataclass
class _Bucket:
    tokens: float
    at: float  # the clock when `tokens` was last brought up to date


class SlackTiers:
    """Token buckets per (workspace token, method[, channel]); thread-safe."""

    def __init__(
        self,
        *,
        speed: float = 1.0,
        marketplace: bool = False,
        post_per_workspace: Limit = POST_PER_WORKSPACE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.speed = speed
        self.marketplace = marketplace
        self.post_per_workspace = post_per_workspace
        self._clock = clock
        self._offset = 0.0
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, ...], _Bucket] = {}

    def now(self) -> float:
        return (self._clock() + self._offset) * self.speed

    def advance(self, seconds: float) -> None:
        """Move the clock `seconds` (Slack's seconds) forward: every bucket refills that much."""
        with self._lock:
            self._offset += seconds / self.speed

    def tier_of(self, method: str) -> int | None:
        if self.marketplace and method in MARKETPLACE_TIERS:
            return MARKETPLACE_TIERS[method]
        return METHOD_TIERS.get(method)

    def page_limit(self, method: str) -> int | None:
        """The most messages one history page may hold for this app (None: Slack's usual 999)."""
        limited = method in ("conversations.history", "conversations.replies") and not self.marketplace
        return HISTORY_PAGE_MAX if limited else None

    def check(self, workspace: str, method: str, channel: str) -> int | None:
        """Take a token for this call: None if it may go on, else the Retry-After seconds of its 429."""
        buckets: list[tuple[tuple[str, ...], Limit]] = []
        if method == POST_MESSAGE:
            buckets += [((workspace, method, channel), POST_PER_CHANNEL),
                        ((workspace, method), self.post_per_workspace)]
        elif (tier := self.tier_of(method)) is not None:
            buckets.append(((workspace, method), TIERS[tier]))
        with self._lock:
            now = self.now()
            states = [(self._refilled(key, limit, now), limit) for key, limit in buckets]
            waits = [self._retry_after(bucket, limit) for bucket, limit in states if bucket.tokens < 1]
            if waits:  # a refused call spends nothing
                return max(waits)
            for bucket, _limit in states:
                bucket.tokens -= 1
        return None

    def _refilled(self, key: tuple[str, ...], limit: Limit, now: float) -> _Bucket:
        bucket = self._buckets.setdefault(key, _Bucket(limit.burst, now))
        bucket.tokens = min(limit.burst, bucket.tokens + (now - bucket.at) * limit.per_minute / 60)
        bucket.at = now
        return bucket

    def _retry_after(self, bucket: _Bucket, limit: Limit) -> int:
        wait = (1 - bucket.tokens) * 60 / limit.per_minute / self.speed
        return max(1, math.ceil(wait - 1e-9))
