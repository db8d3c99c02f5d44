"""A per-client-IP token bucket for hotloop's public pages (`/f/`): each client may make `burst` requests
at once and `per_minute` a minute after that; beyond it the answer is 429 with Retry-After.

In memory, per process: enough to stop one client hammering a page or guessing tokens (a guess needs
2^128 tries anyway); the table of clients is bounded, the longest idle dropped first.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class ClientRateLimit:
    def __init__(self, *, per_minute: float, burst: int, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client → (tokens, at)

    def retry_after(self, client: str) -> int | None:
        """Take one request for `client`: None when allowed, else the seconds until the next one is."""
        now = self.clock()
        tokens, at = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        if allowed:
            return None
        return max(1, math.ceil((1.0 - tokens) / self.rate)) if self.rate > 0 else 60
