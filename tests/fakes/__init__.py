"""Test doubles that speak real protocols over loopback sockets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def wait_until(lock: threading.Condition, predicate: Callable[[], bool], timeout: float) -> bool:
    """Wait on a fake's condition until `predicate()` holds (checked under the lock) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    with lock:
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            lock.wait(min(remaining, 0.05))
    return True
