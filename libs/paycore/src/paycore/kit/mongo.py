"""MongoDB through Beanie on PyMongo's async client, portable to the local FerretDB server.

Indexes are created by us, one `createIndexes` call per index with an explicit name: FerretDB
1.24 crashes on a call that names two existing indexes, which is what Beanie sends on every
start after the first (docs/ferretdb-compat.md §4).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, TypeVar

from beanie import Document, init_beanie
from loguru import logger
from pydantic import Field, model_validator
from pymongo import AsyncMongoClient, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure

from paycore.kit.futures import settle
from paycore.kit.settings import MongoSettings

D = TypeVar("D", bound=Document)


class KeyedDocument(Document):
    """A document whose `_id` is its business key (`payment_id`, `refund_id`, ...).

    Look-ups and guarded updates then filter on `_id`: the primary index on MongoDB, and the
    one field the local FerretDB server finds without scanning the collection.
    """

    key_field: ClassVar[str]
    id: str | None = Field(default=None)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _id_is_the_key(self) -> Self:
        if self.id is None:
            self.id = getattr(self, self.key_field)
        return self


class TimestampedDocument(KeyedDocument):
    """A keyed document that keeps when it was made (`created_at`) and last written
    (`updated_at`: every `guarded_update` sets it, and so must any other write)."""

    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def mongo_client(settings: MongoSettings) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(
        settings.mongo_uri,
        serverSelectionTimeoutMS=settings.mongo_timeout_ms,
        connectTimeoutMS=settings.mongo_connect_timeout_ms,
        socketTimeoutMS=settings.mongo_socket_timeout_ms,
        tz_aware=True,
        appname=settings.service_name,
    )


async def connect_mongo(
    settings: MongoSettings, models: Sequence[type[Document]]
) -> AsyncMongoClient[dict[str, Any]]:
    """Connects, initialises Beanie for `models` and ensures their indexes."""
    client = mongo_client(settings)
    await init_beanie(
        database=client[settings.mongo_db], document_models=list(models), skip_indexes=True
    )
    await ensure_indexes(models)
    return client


async def ensure_indexes(models: Sequence[type[Document]]) -> None:
    """Creates each model's declared indexes (`Settings.indexes`), one call per index, and
    drops the ones a model has retired (`retired_indexes`: a unique index that no longer
    holds would otherwise keep refusing writes)."""
    for model in models:
        collection = model.get_pymongo_collection()
        retired = set(getattr(model, "retired_indexes", ()))
        if retired:
            existing = {index["name"] async for index in await collection.list_indexes()}
            for name in sorted(retired & existing):
                await collection.drop_index(name)
        for index in model.get_settings().indexes:
            if "name" not in index.index.document:
                raise ValueError(f"{model.__name__}: every index needs an explicit name")
            await collection.create_indexes([index.index])
    logger.debug("indexes ensured", models=[model.__name__ for model in models])


async def find_one(model: type[D], query: Mapping[str, Any]) -> D | None:
    """The first document of `model`'s collection that matches `query`, read as `model`;
    None if there is none."""
    raw = await model.get_pymongo_collection().find_one(dict(query))
    return model.model_validate(raw) if raw is not None else None


async def insert_new(document: Document) -> bool:
    """Inserts `document`; False, with nothing written, if a document with one of its unique
    keys is stored already. Any other failure raises."""
    try:
        await document.insert()
    except Exception as exc:
        if not is_duplicate_key(exc):
            raise
        return False
    return True


def is_duplicate_key(exc: BaseException) -> bool:
    """True for a unique-index violation on MongoDB, and on FerretDB's update path.

    FerretDB reports an update that creates a duplicate as InternalError code 1 carrying
    SQLite's "UNIQUE constraint" text (docs/ferretdb-compat.md §4).
    """
    if isinstance(exc, DuplicateKeyError):
        return True
    return (
        isinstance(exc, OperationFailure)
        and exc.code == 1
        and "UNIQUE constraint" in str(exc.details or exc)
    )


class GroupCommit:
    """Writes the updates of concurrent callers to one collection in one unordered bulk write.

    A caller waits for the write that carried its update; callers arriving while a write is in
    flight share the next one (a group commit): under load, one `update` command serves many
    documents instead of one write each. Raises what the write raised; if a write of several
    fails other than on the connection, each statement is written again alone, so a caller
    raises only its own statement's error. Statements must therefore be safe to write twice:
    version-guarded, or idempotent like a `$pullAll`.

    `linger_seconds`: how long each write waits for more callers before it goes (0: at once),
    worth it where callers come one after another faster than the wait, and the wait delays
    nothing a reader sees. `max_batch` bounds a write: on the local server one write command
    holds its database's write lock to the end, so a long one would hold up every other writer.
    """

    def __init__(
        self,
        collection: Callable[[], AsyncCollection[dict[str, Any]]],
        max_batch: int = 50,
        linger_seconds: float = 0.0,
    ) -> None:
        self.collection = collection
        self.max_batch = max_batch
        self.linger_seconds = linger_seconds
        self._waiting: list[tuple[UpdateOne, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, update: UpdateOne) -> bool:
        """Writes `update` with the others waiting. True if every statement of that write
        matched a document (so this one did); False if one did not, which may be this one or
        another (a guarded caller then reads its document to know)."""
        loop = asyncio.get_running_loop()
        if self._writer is not None and self._writer.get_loop() is not loop:
            self._writer, self._waiting = None, []  # left by a loop that has ended
        future: asyncio.Future[bool] = loop.create_future()
        self._waiting.append((update, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        while self._waiting:
            # Before every batch, not only the first: callers arriving during a write also
            # wait for company rather than go out a few at a time.
            if self.linger_seconds:
                await asyncio.sleep(self.linger_seconds)
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            await self._write_batch(batch)

    async def _write_batch(self, batch: list[tuple[UpdateOne, asyncio.Future[bool]]]) -> None:
        futures = [future for _, future in batch]
        try:
            result = await self.collection().bulk_write([op for op, _ in batch], ordered=False)
        except Exception as exc:
            if len(batch) == 1 or isinstance(exc, ConnectionFailure):
                settle(futures, exc)
                return
            # One statement's failure (the local server stops the command there; MongoDB
            # reports it by index) must not fail the others: each is written again alone and
            # answers for itself. A statement the failed write applied changes nothing the
            # second time (a guarded update no longer matches; a `$pullAll` finds nothing).
            for one in batch:
                await self._write_batch([one])
            return
        settle(futures, None, result.matched_count + result.upserted_count == len(batch))
