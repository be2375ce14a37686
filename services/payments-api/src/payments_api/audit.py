"""The audit trail as this process uses it: appends go one at a time.

The chain has one head; concurrent appends from one process would only race for the same
position and retry (each retry costs database round trips). Serialising them here keeps the
races to those between processes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from paycore.audit.models import Actor, AuditRecord
from paycore.audit.trail import AuditTrail


class SerialAuditTrail:
    def __init__(self, trail: AuditTrail | None = None) -> None:
        self.trail = trail or AuditTrail()
        self._turn = asyncio.Lock()

    async def append(
        self,
        actor: Actor,
        action: str,
        resource_type: str,
        resource_id: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> AuditRecord:
        async with self._turn:
            return await self.trail.append(
                actor, action, resource_type, resource_id, before=before, after=after
            )

    async def verify_chain(self) -> tuple[bool, int]:
        return await self.trail.verify_chain()
