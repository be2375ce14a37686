"""State machines as data, and the one guarded update every state change goes through.

A state change is one conditional atomic update of one document:
`find_one_and_update({key, status, version}, {$set, $inc version, $push history and outbox})`.
It cannot race and cannot apply twice, and it carries its own events (the outbox lives in the
document), so no multi-document transaction is ever needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from paycore.kit.errors import AppError
from paycore.kit.events import OutboxEvent

S = TypeVar("S", bound=StrEnum)


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


class InvalidTransition(AppError):
    """This state change is not allowed from the current state."""

    code = "invalid_transition"
    status = 409


class ChangedConcurrently(AppError):
    """The resource changed while this request was applying; try again."""

    code = "concurrent_modification"
    status = 409
    retryable = True


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
) -> dict[str, Any] | None:
    """Applies the change only if the document `_id == key` is still at `version` (and matches
    `where`). Returns the updated document, or None if it changed in between (nothing was
    written). New outbox events are handed to this process's relay (`notify_outbox`).
    """
    now = datetime.now(UTC)
    update: dict[str, Any] = {
        "$set": {**to_mongo(dict(set_fields or {})), "updated_at": now},
        "$inc": {"version": 1, **dict(inc or {})},
    }
    pushes: dict[str, Any] = {key: value for key, value in to_mongo(dict(push or {})).items()}
    history_entries = to_mongo(list(history))
    outbox_entries = to_mongo(list(events))
    if history_entries:
        pushes["history"] = {"$each": history_entries}
    if outbox_entries:
        pushes["outbox"] = {"$each": outbox_entries}
    if pushes:
        update["$push"] = pushes
    if pull:
        update["$pull"] = to_mongo(dict(pull))
    updated = await collection.find_one_and_update(
        {"_id": key, **dict(where or {}), "version": version},
        update,
        return_document=ReturnDocument.AFTER,
    )
    if updated is not None and outbox_entries:
        notify_outbox(collection.name, key, list(events))
    return updated


OutboxListener = Callable[[str, Sequence[OutboxEvent]], None]
_listeners: dict[str, OutboxListener] = {}


def listen_outbox(collection_name: str, listener: OutboxListener) -> None:
    """Registers this process's relay for a collection (the fast path of `kit.outbox`)."""
    _listeners[collection_name] = listener


def stop_listening(collection_name: str, listener: OutboxListener) -> None:
    """Unregisters a stopped relay, unless another one took its place meanwhile."""
    if _listeners.get(collection_name) == listener:
        del _listeners[collection_name]


def notify_outbox(collection_name: str, key: str, events: Sequence[OutboxEvent]) -> None:
    """Tells this process's relay, if any, that `key` has new events to publish."""
    listener = _listeners.get(collection_name)
    if listener is not None and events:
        listener(key, events)
