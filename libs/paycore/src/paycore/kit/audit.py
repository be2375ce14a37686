"""The audit path: every change of an audited document (payments, refunds, invoices) leaves a
record in `audit_logs`, whoever made it (api, webhook, worker, reconciler, janitor, operator).

How a change is audited, and why it cannot be lost:
1. The update that makes the change also pushes an entry (actor, action, before/after, request
   and trace ids) into the document's `audit_pending` list: one atomic write
   (`guarded_update` does it for every state change; `pending_update` for the few raw updates).
2. The writer then moves the document's pending entries into the resource's chain (`drain`).
   A crash in between leaves the entries pending; the reconciler's sweep moves them later.

Chains are per resource (`payment:pay_…`), so appends for different resources never wait on
each other. A record holds its position (`seq`, from 1) and the previous record's hash; the
resource's document holds the chain's head (`audit_head`: last position and hash). A changed,
removed or reordered record, or a removed tail, fails `verify_resource`. Every look-up is by
`_id`; moving the pending entries costs two writes (one insert of their records, one head update),
however many there are.

The background drains that follow state changes (`drain_later`) also share those two writes
across documents: they wait briefly (`LINGER_SECONDS`) for the changes of other documents and
move all their entries in one insert and one bulk update of the heads (a group commit), so a
service changing one document after another pays two writes per batch, not per change. The
records are the same as one document at a time, so chains and their verification do not change.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from paycore.kit.context import request_id_var, trace_id_var
from paycore.kit.events import now_ms
from paycore.kit.futures import settle

RECORDS: Final = "audit_logs"
PENDING: Final = "audit_pending"
# Resources without an audited document of their own (a reconciliation item, ...) keep their
# chain's pending entries and head in a small document here, keyed `<type>:<id>`.
SUBJECTS: Final = "audit_subjects"
HEAD: Final = "audit_head"
GENESIS: Final = "0" * 64
# Entries moved into a chain per write pair at most: on the local server one write command
# holds its database's write lock to the end, so a long one would hold up every other writer.
MAX_BATCH: Final = 50
DUPLICATE_KEY_CODES: Final = (11000, 11001)
# How long a background drain waits for other documents' drains to share its two writes.
LINGER_SECONDS: Final = 0.2

# Collections whose changes are audited -> the resource type their records name.
AUDITED: dict[str, str] = {}

# Who is acting: set by the API after authentication (user, ip, user agent), by the operator
# commands (operator), and per service at start-up (service); see `acting_as`.
actor_var: ContextVar[dict[str, Any] | None] = ContextVar("actor", default=None)


def audited(collection_name: str, resource_type: str) -> None:
    """Declares that changes of `collection_name` are audited as `resource_type` records."""
    AUDITED[collection_name] = resource_type


def acting_as(kind: str, actor_id: str, **details: str | None) -> None:
    """Sets the actor for this task and the tasks it starts. kind: user, service, operator."""
    actor_var.set({"kind": kind, "id": actor_id, **details})


def plain(value: Any) -> Any:
    """A JSON value (dates as ISO strings), so it hashes the same after a round trip, with keys
    a document may hold: a query operator (`$ne`) becomes `op_ne`, a dotted path `a/b`."""
    return _PLAIN_DECODER.decode(_PLAIN_ENCODER.encode(value))


def _storable_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {
        ("op_" + key[1:] if key.startswith("$") else key).replace(".", "/"): item
        for key, item in pairs
    }


# Built once: `json.dumps` and `json.loads` build a new coder per call when given options.
_PLAIN_ENCODER = json.JSONEncoder(default=str)
_PLAIN_DECODER = json.JSONDecoder(object_pairs_hook=_storable_object)
_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def new_entry(
    action: str,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    evidence: Mapping[str, Any] | None = None,
    actor: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An audit entry for a change made now by the current actor (or `actor`)."""
    return {
        "entry_id": uuid.uuid4().hex,
        "at": now_ms(),  # what the database keeps: the hash must survive storage
        "actor": dict(actor or actor_var.get() or {"kind": "service", "id": "unknown"}),
        "action": action,
        "before": plain(dict(before)) if before is not None else None,
        "after": plain(dict(after)) if after is not None else None,
        "evidence": plain(dict(evidence)) if evidence is not None else None,
        "request_id": request_id_var.get(),
        "trace_id": trace_id_var.get(),
    }


def pending_update(
    collection: AsyncCollection[dict[str, Any]],
    update: Mapping[str, Any],
    *entries: dict[str, Any],
) -> dict[str, Any]:
    """`update` with `entries` pushed to `audit_pending` in order, if the collection is
    audited."""
    if collection.name not in AUDITED:
        return dict(update)
    pushes = dict(update.get("$push") or {})
    pushes[PENDING] = {"$each": list(entries)}
    return {**update, "$push": pushes}


def record_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    canonical = _CANONICAL_ENCODER.encode(body)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _body(record: Mapping[str, Any]) -> dict[str, Any]:
    """What the hash covers: everything but the hashes and the storage key."""
    body = {k: v for k, v in record.items() if k not in {"_id", "hash", "prev_hash"}}
    at = body.get("at")
    if isinstance(at, datetime):
        body["at"] = (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()
    return body


def _record_id(resource: str, seq: int) -> str:
    return f"{resource}:{seq:010d}"


def _chained(
    resource_type: str, resource_id: str, entry: Mapping[str, Any], head: Mapping[str, Any]
) -> dict[str, Any]:
    record: dict[str, Any] = {
        **entry,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "seq": head["seq"] + 1,
        "prev_hash": head["hash"],
    }
    record["hash"] = record_hash(record["prev_hash"], _body(record))
    record["_id"] = _record_id(f"{resource_type}:{resource_id}", record["seq"])
    return record


# The drain running in this process for each document. Two at once would race for the same
# chain position (a refused insert and a re-read, every time a request's drain meets the
# background drain of its previous change); the later one waits and then reads afresh.
_draining: dict[str, asyncio.Future[None]] = {}


async def drain(
    collection: AsyncCollection[dict[str, Any]],
    key: str,
    document: Mapping[str, Any] | None = None,
    entry_id: str | None = None,
) -> int:
    """`_drain`, one at a time per document in this process (other processes may still run
    theirs beside it: `_drain` is safe against that). Background drains of the document still
    waiting for their batch (`drain_later`) are served by this one."""
    slot = _slot(collection, key)
    loop = asyncio.get_running_loop()
    batched = _batch_of(collection).take(key)
    if batched:
        entry_id = None  # they wait for entries written before: move them all
    while (running := _draining.get(slot)) is not None and running.get_loop() is loop:
        await asyncio.wait([running])
        document = None  # older than what that drain wrote
    done: asyncio.Future[None] = loop.create_future()
    _draining[slot] = done
    failure: BaseException | None = None
    try:
        return await _drain(collection, key, document, entry_id)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        if _draining.get(slot) is done:
            del _draining[slot]
        done.set_result(None)
        settle(batched, failure)


def _slot(collection: AsyncCollection[dict[str, Any]], key: str) -> str:
    return f"{collection.full_name}/{key}"


def _resource_of(collection: AsyncCollection[dict[str, Any]], key: str) -> tuple[str, str] | None:
    """(resource type, resource id) of the chain a document's entries go to; None if the
    collection is not audited."""
    if collection.name == SUBJECTS:
        resource_type, _, resource_id = key.partition(":")
        return resource_type, resource_id
    if collection.name in AUDITED:
        return AUDITED[collection.name], key
    return None


def _at_head(head: Mapping[str, Any]) -> dict[str, Any]:
    """The filter that finds the document still at `head`."""
    return {HEAD: {"$exists": False}} if head["seq"] == 0 else {f"{HEAD}.seq": head["seq"]}


async def _move_together(
    collection: AsyncCollection[dict[str, Any]], documents: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Moves all pending entries of these documents (key -> the document as last written) in
    two writes: one insert of every record, one bulk update of every head and pending list,
    each guarded by the head it was chained from. Returns the keys of the documents it could
    not move (a record position taken, or a head that moved meanwhile: another drain ran),
    which the caller drains on its own (`drain`), as safe as ever."""
    records: list[dict[str, Any]] = []
    owners: list[str] = []
    heads: dict[str, UpdateOne] = {}
    for key, document in documents.items():
        resource = _resource_of(collection, key)
        entries: list[dict[str, Any]] = list(document.get(PENDING) or [])
        if resource is None or not entries:
            continue
        head = document.get(HEAD) or {"seq": 0, "hash": GENESIS}
        chain = _chain(*resource, entries, head)
        records += chain
        owners += [key] * len(chain)
        # Exactly these stored values leave the pending list (entries pushed meanwhile stay).
        heads[key] = UpdateOne(
            {"_id": key, **_at_head(head)},
            {
                "$set": {HEAD: {"seq": chain[-1]["seq"], "hash": chain[-1]["hash"]}},
                "$pullAll": {PENDING: entries},
            },
        )
    if not records:
        return []
    refused: set[str] = set()
    try:
        await collection.database[RECORDS].insert_many(records, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors") or []
        if not errors or any(e.get("code") not in DUPLICATE_KEY_CODES for e in errors):
            raise
        refused = {owners[error["index"]] for error in errors}
    moving = {key: op for key, op in heads.items() if key not in refused}
    if moving:
        result = await collection.bulk_write(list(moving.values()), ordered=False)
        if result.matched_count < len(moving):
            # A head moved meanwhile; the answer does not say whose, so each goes its own way
            # (finding its entries moved, or adopting its records).
            return [*refused, *moving]
    return list(refused)


class _Batch:
    """Background drains of one collection's documents waiting to share their two writes."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection
        self.loop = asyncio.get_running_loop()
        # key -> (the newest document written, the drains waiting for it)
        self.waiting: dict[str, tuple[Mapping[str, Any] | None, list[asyncio.Future[None]]]] = {}
        self.writer: asyncio.Task[None] | None = None
        self.hurry = asyncio.Event()  # set: write now, without waiting for company

    async def drain(self, key: str, document: Mapping[str, Any] | None) -> None:
        future: asyncio.Future[None] = self.loop.create_future()
        if key in self.waiting:
            known, futures = self.waiting[key]
            self.waiting[key] = (_newer(known, document), [*futures, future])
        else:
            self.waiting[key] = (document, [future])
        if self.writer is None or self.writer.done():
            self.writer = self.loop.create_task(self._write())
        await future

    def take(self, key: str) -> list[asyncio.Future[None]]:
        """The drains waiting for `key`, which the caller now serves."""
        return self.waiting.pop(key, (None, []))[1]

    async def _write(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.hurry.wait(), LINGER_SECONDS)
        self.hurry.clear()
        while self.waiting:
            keys = list(self.waiting)[:MAX_BATCH]
            batch = {key: self.waiting.pop(key) for key in keys}
            failure: BaseException | None = None
            try:
                await self._move({key: document for key, (document, _) in batch.items()})
            except Exception as exc:
                failure = exc
            for _, futures in batch.values():
                settle(futures, failure)

    async def _move(self, batch: Mapping[str, Mapping[str, Any] | None]) -> None:
        together: dict[str, Mapping[str, Any]] = {}
        alone: list[str] = []
        for key, document in batch.items():
            running = _draining.get(_slot(self.collection, key))
            if (
                document is None
                or len(document.get(PENDING) or []) > MAX_BATCH
                or (running is not None and running.get_loop() is self.loop)
            ):
                alone.append(key)  # unknown, long, or a drain of this document is running
            else:
                together[key] = document
        slots = {_slot(self.collection, key): self.loop.create_future() for key in together}
        _draining.update(slots)
        try:
            refused = await _move_together(self.collection, together)
        finally:
            for slot, done in slots.items():
                if _draining.get(slot) is done:
                    del _draining[slot]
                done.set_result(None)
        for key in [*alone, *refused]:
            await drain(self.collection, key)


def _newer(
    known: Mapping[str, Any] | None, document: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """Of two writes' answers for one document, the later (higher version); None if either is
    unknown (the document is then read afresh)."""
    if known is None or document is None:
        return None
    return document if document.get("version", 0) >= known.get("version", 0) else known


_batches: dict[str, _Batch] = {}


def _batch_of(collection: AsyncCollection[dict[str, Any]]) -> _Batch:
    batch = _batches.get(collection.full_name)
    if batch is None or batch.loop is not asyncio.get_running_loop():
        batch = _batches[collection.full_name] = _Batch(collection)  # the old loop has ended
    return batch


def hurry_drains() -> None:
    """Makes this loop's waiting background drains write now (at shutdown, before the client
    closes, and in tests)."""
    loop = asyncio.get_running_loop()
    for batch in _batches.values():
        if batch.loop is loop:
            batch.hurry.set()


async def drain_later(
    collection: AsyncCollection[dict[str, Any]],
    key: str,
    document: Mapping[str, Any] | None = None,
) -> None:
    """Moves the document's pending entries into its chain within about `LINGER_SECONDS`,
    sharing the two writes with the other documents of the collection drained meanwhile (the
    background drain of a state change: nothing waits on it but shutdown). `document`: the
    document as just written, if the caller has it. Raises what the writes raised; the entries
    then stay pending for the sweep."""
    if _resource_of(collection, key) is None:
        return
    await _batch_of(collection).drain(key, document)


async def _drain(
    collection: AsyncCollection[dict[str, Any]],
    key: str,
    document: Mapping[str, Any] | None = None,
    entry_id: str | None = None,
) -> int:
    """Moves the document's pending audit entries into its chain, oldest first; returns how
    many this call moved. `document` is the document as just written, if the caller has it.
    With `entry_id`, stops once that entry is in the chain (a writer drains up to its own
    entry, so many writers of one document share the work instead of each doing all of it).

    The chain's head (last position and hash) lives in the document (`audit_head`), so moving
    entries is two writes however many move at once (up to `MAX_BATCH`): the records, then the
    head and the pending list together. Two drains at once are safe: a position is taken once
    (unique `_id`), and the loser adopts the winner's record, which holds the same entry
    (entries move in list order).
    """
    resource = _resource_of(collection, key)
    if resource is None:
        return 0
    resource_type, resource_id = resource
    records = collection.database[RECORDS]
    moved = 0
    current = document
    for _ in range(100):
        if current is None:
            current = await collection.find_one({"_id": key}, {PENDING: 1, HEAD: 1})
            if current is None:
                return moved
        entries: list[dict[str, Any]] = current.get(PENDING) or []
        ids = [e.get("entry_id") for e in entries]
        if not entries or (entry_id is not None and entry_id not in ids):
            return moved
        if entry_id is not None:
            entries = entries[: ids.index(entry_id) + 1]
        head = current.get(HEAD) or {"seq": 0, "hash": GENESIS}
        chain = _chain(resource_type, resource_id, entries[:MAX_BATCH], head)
        stored, inserted = await _store(records, chain)
        if not stored:
            current = None  # another drain moved on: read again
            continue
        moved += inserted
        last = stored[-1]
        at_head = _at_head(head)
        # Remove exactly these stored values (FerretDB's $pull takes values, not conditions).
        current = await collection.find_one_and_update(
            {"_id": key, **at_head},
            {
                "$set": {HEAD: {"seq": last["seq"], "hash": last["hash"]}},
                "$pullAll": {PENDING: entries[: len(stored)]},
            },
            return_document=ReturnDocument.AFTER,
        )  # None: another drain advanced the head; read again
    raise RuntimeError(f"audit entries of {key} could not be drained")


def _chain(
    resource_type: str, resource_id: str, entries: list[dict[str, Any]], head: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The records `entries` become after `head`, each chained to the one before."""
    chain: list[dict[str, Any]] = []
    for entry in entries:
        head = _chained(resource_type, resource_id, entry, head)
        chain.append(head)
    return chain


async def _store(
    records: AsyncCollection[dict[str, Any]], chain: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """Inserts the chain's next records in one command: (the records now at the first
    positions, as many as could be placed; how many of them this call inserted). A position
    already taken holds our entry if a drain that stopped half way (or runs beside us) moved
    it, which is adopted; another entry there means another drain moved on: ([], 0)."""
    try:
        await records.insert_many(chain)  # ordered: stops at the first position taken
        return chain, len(chain)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors") or []
        if not errors or any(e.get("code") not in DUPLICATE_KEY_CODES for e in errors):
            raise
        inserted = errors[0]["index"]
    if inserted:
        return chain[:inserted], inserted
    taken = await records.find_one({"_id": chain[0]["_id"]})
    if taken is None or taken.get("entry_id") != chain[0]["entry_id"]:
        return [], 0
    return [taken], 0


async def append(
    database: AsyncDatabase[dict[str, Any]],
    resource_type: str,
    resource_id: str,
    entry: dict[str, Any],
) -> None:
    """Audits an action on a resource (not a state change of it: those are audited by their own
    write): the entry goes pending on the resource's document (or its subject document), then
    into its chain."""
    name = next((n for n, t in AUDITED.items() if t == resource_type), None)
    collection = database[name or SUBJECTS]
    key = resource_id if name else f"{resource_type}:{resource_id}"
    document = await collection.find_one_and_update(
        {"_id": key},
        {"$push": {PENDING: entry}},
        upsert=name is None,
        return_document=ReturnDocument.AFTER,
    )
    if document is None:
        raise LookupError(f"no {resource_type} {resource_id} to audit")
    await drain(collection, key, document, entry["entry_id"])


async def sweep(collection: AsyncCollection[dict[str, Any]], limit: int = 500) -> int:
    """Drains documents whose pending entries a crashed writer left behind."""
    moved = 0
    cursor = collection.find({f"{PENDING}.0": {"$exists": True}}, {"_id": 1}).limit(limit)
    async for document in cursor:
        moved += await drain(collection, document["_id"])
    return moved


async def verify_resource(
    database: AsyncDatabase[dict[str, Any]], resource: str, head: Mapping[str, Any] | None
) -> tuple[bool, int]:
    """Walks one chain from its first record while records follow: (intact, records checked).
    The head may trail the chain (a drain in progress) but must sit on it, so a removed tail,
    and a changed, removed or reordered record, all break it."""
    records = database[RECORDS]
    previous = GENESIS
    seq = 0
    head_hash: str | None = None
    while (record := await records.find_one({"_id": _record_id(resource, seq + 1)})) is not None:
        seq += 1
        if record.get("seq") != seq or record.get("prev_hash") != previous:
            return False, seq
        if record_hash(previous, _body(record)) != record.get("hash"):
            return False, seq
        previous = record["hash"]
        if head is not None and seq == head["seq"]:
            head_hash = previous
    if head is None:  # records without a head: the head was removed
        return seq == 0, seq
    return head_hash == head["hash"], seq


async def verify_all(database: AsyncDatabase[dict[str, Any]]) -> tuple[list[str], int]:
    """Verifies every chain: (resources whose chain is broken, records checked)."""
    broken: list[str] = []
    checked = 0
    seen: set[str] = set()
    for collection_name, resource_type in [*AUDITED.items(), (SUBJECTS, "")]:
        cursor = database[collection_name].find({HEAD: {"$exists": True}}, {HEAD: 1})
        async for document in cursor:
            resource = f"{resource_type}:{document['_id']}" if resource_type else document["_id"]
            seen.add(resource)
            intact, count = await verify_resource(database, resource, document[HEAD])
            checked += count
            if not intact:
                broken.append(resource)
    # Chains whose head is gone (the field, or the whole document). A chain started after the
    # scan above passed its document is read again now: only a head still missing is a break
    # (seen: a payment created during the check reported as broken for one interval).
    collections = {resource_type: name for name, resource_type in AUDITED.items()}
    async for record in database[RECORDS].find({"seq": 1}, {"resource_type": 1, "resource_id": 1}):
        resource = f"{record['resource_type']}:{record['resource_id']}"
        if resource in seen:
            continue
        name = collections.get(record["resource_type"])
        current = await (
            database[name].find_one({"_id": record["resource_id"]}, {HEAD: 1})
            if name
            else database[SUBJECTS].find_one({"_id": resource}, {HEAD: 1})
        )
        head = (current or {}).get(HEAD)
        intact, count = (
            (False, 1) if head is None else await verify_resource(database, resource, head)
        )
        checked += count
        if not intact:
            broken.append(resource)
    return broken, checked
