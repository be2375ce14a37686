"""CPU of one outbox sweep on the local MongoDB substitute (mongo-front), by collection size.

    uv run python bench/outbox_sweep.py --binary old=/tmp/mongo-front.old \\
        --binary new=infra/local/bin/mongo-front --docs 500 --docs 4000

Each `--binary NAME=PATH` runs as a scratch instance (bench/mongo_front_lookup.py's
`scratch_front`) per `--docs` size. A `payments` collection with the payments-api's indexes,
`outbox_due` included (`paycore.kit.events.OUTBOX_DUE_INDEX`), is filled with that many relayed
payments (empty outbox, ~2.5 KB each, bench/mongo_front_mix.py's) and `--waiting` payments whose
event is past the grace period. Then, the server otherwise idle, `--sweeps` times the relay's
sweep (`outbox.0.envelope.occurred_at < now - 5 s`, limit 100, `{outbox: 1}`). Also the hot
path's writes of an event, timed with and without the `outbox_due` index: insert a payment with
one event, then the relay's `$pullAll` of it. Prints the server's CPU (user + system from
/proc/<pid>/stat) per sweep and per insert + removal, and the machine's load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path
from typing import Any

from mongo_front_lookup import binaries_or_built, scratch_front
from mongo_front_mix import cpu_seconds, create_payment_indexes, envelope, payment
from pymongo import ASCENDING, MongoClient
from pymongo.collection import Collection

SWEEP = "outbox.0.envelope.occurred_at"


def create_indexes(payments: Collection[dict[str, Any]], outbox_due: bool) -> None:
    create_payment_indexes(payments)
    if outbox_due:
        payments.create_index([(SWEEP, ASCENDING)], name="outbox_due")


def fill(payments: Collection[dict[str, Any]], docs: int, waiting: int) -> None:
    now = dt.datetime.now(dt.UTC)
    batch = [payment(f"pay_old{i:07d}", now, []) for i in range(docs)]
    past = now - dt.timedelta(minutes=1)
    batch += [payment(f"pay_wait{i:04d}", past, [envelope(f"w{i}", past)]) for i in range(waiting)]
    for start in range(0, len(batch), 500):
        payments.insert_many(batch[start : start + 500])


def sweep_ms(payments: Collection[dict[str, Any]], pid: int, sweeps: int, waiting: int) -> float:
    cpu0 = cpu_seconds(pid)
    for _ in range(sweeps):
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        found = list(payments.find({SWEEP: {"$lt": cutoff}}, {"outbox": 1}).limit(100))
        assert len(found) == min(waiting, 100), len(found)
    return (cpu_seconds(pid) - cpu0) * 1000 / sweeps


def write_ms(payments: Collection[dict[str, Any]], pid: int, writes: int) -> float:
    """CPU per insert of a payment with one event plus the removal of that event."""
    cpu0 = cpu_seconds(pid)
    for i in range(writes):
        now = dt.datetime.now(dt.UTC)
        pid_ = f"pay_new{i:07d}"
        event = envelope(pid_, now)
        payments.insert_one(payment(pid_, now, [event]))
        payments.update_one({"_id": pid_}, {"$pullAll": {"outbox": [event]}})
    return (cpu_seconds(pid) - cpu0) * 1000 / writes


def run(uri: str, pid: int, docs: int, args: argparse.Namespace) -> dict[str, float]:
    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    try:
        indexed, plain = client["bench_sweep"]["payments"], client["bench_sweep"]["plain"]
        create_indexes(indexed, outbox_due=True)
        create_indexes(plain, outbox_due=False)
        fill(indexed, docs, args.waiting)
        sweep_ms(indexed, pid, 3, args.waiting)  # warm-up
        return {
            "sweep": sweep_ms(indexed, pid, args.sweeps, args.waiting),
            "write": write_ms(indexed, pid, args.writes),
            "write_plain": write_ms(plain, pid, args.writes),
            "load": os.getloadavg()[0],
        }
    finally:
        client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--docs", type=int, action="append", help="relayed payments (repeatable)")
    ap.add_argument("--waiting", type=int, default=5, help="payments with a waiting event")
    ap.add_argument("--sweeps", type=int, default=40)
    ap.add_argument("--writes", type=int, default=200)
    args = ap.parse_args()
    binaries = binaries_or_built(args.binary)
    print(f"{os.cpu_count()} cores; {args.waiting} waiting, {args.sweeps} sweeps, "
          f"{args.writes} inserts + removals")  # fmt: skip
    print("| binary | payments | CPU ms/sweep | CPU ms/insert+removal (outbox_due / none) | load |")
    print("|---|---:|---:|---:|---:|")
    for docs in args.docs or [500, 4000]:
        for name, path in binaries:
            with scratch_front(Path(path)) as (uri, pid):
                r = run(uri, pid, docs, args)
            print(f"| {name} | {docs} | {r['sweep']:.2f} | {r['write']:.2f} / "
                  f"{r['write_plain']:.2f} | {r['load']:.2f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
