"""Audit record queries (the chains themselves are written by `paycore.kit.audit`)."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from paycore.audit.models import AuditRecord


class AuditRepository:
    @property
    def database(self) -> AsyncDatabase[dict[str, Any]]:
        """The database whose collections hold the chains and the audited documents."""
        return AuditRecord.get_pymongo_collection().database

    async def history(self, resource_type: str, resource_id: str) -> list[AuditRecord]:
        """One resource's records in chain order."""
        cursor = (
            AuditRecord.get_pymongo_collection()
            .find({"resource_type": resource_type, "resource_id": resource_id})
            .sort("seq", 1)
        )
        return [AuditRecord.model_validate(raw) async for raw in cursor]
