"""Values whose storage encoding is delicate come back from the server exactly as written.

The local server (infra/local/mongo-front) stores each document as JSON text with a type schema
and decodes it on every read, including the read half of every update; its patched codec must
keep int32, int64 and double apart, and strings, keys, dates, binaries, object ids, regexes,
timestamps and nesting intact. Each document is compared byte for byte as BSON (types, order
and values) after an insert, after a `$set` of another field (the stored document is decoded,
re-encoded and read back) and after a replace. The values avoid what FerretDB rejects or changes
(docs/ferretdb-compat.md): NaN, infinities, -0.0, NUL, nested arrays, `$` and `.` in keys.
"""

from datetime import UTC, datetime
from typing import Any

import bson
from bson import Binary, Int64, ObjectId, Regex, Timestamp
from bson.raw_bson import RawBSONDocument
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

STRINGS = [
    "", "plain", 'q"uote', "back\\slash", "<&>", "é ü 中 😀", "\u2028\u2029", "tab\tline\n",
    "\x01\x1f\x7f", "\\u0041", "null", "{}", "[1]", "a" * 3000,
]  # fmt: skip
NUMBERS: list[Any] = [
    0, 1, -1, 2**31 - 1, -(2**31),  # int32
    Int64(0), Int64(7), Int64(-(2**31)), 2**31, 2**53 + 1, 2**63 - 1, -(2**63),  # int64
    0.0, 1.0, -2.0, 0.1, 1 / 3, 1e-6, 1e-7, 1e20, 1e21, 1.5e300, 5e-324, 2.0**53 + 2,
    1.7976931348623157e308, 123456789.125,  # double
]  # fmt: skip
OTHERS: list[Any] = [
    True, False, None,
    datetime(2026, 12, 1, 11, 30, 15, 123000, tzinfo=UTC), datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
    Binary(b""), Binary(b"\x00\xff" * 40), Binary(bytes(range(256)), 4), Binary(b"x", 128),
    ObjectId("0123456789abcdef01234567"),  # pragma: allowlist secret
    Regex("^a.*[\"\\\\]$", "ims"), Regex("", ""),
    Timestamp(1, 2), Timestamp(2**32 - 1, 2**32 - 1),
]  # fmt: skip
KEYS = ["", " ", "é", "中文", "<&>", "0", "_id_like", "null"]
# Upstream writes top-level keys unescaped (the SQL insert then fails): these only nested.
NESTED_KEYS = [*KEYS, 'q"', "back\\", "tab\t"]


def documents() -> list[dict[str, Any]]:
    values = [*STRINGS, *NUMBERS, *OTHERS]
    docs: list[dict[str, Any]] = [
        {"_id": "scalars", **{f"v{i}": v for i, v in enumerate(values)}},
        {"_id": "list", "items": values, "empty": [], "docs": [{}, {"a": 1}, {"a": Int64(1)}]},
        {
            "_id": "keys",
            **{k: i for i, k in enumerate(KEYS)},
            "nested": {k: k for k in NESTED_KEYS},
        },
        {
            "_id": "deep",
            "a": {"b": {"c": {"d": [{"e": [1, 2.0, Int64(3), "4", None, {"f": {}}]}]}}},
            "empty_doc": {},
        },
    ]
    # Delicate values as _id too: lookups by _id are pushed down to SQLite with their encoding.
    docs += [{"_id": v, "n": i} for i, v in enumerate([*STRINGS[:13], 7, Int64(8), 9.5])]
    docs += [{"_id": ObjectId("5f0000000000000000000001"), "n": 100}]
    docs += [{"_id": {"k": "é<", "n": Int64(1)}, "n": 101}]
    return docs


async def stored(raw: Any, _id: Any) -> bytes:
    doc = await raw.find_one({"_id": _id})
    assert doc is not None, _id
    return bytes(doc.raw)


async def test_delicate_values_round_trip_exactly(db: AsyncDatabase[dict[str, Any]]) -> None:
    coll = db["values"]
    raw = coll.with_options(
        codec_options=coll.codec_options.with_options(document_class=RawBSONDocument)
    )
    docs = documents()
    await coll.insert_many(docs)

    for doc in docs:
        assert await stored(raw, doc["_id"]) == bson.encode(doc), doc["_id"]

    # A $set re-encodes the whole stored document; the other fields must not move or change.
    for doc in docs:
        after = await coll.find_one_and_update(
            {"_id": doc["_id"]},
            {"$set": {"touched": Int64(1)}},
            return_document=ReturnDocument.AFTER,
        )
        expected = {**doc, "touched": Int64(1)}
        assert after is not None, doc["_id"]
        assert bson.encode(after) == bson.encode(expected), doc["_id"]
        assert await stored(raw, doc["_id"]) == bson.encode(expected), doc["_id"]

    for doc in docs:
        await coll.replace_one({"_id": doc["_id"]}, doc)
        assert await stored(raw, doc["_id"]) == bson.encode(doc), doc["_id"]

    # Lookups by each _id (pushed down with the stored encoding) and by $in find every document.
    ids = [doc["_id"] for doc in docs]
    found = [
        doc["_id"]
        async for doc in coll.find({"_id": {"$in": [i for i in ids if isinstance(i, str)]}})
    ]
    assert sorted(found) == sorted(i for i in ids if isinstance(i, str))
    assert await coll.count_documents({}) == len(docs)
