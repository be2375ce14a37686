"""The local server's pushdown changes no result (infra/local/mongo-front's FerretDB patch).

FerretDB, as patched, narrows a query with a top-level string equality on an indexed field to
that index's entries (plus every document whose field is an array) and re-checks the whole
filter in Go. The same documents in two collections, one with the index (pushed down) and one
without (scanned), must give the same answers to every filter, including the cases where SQL
and MongoDB equality differ: missing fields, nulls, arrays, numbers vs strings, escapes. Against
a real MongoDB the comparison holds as well; the explain check is the FerretDB-only part.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

VALUES: list[Any] = [
    "x", "X", "x ", "", "1", 1, 1.0, 2, None, True, ["x", "y"], ["y"], [{"a": "x"}], [], [None],
    ["1", 1], {"a": "x"}, {"x": 1}, 'q"uote', "back\\slash", "<&>", "é ü 中", "[x]", "\\",
    "x\nline", "ord_0001",
]  # fmt: skip
MISSING = object()
STRINGS = sorted({v for v in VALUES if isinstance(v, str)} | {"absent", "y", "[", "null"})


def documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for n, value in enumerate([*VALUES, MISSING]):
        for g in ("a", "b"):
            doc: dict[str, Any] = {"_id": f"d{n}{g}", "g": g, "n": n}
            if value is not MISSING:
                doc["f"] = value
                # A second string key, sometimes an array too, for the two-key index.
                doc["h"] = ["h", g] if n % 3 == 0 else g if n % 3 == 1 else f"h{g}"
            docs.append(doc)
    return docs


async def twins(
    db: AsyncDatabase[dict[str, Any]],
) -> tuple[AsyncCollection[dict[str, Any]], AsyncCollection[dict[str, Any]]]:
    indexed, scanned = db["indexed"], db["scanned"]
    await indexed.create_index("f")
    await indexed.create_index([("g", 1), ("n", 1)])
    await indexed.create_index([("h", 1), ("f", 1)])  # both keys pushed down together
    for collection in (indexed, scanned):
        await collection.insert_many(documents())
    return indexed, scanned


def filters() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for value in STRINGS:
        out += [
            {"f": value},
            {"f": value, "g": "a"},
            {"g": "b", "f": value},
            {"f": value, "n": {"$gte": 3}},
            {"f": value, "_id": {"$ne": "d0a"}},
            {"h": "a", "f": value},
            {"f": value, "h": "hb"},
            {"h": "h", "f": value, "g": "b"},
        ]
    out += [{"g": "a"}, {"g": "a", "f": None}, {"f": None}, {"f": 1}, {"f": ["x", "y"]}]
    return out


async def on_ferretdb(db: AsyncDatabase[dict[str, Any]]) -> bool:
    """True on the local server (FerretDB); False on a real MongoDB."""
    return "ferretdbVersion" in await db.client.admin.command("buildInfo")


async def ids(collection: AsyncCollection[dict[str, Any]], query: dict[str, Any]) -> list[str]:
    return sorted([doc["_id"] async for doc in collection.find(query, {"_id": 1})])


async def test_find_and_count_are_the_same_with_and_without_the_index(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    indexed, scanned = await twins(db)
    for query in filters():
        expected = await ids(scanned, query)
        assert await ids(indexed, query) == expected, query
        assert await indexed.count_documents(query) == len(expected), query
    # The equality also matches an array holding the value, and strings only equal strings.
    assert await ids(indexed, {"f": "x"}) == ["d0a", "d0b", "d10a", "d10b"]
    assert await ids(indexed, {"f": "1"}) == ["d15a", "d15b", "d4a", "d4b"]
    assert await ids(indexed, {"f": "absent"}) == []


async def test_writes_select_the_same_documents_with_and_without_the_index(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    indexed, scanned = await twins(db)
    for value in STRINGS:
        query = {"f": value, "g": "a"}
        results = []
        for collection in (indexed, scanned):
            updated = await collection.update_many(query, {"$inc": {"hits": 1}})
            found = await collection.find_one_and_update(
                {"f": value, "g": "b"},
                {"$inc": {"hits": 1}},
                sort=[("n", 1)],
                return_document=ReturnDocument.AFTER,
            )
            deleted = await collection.delete_many({"f": value, "n": {"$lt": 5}, "g": "b"})
            results.append((updated.matched_count, found, deleted.deleted_count))
        assert results[0] == results[1], value
    assert await ids(indexed, {"hits": {"$gte": 1}}) == await ids(scanned, {"hits": {"$gte": 1}})
    assert await ids(indexed, {}) == await ids(scanned, {})


async def test_ferretdb_pushes_the_indexed_equality_down(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    indexed, scanned = await twins(db)
    if not await on_ferretdb(db):
        return  # a real MongoDB: it plans with its own indexes
    for collection, pushed in ((indexed, True), (scanned, False)):
        plan = await db.command("explain", {"find": collection.name, "filter": {"f": "x"}})
        assert plan["filterPushdown"] is pushed, plan
        searched = any("USING INDEX" in step for step in plan["queryPlanner"]["Plan"])
        assert searched is pushed, plan
    # Not pushed down: numbers (1 = 1.0 across types), nulls, and fields without an index.
    plan = await db.command("explain", {"find": indexed.name, "filter": {"f": "x", "h": "a"}})
    assert any("h_1_f_1" in step and "<expr>=? AND <expr>=?" in step
               for step in plan["queryPlanner"]["Plan"]), plan  # fmt: skip
    for query in ({"f": 1}, {"f": None}, {"n": "x"}):
        plan = await db.command("explain", {"find": indexed.name, "filter": query})
        assert plan["filterPushdown"] is False, (query, plan)


T0 = datetime(2026, 1, 1, tzinfo=UTC)
# Values of `o` around a path `o.0.t` / `o.t`: missing, scalars, empty and non-empty containers,
# the index and the document-field readings of "0", and values of the other types.
CONTAINERS: list[Any] = [
    None, 1, "s", T0, [], {}, [T0], [{"t": T0}], [{"t": "s"}], [{"t": 5}], [{"t": None}],
    [{}, {"t": T0}], [{"0": {"t": T0}}], {"0": {"t": T0}}, {"t": T0}, {"t": [T0, 7]},
    {"x": 1}, [None], [{"t": T0 + timedelta(days=2)}], ["[]"], {"0": []},
]  # fmt: skip


def range_filters() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in ("o.0.t", "o.t", "o.0"):
        for bound in (T0 + timedelta(days=1), T0, "t", "s", 5, 5.5, 0):
            out += [
                {path: {"$lt": bound}},
                {path: {"$lte": bound}},
                {path: {"$gt": bound}},
                {path: {"$gte": bound}, "n": {"$gte": 0}},
                {path: {"$gte": bound, "$lt": T0 + timedelta(days=3)}},
            ]
    return out


async def test_range_on_a_dotted_path_finds_the_same_documents_narrowed_or_not(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    # FerretDB narrows a top-level `a.b: {$lt: v}` (also $lte, $gt, $gte) to the documents whose
    # `a` is a non-empty array or document; `{"$and": [filter]}` is the same filter unnarrowed.
    coll = db["containers"]
    docs = [{"_id": f"c{n}", "n": n, "o": v} for n, v in enumerate(CONTAINERS)]
    await coll.insert_many([*docs, {"_id": "missing", "n": -1}])
    for query in range_filters():
        expected = await ids(coll, {"$and": [query]})
        assert await ids(coll, query) == expected, query
        assert await coll.count_documents(query) == len(expected), query
        limited = [d["_id"] async for d in coll.find(query, {"_id": 1}).sort("n", 1).limit(2)]
        unnarrowed = coll.find({"$and": [query]}, {"_id": 1}).sort("n", 1).limit(2)
        assert limited == [d["_id"] async for d in unnarrowed], query
    # Through an array's first element and through a document's field "0" alike.
    assert {"c7", "c13"} <= set(await ids(coll, {"o.0.t": {"$lt": T0 + timedelta(days=1)}}))
    if not await on_ferretdb(db):
        return
    for query, pushed in (
        ({"o.0.t": {"$lt": T0}}, True),
        ({"o.0.t": {"$lte": None}}, False),  # null also matches a missing value
        ({"o.0.t": {"$lt": T0, "$exists": True}}, False),
        ({"$and": [{"o.0.t": {"$lt": T0}}]}, False),
    ):
        plan = await db.command("explain", {"find": coll.name, "filter": query})
        assert plan["filterPushdown"] is pushed, (query, plan)


async def test_id_in_list_finds_the_same_documents_narrowed_or_not(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    # FerretDB narrows `_id: {$in: [strings]}` to `_id IN (...)` on the `_id_` index.
    indexed, _ = await twins(db)
    queries: list[dict[str, Any]] = [
        {"_id": {"$in": ["d0a"]}},
        {"_id": {"$in": ["d0a", "d1b", "nope", "d0a"]}},
        {"_id": {"$in": ["d2a", "d3b"]}, "g": "a"},
        {"g": "b", "_id": {"$in": ["d2a", "d3b", "d4b"]}, "n": {"$gte": 4}},
        {"_id": {"$in": ["d5a", 5, None]}},  # not narrowed: other types
        {"_id": {"$in": []}},
        {"_id": {"$nin": ["d0a"]}},
    ]
    for query in queries:
        expected = await ids(indexed, {"$and": [query]})
        assert await ids(indexed, query) == expected, query
        assert await indexed.count_documents(query) == len(expected), query
    assert await ids(indexed, queries[1]) == ["d0a", "d1b"]
    if not await on_ferretdb(db):
        return
    plan = await db.command("explain", {"find": indexed.name, "filter": queries[1]})
    assert any("USING INDEX" in step for step in plan["queryPlanner"]["Plan"]), plan
    plan = await db.command("explain", {"find": indexed.name, "filter": queries[4]})
    assert plan["filterPushdown"] is False, plan


# Values of `outbox` around the sweep's path `outbox.0.envelope.occurred_at`: the normal shapes
# (empty, one or more events), missing and scalar outboxes, the document-field reading of "0",
# arrays at the deeper levels (FerretDB stores no array directly in an array), first elements
# without the path, and values of other types.
EARLY, LATE, OLD = T0 - timedelta(days=1), T0 + timedelta(days=2), datetime(1960, 1, 1, tzinfo=UTC)
OUTBOXES: list[Any] = [
    [], [{"envelope": {"occurred_at": T0}}], [{"envelope": {"occurred_at": LATE}}],
    [{"envelope": {"occurred_at": LATE}}, {"envelope": {"occurred_at": EARLY}}],
    [{"envelope": {"occurred_at": OLD}, "headers": {}}], None, 1, "s", T0, {},
    {"0": {"envelope": {"occurred_at": T0}}}, {"1": {"envelope": {"occurred_at": T0}}},
    [{"envelope": [{"occurred_at": T0}]}],
    [{"envelope": [{"occurred_at": LATE}, {"occurred_at": EARLY}]}],
    [{"envelope": {"occurred_at": [LATE, EARLY]}}], [{"envelope": {"occurred_at": []}}],
    [{}, {"envelope": {"occurred_at": T0}}],
    [{"0": {"envelope": {"occurred_at": T0}}}], [{"envelope": {}}], [{"envelope": "x"}], [5],
    [None], *[[{"envelope": {"occurred_at": v}}] for v in (
        5, 5.5, -1, int(T0.timestamp() * 1000), str(T0), "", None, True, {"x": 1}, {},
    )],
]  # fmt: skip


async def outbox_twins(
    db: AsyncDatabase[dict[str, Any]],
) -> tuple[AsyncCollection[dict[str, Any]], AsyncCollection[dict[str, Any]]]:
    indexed, scanned = db["outbox_indexed"], db["outbox_scanned"]
    await indexed.create_index([("outbox.0.envelope.occurred_at", 1)], name="outbox_due")
    # Other shapes of dotted index: a name after the array, an index past the first element.
    await indexed.create_index([("outbox.envelope.occurred_at", 1)])
    await indexed.create_index([("outbox.1.envelope.occurred_at", -1)])
    docs = [{"_id": f"o{n}", "n": n, "outbox": v} for n, v in enumerate(OUTBOXES)]
    for collection in (indexed, scanned):
        await collection.insert_many([*docs, {"_id": "missing", "n": -1}])
    return indexed, scanned


def outbox_filters() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    paths = ("outbox.0.envelope.occurred_at", "outbox.envelope.occurred_at")
    for path in (*paths, "outbox.1.envelope.occurred_at"):
        for bound in (T0, T0 + timedelta(days=1), EARLY, OLD, datetime(1970, 1, 1, tzinfo=UTC)):
            out += [
                {path: {"$lt": bound}},
                {path: {"$lte": bound}},
                {path: {"$gt": bound}},
                {path: {"$gte": bound}},
                {path: {"$gte": EARLY, "$lt": bound}},
                {path: {"$lt": bound}, "n": {"$gte": 2}},
            ]
        for bound in (5, 5.5, "s", int(T0.timestamp() * 1000)):  # not dates: not on the index
            out += [{path: {"$lt": bound}}, {path: {"$gte": bound}}]
    return out


async def test_outbox_range_finds_the_same_documents_with_and_without_the_index(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    indexed, scanned = await outbox_twins(db)
    for query in outbox_filters():
        expected = await ids(scanned, {"$and": [query]})
        assert await ids(scanned, query) == expected, query
        assert await ids(indexed, query) == expected, query
        assert await indexed.count_documents(query) == len(expected), query
        limited = [d["_id"] async for d in indexed.find(query, {"_id": 1}).sort("n", 1).limit(3)]
        assert limited == sorted(expected, key=lambda i: -1 if i == "missing" else int(i[1:]))[:3]
    # The sweep's filter: the waiting first events, through an array's first element and a
    # document's field "0", deeper arrays included; not empty outboxes, nor non-dates.
    due = await ids(indexed, {"outbox.0.envelope.occurred_at": {"$lt": T0 + timedelta(days=1)}})
    assert {"o1", "o4", "o10", "o12", "o13", "o14"} <= set(due), due
    assert not {"o0", "o2", "o3", "o9", "o16", "missing"} & set(due), due


async def searches_index(db: AsyncDatabase[dict[str, Any]], name: str, query: Any) -> bool:
    """Whether FerretDB's plan for `find(query)` on collection `name` searches an index."""
    plan = await db.command("explain", {"find": name, "filter": query})
    return any("USING INDEX" in step for step in plan["queryPlanner"]["Plan"])


async def test_ferretdb_searches_the_outbox_index_for_the_sweep(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    if not await on_ferretdb(db):
        return  # a real MongoDB: it plans with its own indexes
    indexed, scanned = await outbox_twins(db)
    sweep = {"outbox.0.envelope.occurred_at": {"$lt": datetime.now(UTC)}}
    assert await searches_index(db, indexed.name, sweep)
    assert not await searches_index(db, scanned.name, sweep)
    plan = await db.command("explain", {"find": indexed.name, "filter": sweep})
    assert any("outbox_due (<expr><?)" in step for step in plan["queryPlanner"]["Plan"]), plan
    # A lower bound alone, or a bound that is not a date, is left to the scan.
    for query in (
        {"outbox.0.envelope.occurred_at": {"$gt": T0}},
        {"outbox.0.envelope.occurred_at": {"$lt": 5}},
    ):
        assert not await searches_index(db, indexed.name, query), query
