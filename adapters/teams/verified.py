"""Bot Framework tokens already checked, so a burst of clicks checks each token once.

The Bot Connector sends the same token with many activities (it caches its token for about an hour).
Checking one means an RS256 signature, the issuer, audience, expiry, the signing key's endorsement for
the activity's channel and the `serviceurl` claim against the activity's serviceUrl
(botbuilder's `ChannelValidation`), in a worker thread (adapters/teams/auth.py). The outcome depends on
exactly three inputs: the token, the activity's channelId and its serviceUrl. The same three inputs
get the same answer again until the token expires, so only a success is kept, under a SHA-256 of those
three, until the token's own `exp` (never longer than `MAX_SECONDS`); any other token, channel or
serviceUrl is checked in full. Checks of the same inputs that overlap share one check.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from botframework.connector.auth.authenticate_request_result import AuthenticateRequestResult

MAX_ENTRIES = 1024
MAX_SECONDS = 3600.0

Check = Callable[[], Awaitable[AuthenticateRequestResult]]


def cache_key(token: str, channel_id: str | None, service_url: str | None) -> str:
    """The inputs a token check depends on (NUL cannot occur in a header or a URL)."""
    joined = "\0".join((token, channel_id or "", service_url or ""))
    return hashlib.sha256(joined.encode()).hexdigest()


def _expires_at(result: AuthenticateRequestResult) -> float:
    """Wall-clock time until which a checked token may be reused: its `exp`, at most MAX_SECONDS."""
    claims = getattr(result.claims_identity, "claims", None) or {}
    try:
        expiry = float(claims["exp"])
    except (KeyError, TypeError, ValueError):
        return 0.0  # no usable expiry: never reused
    return min(expiry, time.time() + MAX_SECONDS)


class VerifiedTokens:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._verified: OrderedDict[str, tuple[float, AuthenticateRequestResult]] = OrderedDict()
        self._checking: dict[str, asyncio.Task[AuthenticateRequestResult]] = {}

    def __len__(self) -> int:
        return len(self._verified)

    def recall(self, key: str) -> AuthenticateRequestResult | None:
        found = self._verified.get(key)
        if found is None:
            return None
        if time.time() >= found[0]:
            del self._verified[key]
            return None
        return found[1]

    async def check(self, key: str, check: Check) -> AuthenticateRequestResult:
        """The kept result for `key`, else `check()`'s (shared by every caller that overlaps it); a
        failure is raised to each of them and not kept."""
        found = self.recall(key)
        if found is not None:
            return found
        task = self._checking.get(key)
        if task is None:
            task = asyncio.ensure_future(check())
            self._checking[key] = task
            task.add_done_callback(lambda done: self._settle(key, done))
        # shield: a caller that goes away does not cancel the check the others wait for
        return await asyncio.shield(task)

    def _settle(self, key: str, task: asyncio.Task[AuthenticateRequestResult]) -> None:
        self._checking.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return  # retrieved here, so an unawaited failure is not reported twice
        result = task.result()
        expires = _expires_at(result)
        if expires <= time.time():
            return
        self._verified[key] = (expires, result)
        self._verified.move_to_end(key)
        while len(self._verified) > self.max_entries:
            self._verified.popitem(last=False)
