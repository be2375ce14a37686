"""Executing a requested refund at the gateway, safe to repeat any number of times.

Our `refund_id` is the gateway's refund id and every create carries the same idempotency key,
so no retry can make a second refund at the gateway. When an earlier attempt may have reached
the gateway (a timeout, a lost answer, a redelivered message), the gateway is asked for the
refund before anything is created again. Whatever the gateway answers is applied through
`RefundService.apply_gateway_refund`, which applies a final status once, whoever comes first:
this executor, a REFUND_STATUS webhook, or a poll.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

from loguru import logger

from paycore.alerts import raise_alert
from paycore.gateway.errors import (
    GatewayConflict,
    GatewayIdempotencyError,
    GatewayNotFound,
    GatewayOutcomeUnknown,
    GatewayValidationError,
)
from paycore.gateway.interface import PaymentGateway
from paycore.gateway.schemas import GatewayRefund, GatewayRefundRequest, idempotency_key
from paycore.kit.recheck import UNKNOWN_REFUND, Backoff, Recheck
from paycore.kit.state import Evidence
from paycore.refunds.errors import RefundDiffersAtGateway, RefundOutcomeUnknown
from paycore.refunds.models import Refund, RefundSource, RefundStatus
from paycore.refunds.service import RefundService
from paycore.refunds.states import FINAL

R = RefundStatus
POLL_PHASE: Final = "UNKNOWN_OUTCOME"
# Cashfree's refund_note: 3 to 100 characters, or none.
_NOTE_LENGTH: Final = range(3, 101)


class RefundExecutor:
    def __init__(
        self,
        gateway: PaymentGateway,
        refunds: RefundService | None = None,
        poll_backoff: Backoff = UNKNOWN_REFUND,
    ) -> None:
        self.gateway = gateway
        # After the first poll, an unknown outcome is asked again on this schedule.
        self.poll_backoff = poll_backoff
        self.refunds = refunds or RefundService()

    async def submit(self, refund_id: str) -> Refund:
        """Moves the refund to PROCESSING and gets it made at the gateway (or finds it there)."""
        refund = await self.refunds.get(refund_id)
        if refund.status in FINAL:
            # Already decided; finish the payment side in case an earlier run stopped halfway.
            await self.refunds.apply_to_payment(refund)
            return refund
        if refund.source != RefundSource.API:
            # Cashfree made it (dashboard, auto-refund): whoever recorded it applies its outcome.
            # Creating it here would refund the customer a second time (an auto-refund's id is
            # Cashfree's, unknown as a merchant refund id, so the create would succeed).
            return refund
        refund = await self.refunds.mark_processing(refund_id)
        if refund.status != R.PROCESSING:
            return refund  # decided meanwhile (a webhook was faster)
        first_attempt = refund.submit_attempts <= 1 and refund.gateway_status is None
        answer = None if first_attempt else await self._lookup(refund)
        if answer is None:
            answer = await self._create(refund)
            if answer is None:
                return await self.refunds.get(refund_id)  # refused and recorded as FAILED
        return await self.apply(answer, via="create_refund")

    async def poll(self, refund: Refund) -> Refund:
        """Asks the gateway about a refund that has waited too long for its outcome."""
        if refund.status == R.INITIATED and refund.source == RefundSource.API:
            return await self.submit(refund.refund_id)
        answer = await self._lookup(refund)
        if answer is None and refund.source != RefundSource.API:
            # Made by Cashfree, not under our id: its webhook (or reconciliation) decides it.
            return await self.schedule_next_poll(refund) or refund
        if answer is None:
            # Never reached the gateway (every attempt failed before it got there): make it now,
            # with the same key as always.
            answer = await self._create(refund)
            if answer is None:
                return await self.refunds.get(refund.refund_id)
        updated = await self.apply(answer, via="poll")
        if updated.status == R.PROCESSING:
            # Still open: look again on its schedule (backing off), not on every pass.
            return await self.schedule_next_poll(updated) or updated
        return updated

    async def schedule_next_poll(self, refund: Refund, error: str | None = None) -> Refund | None:
        """Moves the refund's next poll along `poll_backoff` and records the poll's error, if
        any; None if the refund changed meanwhile (its new state decides)."""
        now = datetime.now(UTC)
        current = refund.recheck or Recheck(due_at=None, phase=POLL_PHASE)
        schedule = current.after_check(POLL_PHASE, self.poll_backoff, now, error)
        return await self.refunds.repository.update_fields(refund, {"recheck": schedule})

    async def poll_stale(
        self,
        older_than: timedelta,
        limit: int = 50,
        statuses: Iterable[RefundStatus] = (),
        now: datetime | None = None,
    ) -> list[Refund]:
        """The refunds waiting longer than `older_than` for the gateway (PROCESSING, and
        INITIATED ones nobody picked up) and due by their poll schedule at `now`, least
        recently touched first."""
        now = now or datetime.now(UTC)
        return await self.refunds.repository.list_stale(
            list(statuses) or [R.PROCESSING, R.INITIATED], now - older_than, limit, now
        )

    async def apply(self, answer: GatewayRefund, *, via: str) -> Refund:
        """Applies a gateway answer (final statuses once; the payment's writes keep its invoice
        in step). Every change is audited by the guarded updates themselves
        (paycore.kit.audit)."""
        evidence = Evidence(
            source="gateway",
            reference=answer.gateway_refund_id,
            detail={"via": via, "gateway_status": answer.status.value},
        )
        # Applies a final status to the payment as well (once, and again safely on a repeat).
        refund = await self.refunds.apply_gateway_refund(answer, evidence)
        logger.info(
            "gateway refund applied",
            refundId=refund.refund_id,
            paymentId=refund.payment_id,
            gatewayStatus=answer.status.value,
            status=refund.status.value,
            via=via,
        )
        return refund

    async def _lookup(self, refund: Refund) -> GatewayRefund | None:
        """The gateway's refund, or None if it has none under our id."""
        try:
            return await self.gateway.get_refund(refund.order_id, refund.refund_id)
        except GatewayNotFound:
            return None
        except GatewayOutcomeUnknown as exc:
            raise RefundOutcomeUnknown(refund_id=refund.refund_id) from exc

    async def _create(self, refund: Refund) -> GatewayRefund | None:
        """Creates the refund at the gateway; None if the gateway refused it (then recorded as
        FAILED and its reservation released)."""
        note = refund.reason.strip()[:100] if refund.reason else None
        request = GatewayRefundRequest(
            order_id=refund.order_id,
            refund_id=refund.refund_id,
            amount_minor=refund.amount,
            currency=refund.currency,
            note=note if note and len(note) in _NOTE_LENGTH else None,
        )
        try:
            return await self.gateway.create_refund(
                request, idempotency_key=idempotency_key("create_refund", refund.refund_id)
            )
        except GatewayOutcomeUnknown as exc:
            # The client already looked for it once; the next attempt looks again first.
            raise RefundOutcomeUnknown(refund_id=refund.refund_id) from exc
        except GatewayIdempotencyError as exc:
            await self._alert_differs(refund, exc)
            raise RefundDiffersAtGateway(refund_id=refund.refund_id) from exc
        except (GatewayValidationError, GatewayConflict) as exc:
            if exc.http_status is None:  # our client's own check: another amount under our id
                await self._alert_differs(refund, exc)
                raise RefundDiffersAtGateway(refund_id=refund.refund_id) from exc
            await self._refused(refund, exc.gateway_code or exc.code, exc.message)
            return None

    async def _refused(self, refund: Refund, code: str, message: str) -> None:
        """The gateway will not make this refund (it made none): FAILED, reservation back."""
        evidence = Evidence(
            source="gateway", detail={"via": "create_refund", "refused": code, "message": message}
        )
        failed = await self.refunds.transition(
            refund.refund_id,
            R.FAILED,
            evidence,
            changes={"failure_reason": f"{code}: {message}"[:300], "completed_at": _now()},
        )
        await self.refunds.apply_to_payment(failed)
        logger.warning("gateway refused the refund", refundId=refund.refund_id, code=code)

    async def _alert_differs(self, refund: Refund, error: Exception) -> None:
        """Money may have moved under our id in a way we did not ask for: tell the operators
        (once per refund, however often the worker retries)."""
        await raise_alert(
            f"refund_differs_at_gateway:{refund.refund_id}",
            "refund_differs_at_gateway",
            "critical",
            **{**refund.summary(), "error": str(error)[:300]},
        )


def _now() -> datetime:
    return datetime.now(UTC)
