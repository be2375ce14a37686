"""Re-encrypting sealed fields under the current key, in batches, without locking anything.

Each document is read, its sealed values older than the current key are opened and sealed
again, and the document is written back only if those values are still the ones read (a
guarded update): a concurrent writer wins and the document is taken again on the next pass.
Works the same on MongoDB and FerretDB (plain finds by `_id` and `update_one`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loguru import logger
from pymongo.asynchronous.collection import AsyncCollection

from paycore.kit.crypto import FieldCipher, Sealed


@dataclass(frozen=True)
class SealedField:
    path: str  # dotted path in the document: "customer.email"
    context: str  # the context it was sealed with: "customer.email"
    hash_path: str | None = None  # its look-up hash, recomputed by `rehash`


@dataclass
class RekeyReport:
    collection: str
    scanned: int = 0
    resealed: int = 0  # documents written back
    values: int = 0  # sealed values moved to the current key
    conflicts: int = 0  # changed under us; left for the next pass


def _get(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


async def rekey_collection(
    collection: AsyncCollection[dict[str, Any]],
    fields: Sequence[SealedField],
    cipher: FieldCipher,
    *,
    batch_size: int = 500,
    rehash: bool = False,
    dry_run: bool = False,
) -> RekeyReport:
    """One pass over `collection` in `_id` order, `batch_size` documents per read. `rehash`
    also recomputes each field's look-up hash with the current look-up key (after changing
    `PAYMENT_LOOKUP_KEY`). Raises `UnknownKey` if a value's key is missing from the ring."""
    report = RekeyReport(collection.name)
    projection = {field.path: 1 for field in fields} | {
        field.hash_path: 1 for field in fields if field.hash_path
    }
    last_id: Any = None
    while True:
        query = {} if last_id is None else {"_id": {"$gt": last_id}}
        batch = await collection.find(query, projection).sort("_id", 1).to_list(batch_size)
        if not batch:
            return report
        last_id = batch[-1]["_id"]
        for document in batch:
            report.scanned += 1
            guard: dict[str, Any] = {"_id": document["_id"]}
            changes: dict[str, Any] = {}
            for field in fields:
                raw = _get(document, field.path)
                if not isinstance(raw, dict):
                    continue
                sealed = Sealed.model_validate(raw)
                resealed = cipher.reseal(sealed, field.context)
                if resealed is not None:
                    changes[field.path] = resealed.model_dump()
                    report.values += 1
                if rehash and field.hash_path:
                    fresh = cipher.lookup_hash(cipher.open(sealed, field.context))
                    if fresh != _get(document, field.hash_path):
                        changes[field.hash_path] = fresh
                if field.path in changes or field.hash_path in changes:
                    guard[f"{field.path}.nonce"] = sealed.nonce
            if not changes or dry_run:
                report.resealed += bool(changes)
                continue
            result = await collection.update_one(guard, {"$set": changes})
            if result.modified_count:
                report.resealed += 1
            else:
                report.conflicts += 1
        logger.info("rekey batch", collection=report.collection, scanned=report.scanned)


async def seal_plain_field(
    collection: AsyncCollection[dict[str, Any]],
    plain_path: str,
    sealed_path: str,
    context: str,
    cipher: FieldCipher,
    *,
    batch_size: int = 500,
    dry_run: bool = False,
) -> RekeyReport:
    """Seals values stored in the clear before sealing existed: `plain_path` (a non-empty
    string) moves to `sealed_path` and is emptied, guarded on the plain value read."""
    report = RekeyReport(collection.name)
    query: dict[str, Any] = {sealed_path: None, plain_path: {"$nin": ["", None]}}
    last_id: Any = None
    while True:
        page = query if last_id is None else {**query, "_id": {"$gt": last_id}}
        batch = await collection.find(page, {plain_path: 1}).sort("_id", 1).to_list(batch_size)
        if not batch:
            return report
        last_id = batch[-1]["_id"]
        for document in batch:
            report.scanned += 1
            plain = _get(document, plain_path)
            if not isinstance(plain, str) or not plain:
                continue
            report.values += 1
            if dry_run:
                continue
            sealed = cipher.seal(plain, context).model_dump()
            result = await collection.update_one(
                {"_id": document["_id"], plain_path: plain},
                {"$set": {sealed_path: sealed, plain_path: ""}},
            )
            if result.modified_count:
                report.resealed += 1
            else:
                report.conflicts += 1
