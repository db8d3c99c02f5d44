"""`first_delivery` with group commit: the deliveries that wait at the same moment are recorded in
one transaction and one statement.

Every signed Slack click and every Teams activity is recorded before it acts (bot/chat/state.py), and
on SQLite each record was a write transaction of its own, queued with every other writer on the one
write lock (storage/db.py): 200 simultaneous Slack clicks meant 200 transactions before the last
ack, 100 Teams invokes 100 of them in front of their actions. Now the first caller starts a flush;
whoever arrives while it runs joins the next one, so a burst costs a few transactions. Each caller still
gets its answer only after the transaction that holds its record has committed, so a delivery acts at
most once exactly as before; the same delivery twice in one batch is new for the first caller only.
A batch refused for a row (integrity, data) is retried one delivery at a time, so one bad row cannot
fail the others; any other failure (an outage) fails the whole batch at once, each caller as before.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import DataError, IntegrityError

from storage.db import SessionFactory, transaction
from storage.queries.deliveries import Delivery, insert_deliveries_if_new

BATCH_MAX = 500  # rows per INSERT (3 parameters each: far below SQLite's 32,766)


@dataclass
class _Waiting:
    delivery: Delivery
    now: datetime
    answer: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class DeliveryLedger:
    """One per session factory and event loop (`ledger_for`)."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions
        self.loop = asyncio.get_running_loop()
        self._waiting: list[_Waiting] = []
        self._flush: asyncio.Task[None] | None = None

    async def first(self, platform: str, delivery_id: str, now: datetime) -> bool:
        """Record (platform, delivery id); False when it was recorded before."""
        waiting = _Waiting((platform, delivery_id), now)
        self._waiting.append(waiting)
        if self._flush is None:
            self._flush = asyncio.create_task(self._flush_all(), name="record-deliveries")
        return await waiting.answer

    async def _flush_all(self) -> None:
        batch: list[_Waiting] = []
        try:
            while self._waiting:
                batch = [w for w in self._waiting[:BATCH_MAX] if not w.answer.done()]  # gone: not recorded
                del self._waiting[:BATCH_MAX]
                if batch:
                    await self._record(batch)
        except BaseException:  # cancelled at shutdown: nobody may wait for ever
            for waiting in [*batch, *self._waiting]:
                if not waiting.answer.done():
                    waiting.answer.cancel()
            self._waiting.clear()
            raise
        finally:
            self._flush = None

    async def _record(self, batch: list[_Waiting]) -> None:
        try:
            new = await self._insert(batch)
        except Exception as exc:
            if len(batch) == 1 or not isinstance(exc, IntegrityError | DataError):  # not one row's fault
                for waiting in batch:
                    _settle(waiting, error=exc)
                return
            for waiting in batch:  # one at a time: only the delivery that fails fails
                await self._record([waiting])
            return
        for waiting in batch:
            _settle(waiting, value=waiting.delivery in new)
            new.discard(waiting.delivery)  # a second caller with the same delivery in this batch: seen

    async def _insert(self, batch: list[_Waiting]) -> set[Delivery]:
        async with transaction(self.sessions) as session:
            return await insert_deliveries_if_new(
                session, deliveries=[(*w.delivery, w.now) for w in batch]
            )


def _settle(waiting: _Waiting, *, value: bool = False, error: BaseException | None = None) -> None:
    if waiting.answer.done():  # the caller went away meanwhile
        return
    if error is not None:
        waiting.answer.set_exception(error)
    else:
        waiting.answer.set_result(value)


_ledgers: weakref.WeakKeyDictionary[SessionFactory, DeliveryLedger] = weakref.WeakKeyDictionary()


def ledger_for(sessions: SessionFactory) -> DeliveryLedger:
    ledger = _ledgers.get(sessions)
    if ledger is None or ledger.loop is not asyncio.get_running_loop():
        ledger = DeliveryLedger(sessions)
        _ledgers[sessions] = ledger
    return ledger
