"""The audit trail's API for actions a request or an operator takes (payment.create,
refund.initiate, payment.verify); state changes are audited by `guarded_update` itself.
Both write the same per-resource chains (`paycore.kit.audit`)."""

from __future__ import annotations

from typing import Any

from paycore.audit.models import Actor, AuditRecord
from paycore.audit.repository import AuditRepository
from paycore.kit import audit
from paycore.kit.metrics import AUDIT_CHAIN_BREAKS, AUDIT_PENDING_SWEPT, AUDIT_RECORDS_VERIFIED


class AuditTrail:
    def __init__(self, repository: AuditRepository | None = None) -> None:
        self.repository = repository or AuditRepository()

    async def append(
        self,
        actor: Actor,
        action: str,
        resource_type: str,
        resource_id: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        """Records an action `actor` took on an existing resource (payment.create, ...)."""
        entry = action_entry(actor, action, before=before, after=after)
        await audit.append(self.repository.database, resource_type, resource_id, entry)

    async def verify_chain(self) -> tuple[bool, int]:
        """Verifies every resource's chain: (all intact, records checked)."""
        broken, checked = await self.broken_chains()
        return not broken, checked

    async def broken_chains(self) -> tuple[list[str], int]:
        """(resources whose chain does not verify, records checked)."""
        return await audit.verify_all(self.repository.database)

    async def history(self, resource_type: str, resource_id: str) -> list[AuditRecord]:
        """One resource's records in order (pending entries are drained first)."""
        return await self.repository.history(resource_type, resource_id)


def action_entry(
    actor: Actor,
    action: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The audit entry of an action `actor` takes now: for `AuditTrail.append`, or to go in
    with the write that takes the action (`guarded_update(also_audit=...)`)."""
    return audit.new_entry(
        action, before=before, after=after, actor=actor.model_dump(exclude_none=True)
    )


async def sweep_and_verify() -> tuple[list[str], int]:
    """The scheduled check (reconciler): moves entries a crashed writer left pending into their
    chains, then verifies every chain and reports the result (`paycore_audit_chain_breaks`,
    alert PaycoreAuditChainBroken). Returns (broken resources, records checked)."""
    database = AuditRepository().database
    for collection_name in [*audit.AUDITED, audit.SUBJECTS]:
        AUDIT_PENDING_SWEPT.inc(await audit.sweep(database[collection_name]))
    broken, checked = await audit.verify_all(database)
    AUDIT_CHAIN_BREAKS.set(len(broken))
    AUDIT_RECORDS_VERIFIED.set(checked)
    return broken, checked
