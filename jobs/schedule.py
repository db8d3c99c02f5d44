"""A periodic job as the job table (`jobs/runner.py` `job_table`) lists it.

Every job is a coroutine function (an `async def`, or a `functools.partial` of one). APScheduler's
asyncio executor awaits only what `iscoroutinefunction_partial` recognises; anything else (a lambda
returning a coroutine) runs in a thread pool and the coroutine is dropped unawaited, so
`PeriodicJob` refuses it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from apscheduler.util import iscoroutinefunction_partial


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    seconds: float
    run: Callable[[], Awaitable[object]]
    # Seconds from start to the first run; None: one interval. Hourly jobs say a few seconds, or a
    # process restarted more often than hourly (deploys) would never run them at all.
    first_run_after: float | None = None

    def __post_init__(self) -> None:
        if not iscoroutinefunction_partial(self.run):  # the same test APScheduler's executor makes
            raise TypeError(f"job {self.id!r}: give a coroutine function (async def or a partial of one)")
