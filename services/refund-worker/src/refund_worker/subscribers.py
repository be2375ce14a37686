"""`refund.initiated` in, the refund executed at the gateway; and the poll for the stragglers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from loguru import logger
from paycore.events.payloads import RefundChanged
from paycore.kit.broker import Delivery
from paycore.kit.errors import ValidationFailed
from paycore.refunds.errors import RefundBusy
from paycore.refunds.execution import RefundExecutor
from paycore.refunds.models import Refund

from refund_worker.locks import RefundLocks


class RefundSubscriber:
    def __init__(self, executor: RefundExecutor, locks: RefundLocks) -> None:
        self.executor = executor
        self.locks = locks

    async def handle(self, delivery: Delivery) -> None:
        try:
            refund_id = delivery.envelope.payload(RefundChanged).refund_id
        except ValueError as exc:  # pydantic's ValidationError
            raise ValidationFailed("refund.initiated without a refund") from exc
        if not refund_id:
            raise ValidationFailed("refund.initiated without a refund_id")
        with logger.contextualize(refundId=refund_id):
            async with self.locks.hold(refund_id):
                await self.executor.submit(refund_id)


class RefundPoller:
    """Asks the gateway about refunds stuck waiting (PENDING or ON_HOLD there, a lost webhook,
    retries that ran out) and applies the answers."""

    def __init__(
        self,
        executor: RefundExecutor,
        locks: RefundLocks,
        *,
        after: timedelta,
        interval: float,
        batch: int,
    ) -> None:
        self.executor = executor
        self.locks = locks
        self.after = after
        self.interval = interval
        self.batch = batch

    async def run_forever(self) -> None:
        while True:
            await self.poll_once()
            await asyncio.sleep(self.interval)

    async def _record_failure(self, refund: Refund, error: str) -> None:
        try:
            await self.executor.schedule_next_poll(refund, error)
        except Exception as exc:
            logger.warning("refund poll failure not recorded", error=repr(exc)[:300])

    async def poll_once(self) -> int:
        """Polls one batch; returns how many refunds were looked at."""
        stale = await self.executor.poll_stale(self.after, self.batch)
        for refund in stale:
            with logger.contextualize(refundId=refund.refund_id):
                try:
                    async with self.locks.hold(refund.refund_id):
                        await self.executor.poll(refund)
                except RefundBusy:
                    continue  # a delivery is on it
                except Exception as exc:
                    # One refund's trouble must not stop the others: recorded on it, and it
                    # is polled again on its schedule.
                    error = f"{type(exc).__name__}: {exc}"[:300]
                    logger.warning("refund poll failed", error=error)
                    await self._record_failure(refund, error)
        return len(stale)
