"""CPU per command of the local MongoDB substitute (mongo-front) under a payments-like mix.

    uv run python bench/mongo_front_mix.py                     # the built binary, scratch
    uv run python bench/mongo_front_mix.py --binary old=/tmp/mongo-front.old \\
        --binary new=infra/local/bin/mongo-front --seconds 20

Each `--binary NAME=PATH` runs as a scratch instance (bench/mongo_front_lookup.py's
`scratch_front`). A `payments` collection with the payments-api's indexes is filled with
`--docs` relayed payments (empty outbox, ~2.5 KB each); then `--threads` threads repeat what a
payment create sends (9 commands, 8 writes: insert, guarded transition, audit-head claim, audit
insert, audit-head advance, projected `_id` read, outbox removal, second audit insert and head
advance), while one thread runs the outbox relay's sweep (`outbox.0.envelope.occurred_at < t`,
limit 50) every 0.5 s. Prints, per binary: commands/s, the server's CPU ms per command (user +
system from /proc/<pid>/stat), its RSS, and the machine's load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from mongo_front_lookup import binaries_or_built, scratch_front
from pymongo import ASCENDING, MongoClient
from pymongo.collection import Collection

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def envelope(pid: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "envelope": {
            "event_id": uuid.uuid4().hex, "type": "payment.created", "version": 1,
            "occurred_at": now,
            "data": {"payment_id": pid, "order_id": f"ord_{pid}", "user_id": "usr_bench",
                     "amount": 10000, "currency": "INR", "status": "CREATED"},
        },
        "headers": {"request_id": uuid.uuid4().hex, "correlation_id": uuid.uuid4().hex},
    }  # fmt: skip


def payment(pid: str, now: dt.datetime, outbox: list[dict[str, Any]]) -> dict[str, Any]:
    secret = {"key_id": "k1", "nonce": "n" * 16, "ciphertext": "c" * 64}
    doc: dict[str, Any] = {
        "_id": pid, "payment_id": pid, "order_id": f"ord_{pid}", "user_id": "usr_bench",
        "idempotency_key": uuid.uuid4().hex, "amount": 10000, "currency": "INR",
        "status": "CREATED", "version": 0, "cf_order_id": None, "payment_session_id": None,
        "customer": {"customer_id": "c1", "name": secret, "email": secret, "phone": secret,
                     "email_hash": "h" * 64, "phone_hash": "h" * 64},
        "metadata": {}, "recheck": {"due_at": now, "phase": "pending", "checks": 0},
        "history": [], "outbox": outbox, "audit_pending": [], "created_at": now,
        "updated_at": now,
    }  # fmt: skip
    for name in ("captured", "payment", "surcharge", "offer", "refunded", "disputed"):
        doc[f"{name}_amount"] = 0
    for name in ("refund_reservations", "reservations", "settled_refunds", "failed_attempts"):
        doc[name] = []
    return doc


def create_payment_indexes(payments: Collection[dict[str, Any]]) -> None:
    """The payments-api's indexes on `payments` (but `outbox_due`)."""
    payments.create_index("payment_id", unique=True)
    payments.create_index("order_id", unique=True)
    payments.create_index([("user_id", ASCENDING), ("idempotency_key", ASCENDING)], unique=True)
    payments.create_index([("status", ASCENDING), ("updated_at", ASCENDING)])
    payments.create_index([("user_id", ASCENDING), ("created_at", ASCENDING)])
    payments.create_index("recheck.due_at")


class Mix:
    def __init__(self, db: Any) -> None:
        self.payments: Collection[dict[str, Any]] = db["payments"]
        self.audit: Collection[dict[str, Any]] = db["audit_logs"]
        self.commands = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def prepare(self, docs: int) -> None:
        p = self.payments
        create_payment_indexes(p)
        self.audit.create_index([("resource_type", ASCENDING), ("resource_id", ASCENDING)])
        now = dt.datetime.now(dt.UTC)
        batch = [payment(f"pay_old{i:07d}", now, []) for i in range(docs)]
        for start in range(0, docs, 500):
            p.insert_many(batch[start : start + 500])

    def count(self, n: int) -> None:
        with self.lock:
            self.commands += n

    def audit_entry(self, pid: str, seq: int) -> None:
        self.audit.insert_one({
            "_id": f"payment:{pid}:{seq:010d}", "entry_id": uuid.uuid4().hex,
            "at": dt.datetime.now(dt.UTC), "action": "payment.pending",
            "actor": {"kind": "user", "id": "usr_bench", "ip": "127.0.0.1"},
            "before": {"status": "CREATED", "version": 0}, "after": {"status": "PENDING"},
            "resource_type": "payment", "resource_id": pid, "seq": seq,
            "prev_hash": "0" * 64, "hash": "f" * 64,
        })  # fmt: skip

    def create(self) -> None:
        p, now = self.payments, dt.datetime.now(dt.UTC)
        pid = f"pay_{uuid.uuid4().hex}"
        event = envelope(pid, now)
        p.insert_one(payment(pid, now, [event]))
        got = p.find_one_and_update(
            {"_id": pid, "status": "CREATED", "version": 0},
            {"$set": {"status": "PENDING", "cf_order_id": "2149460581", "updated_at": now},
             "$inc": {"version": 1}},
        )  # fmt: skip
        assert got is not None
        p.find_one_and_update(
            {"_id": pid, "audit_head": {"$exists": False}},
            {"$set": {"audit_head": {"seq": 0, "hash": "0" * 64}}},
        )
        for seq in (1, 2):
            self.audit_entry(pid, seq)
            p.find_one_and_update(
                {"_id": pid, "audit_head.seq": seq - 1},
                {"$set": {"audit_head": {"seq": seq, "hash": "f" * 64}}},
            )
        p.find_one({"_id": pid}, {"audit_pending": 1, "audit_head": 1})
        p.update_one({"_id": pid}, {"$pullAll": {"outbox": [event]}})
        self.count(9)

    def creates(self) -> None:
        while not self.stop.is_set():
            self.create()

    def sweeps(self) -> None:
        while not self.stop.wait(0.5):
            cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
            query = {"outbox.0.envelope.occurred_at": {"$lt": cutoff}}
            list(self.payments.find(query, {"outbox": 1}).limit(50))
            self.count(1)


def run(uri: str, pid: int, args: argparse.Namespace) -> dict[str, float]:
    client: MongoClient[dict[str, Any]] = MongoClient(uri, maxPoolSize=args.threads + 2)
    db = client[f"bench_mix_{os.getpid()}"]
    try:
        client.drop_database(db.name)
        mix = Mix(db)
        mix.prepare(args.docs)
        for _ in range(20):  # warm-up: pools, first-use paths
            mix.create()
        mix.commands = 0
        threads = [threading.Thread(target=mix.creates) for _ in range(args.threads)]
        threads.append(threading.Thread(target=mix.sweeps))
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        for t in threads:
            t.start()
        time.sleep(args.seconds)
        mix.stop.set()
        for t in threads:
            t.join()
        cpu, wall = cpu_seconds(pid) - cpu0, time.monotonic() - t0
        return {
            "commands/s": mix.commands / wall,
            "CPU ms/command": cpu * 1000 / mix.commands,
            "CPU %": cpu * 100 / wall,
            "RSS MiB": rss_mib(pid),
            "load": os.getloadavg()[0],
        }
    finally:
        client.drop_database(db.name)
        client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--docs", type=int, default=1000, help="relayed payments filled in first")
    ap.add_argument("--threads", type=int, default=8, help="concurrent creates")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--rounds", type=int, default=1, help="alternate the binaries this often")
    args = ap.parse_args()
    binaries = binaries_or_built(args.binary)
    print(f"{os.cpu_count()} cores; {args.threads} threads, {args.docs} payments, "
          f"{args.seconds:g} s per run")  # fmt: skip
    print("| binary | commands/s | CPU ms/command | CPU % | RSS MiB | load avg |")
    print("|---|---:|---:|---:|---:|---:|")
    for _ in range(args.rounds):
        for name, path in binaries:
            with scratch_front(Path(path)) as (uri, pid):
                r = run(uri, pid, args)
            print(f"| {name} | {r['commands/s']:.0f} | {r['CPU ms/command']:.2f} | "
                  f"{r['CPU %']:.0f} | {r['RSS MiB']:.0f} | {r['load']:.2f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
