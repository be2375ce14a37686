"""State machines as data, and the one guarded update every state change goes through.

A state change is one conditional atomic update of one document:
`find_one_and_update({key, status, version}, {$set, $inc version, $push history and outbox})`.
It cannot race and cannot apply twice, and it carries its own events (the outbox lives in the
document), so no multi-document transaction is ever needed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any, Final, Generic, Literal, TypeVar

from loguru import logger
from pydantic import BaseModel, Field
from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from paycore.kit import audit
from paycore.kit.errors import ChangedConcurrently
from paycore.kit.events import OutboxEvent
from paycore.kit.futures import BackgroundTasks
from paycore.kit.mongo import KeyedDocument

S = TypeVar("S", bound=StrEnum)
T = TypeVar("T")

# What asking for a transition would do: nothing ("duplicate": already there; "changed": not
# in a state the caller decided from; "refused": the table does not allow it) or "move".
Verdict = Literal["duplicate", "changed", "refused", "move"]


class Evidence(BaseModel):
    """Why a transition happened: who or what said so, and what they showed."""

    source: str  # api | webhook | gateway | verify | worker | reconciler | operator
    reference: str | None = None  # a webhook log id, a gateway payment id, a request id
    detail: dict[str, Any] = Field(default_factory=dict)


class TransitionRecord(BaseModel):
    from_status: str | None
    to_status: str
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    evidence: Evidence
    note: str | None = None
    # An event that arrived and changed nothing (late, duplicate or weaker evidence).
    ignored: bool = False


class StateTable(Generic[S]):
    """Allowed transitions; anything not listed is refused."""

    def __init__(self, transitions: Mapping[S, Iterable[S]]) -> None:
        self._transitions = {source: frozenset(targets) for source, targets in transitions.items()}

    def allows(self, source: S, target: S) -> bool:
        return target in self._transitions.get(source, frozenset())

    def targets(self, source: S) -> frozenset[S]:
        return self._transitions.get(source, frozenset())

    def is_final(self, state: S) -> bool:
        return not self._transitions.get(state)

    def verdict(self, current: S, target: S, expected: Iterable[S] | None = None) -> Verdict:
        """What a transition from `current` to `target` would do; `expected`: the states the
        caller decided from (any other means the document moved meanwhile). The appliers and
        the operator's dry run both ask this, so they cannot disagree."""
        if current == target:
            return "duplicate"
        if expected is not None and current not in expected:
            return "changed"
        return "move" if self.allows(current, target) else "refused"


class WriteConflict(Enum):
    """What a guarded write attempt returns when the document changed since it was read."""

    CONFLICT = "conflict"


CONFLICT: Final = WriteConflict.CONFLICT
# Guarded writes a use case tries before giving up with `ChangedConcurrently`: each try reads
# the document again, so only a document changing this often, continuously, runs out.
CONFLICT_TRIES: Final = 8


def written(updated: T | None) -> T | WriteConflict:
    """A guarded update's answer for `retry_on_conflict`: None (nothing written) is a conflict."""
    return CONFLICT if updated is None else updated


async def retry_on_conflict(attempt: Callable[[], Awaitable[T | WriteConflict]], **ids: Any) -> T:
    """Runs `attempt` (read, decide, one guarded write) until it answers something other than
    `CONFLICT`, and returns that. A conflict means the document changed between the read and
    the write (nothing was written), so the next try reads and decides again. Raises
    `ChangedConcurrently(**ids)` after `CONFLICT_TRIES` conflicts in a row."""
    for _ in range(CONFLICT_TRIES):
        result = await attempt()
        if not isinstance(result, WriteConflict):
            return result
    raise ChangedConcurrently(**ids)


def read_again_after(first: T, read: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    """The document each try of `retry_on_conflict` decides on: the caller's own read `first`,
    then, after a conflict, a fresh one from `read`."""
    unused = [first]

    async def current() -> T:
        return unused.pop() if unused else await read()

    return current


def to_mongo(value: Any) -> Any:
    """Pydantic models and lists of them as plain documents for raw PyMongo updates."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python")
    if isinstance(value, list):
        return [to_mongo(item) for item in value]
    if isinstance(value, dict):
        return {key: to_mongo(item) for key, item in value.items()}
    return value


async def guarded_update(
    collection: AsyncCollection[dict[str, Any]],
    key: str,
    *,
    version: int,
    where: Mapping[str, Any] | None = None,
    set_fields: Mapping[str, Any] | None = None,
    inc: Mapping[str, int] | None = None,
    history: Iterable[TransitionRecord] = (),
    events: Iterable[OutboxEvent] = (),
    push: Mapping[str, Any] | None = None,
    pull: Mapping[str, Any] | None = None,
    also_audit: Sequence[dict[str, Any]] = (),
) -> dict[str, Any] | None:
    """Applies the change only if the document `_id == key` is still at `version` (and matches
    `where`). Returns the updated document, or None if it changed in between (nothing was
    written). New outbox events are handed to this process's relay (`notify_outbox`). In an
    audited collection the same write records who changed what (`paycore.kit.audit`), and
    then the entries `also_audit` (`audit.new_entry`: actions taken with this change, such as
    `payment.create`); with those, this returns once they are in their chain, as
    `audit.append` would, instead of draining in the background.
    """
    records, events = list(history), list(events)
    update = _versioned_change(
        datetime.now(UTC), set_fields, inc, push=push, history=records, events=events, pull=pull
    )
    entry = audit.new_entry(
        _action(collection.name, records),
        before={**to_mongo(dict(where or {})), "version": version},
        after={
            **update["$set"],
            "version": version + 1,
            **({"increments": dict(inc)} if inc else {}),
            **({"added": to_mongo(dict(push))} if push else {}),
            **({"removed": to_mongo(dict(pull))} if pull else {}),
        },
        evidence=to_mongo(records[-1].evidence) if records else None,
    )
    updated = await collection.find_one_and_update(
        {"_id": key, **dict(where or {}), "version": version},
        audit.pending_update(collection, update, entry, *also_audit),
        return_document=ReturnDocument.AFTER,
    )
    if updated is not None and events:
        notify_outbox(collection.name, key, events)
    if updated is not None and collection.name in audit.AUDITED:
        if also_audit:
            await drain_audit(collection, key, updated, also_audit[-1]["entry_id"])
        else:
            drain_audit_soon(collection, key, updated)
    return updated


def guarded_statement(
    key: str,
    *,
    version: int,
    set_fields: Mapping[str, Any],
    inc: Mapping[str, int] | None = None,
    events: Iterable[OutboxEvent] = (),
    now: datetime,
) -> UpdateOne:
    """`guarded_update`'s write as one statement of a shared bulk write (`kit.mongo.GroupCommit`),
    for a collection that is not audited: it changes nothing if the document `_id == key` moved
    past `version`. `now` is stored as `updated_at`. Once it is written, the caller hands the
    events to this process's relay (`notify_outbox`)."""
    update = _versioned_change(now, set_fields, inc, events=list(events))
    return UpdateOne({"_id": key, "version": version}, update)


def _versioned_change(
    now: datetime,
    set_fields: Mapping[str, Any] | None,
    inc: Mapping[str, int] | None,
    *,
    push: Mapping[str, Any] | None = None,
    history: Sequence[TransitionRecord] = (),
    events: Sequence[OutboxEvent] = (),
    pull: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The update of a guarded write: the fields set with `updated_at = now`, the version and
    `inc` counted up, `push` with the history records and outbox events appended, `pull`."""
    update: dict[str, Any] = {
        "$set": {**to_mongo(dict(set_fields or {})), "updated_at": now},
        "$inc": {"version": 1, **dict(inc or {})},
    }
    pushes: dict[str, Any] = to_mongo(dict(push or {}))
    if history:
        pushes["history"] = {"$each": to_mongo(list(history))}
    if events:
        pushes["outbox"] = {"$each": to_mongo(list(events))}
    if pushes:
        update["$push"] = pushes
    if pull:
        update["$pull"] = to_mongo(dict(pull))
    return update


def _action(collection_name: str, records: Sequence[TransitionRecord]) -> str:
    """`payment.success`, `refund.failed`, `payment.event_ignored`, `invoice.update`, ..."""
    resource = audit.AUDITED.get(collection_name, collection_name)
    if not records:
        return f"{resource}.update"
    if records[-1].ignored:
        return f"{resource}.event_ignored"
    return f"{resource}.{records[-1].to_status.lower()}"


_draining = BackgroundTasks()


def drain_audit_soon(
    collection: AsyncCollection[dict[str, Any]],
    key: str,
    document: Mapping[str, Any] | None = None,
) -> None:
    """Moves the document's audit entries into its chain in the background, in one batch with
    the other documents drained meanwhile (`audit.drain_later`): a state change never waits
    for its audit record (the entry is already stored with the change; `finish_audit_drains`
    waits at shutdown). If that fails, the entries stay pending for the reconciler's sweep."""
    _draining.start(_drain_later(collection, key, document))


async def _drain_later(
    collection: AsyncCollection[dict[str, Any]],
    key: str,
    document: Mapping[str, Any] | None = None,
) -> None:
    try:
        await audit.drain_later(collection, key, document)
    except Exception as exc:
        logger.warning(
            "audit entries left pending", collection=collection.name, key=key, error=repr(exc)
        )


async def finish_audit_drains() -> None:
    """Waits for the background drains this process started (at shutdown, and in tests), which
    then write at once instead of waiting for other documents' drains."""
    while _draining:
        audit.hurry_drains()
        await _draining.finish()


async def drain_audit(
    collection: AsyncCollection[dict[str, Any]],
    key: str,
    document: Mapping[str, Any] | None = None,
    entry_id: str | None = None,
) -> None:
    """Moves the document's audit entries into its chain now; if that fails, the entries stay
    pending for the reconciler's sweep (the change itself is already stored)."""
    try:
        await audit.drain(collection, key, document, entry_id)
    except Exception as exc:
        logger.warning(
            "audit entries left pending", collection=collection.name, key=key, error=repr(exc)
        )


OutboxListener = Callable[[str, Sequence[OutboxEvent]], None]
_listeners: dict[str, OutboxListener] = {}


def listen_outbox(collection_name: str, listener: OutboxListener) -> None:
    """Registers this process's relay for a collection (the fast path of `kit.outbox`)."""
    _listeners[collection_name] = listener


def stop_listening(collection_name: str, listener: OutboxListener) -> None:
    """Unregisters a stopped relay, unless another one took its place meanwhile."""
    if _listeners.get(collection_name) == listener:
        del _listeners[collection_name]


async def insert_with_events(document: KeyedDocument, *, plain_dump: bool = False) -> None:
    """Inserts a new document and hands the events of its `outbox` to this process's relay
    (the insert counterpart of `guarded_update`). A unique-index violation raises as it is
    (`paycore.kit.mongo.is_duplicate_key`); nothing is then announced. `plain_dump`: store
    pydantic's own dump (`stored_form`) instead of Beanie's encoding: the same document for a
    model of plain fields (its tests check it), at a tenth of the CPU."""
    if plain_dump:
        await document.get_pymongo_collection().insert_one(stored_form(document))
    else:
        await document.insert()
    events: Sequence[OutboxEvent] = getattr(document, "outbox", ())
    notify_outbox(document.get_pymongo_collection().name, str(document.id), events)


def stored_form(document: KeyedDocument) -> dict[str, Any]:
    """The document as stored: `_id` (its key) first, then every field as pydantic dumps it."""
    return {"_id": document.id, **document.model_dump(exclude={"id"})}


def notify_outbox(collection_name: str, key: str, events: Sequence[OutboxEvent]) -> None:
    """Tells this process's relay, if any, that `key` has new events to publish."""
    listener = _listeners.get(collection_name)
    if listener is not None and events:
        listener(key, events)
