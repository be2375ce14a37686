"""Armed faults: each fires for the next `count` matching calls, webhooks or refunds."""

import itertools

from cashfree_emulator.schemas import Fault, FaultKind, FaultSpec

# Operations that change state; `response_lost` without an operation applies to these.
MUTATING_OPERATIONS = frozenset({"create_order", "terminate_order", "create_refund"})


class FaultBook:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def arm(self, spec: FaultSpec) -> Fault:
        fault = Fault(**spec.model_dump(), id=next(self._ids), remaining=spec.count)
        self._faults.append(fault)
        return fault

    def armed(self) -> list[Fault]:
        return list(self._faults)

    def clear(self) -> None:
        self._faults.clear()

    def take_api_fault(self, app_id: str, operation: str) -> Fault | None:
        for fault in self._faults:
            if fault.kind.family != "api" or not self._for_app(fault, app_id):
                continue
            if fault.operation is not None and fault.operation != operation:
                continue
            if (
                fault.operation is None
                and fault.kind is FaultKind.RESPONSE_LOST
                and operation not in MUTATING_OPERATIONS
            ):
                continue
            return self._consume(fault)
        return None

    def take_webhook_faults(self, app_id: str, event_type: str) -> list[Fault]:
        """Every armed webhook fault that matches, one use each (drop and delay can combine)."""
        taken = [
            fault
            for fault in self._faults
            if fault.kind.family == "webhook"
            and self._for_app(fault, app_id)
            and (fault.event_type is None or fault.event_type == event_type)
        ]
        return [self._consume(fault) for fault in taken]

    def take_refund_fault(self, app_id: str) -> Fault | None:
        for fault in self._faults:
            if fault.kind.family == "refund" and self._for_app(fault, app_id):
                return self._consume(fault)
        return None

    @staticmethod
    def _for_app(fault: Fault, app_id: str) -> bool:
        return fault.app_id is None or fault.app_id == app_id

    def _consume(self, fault: Fault) -> Fault:
        fault.remaining -= 1
        if fault.remaining <= 0:
            self._faults.remove(fault)
        return fault
