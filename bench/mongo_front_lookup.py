"""`_id` lookups and guarded updates on the local MongoDB substitute, by collection size.

    uv run python bench/mongo_front_lookup.py                       # the built binary, scratch
    uv run python bench/mongo_front_lookup.py --binary old=/tmp/mongo-front.old \\
        --binary new=infra/local/bin/mongo-front --sizes 100,2000,5000,20000
    uv run python bench/mongo_front_lookup.py --uri live=mongodb://127.0.0.1:27017/

`--binary NAME=PATH` starts that mongo-front binary as a scratch instance (free port, its own
temporary socket and data directory, removed afterwards); `--uri NAME=URI` uses a running server
(a scratch database `bench_lookup_<pid>` is created there and dropped). For each server and each
size N, a fresh collection gets N documents, then, each timed one at a time on random existing
keys:

- `find_one({"_id": k})`
- `update_one({"_id": k}, {"$inc": {"v": 1}})`
- `find_one_and_update({"_id": k, "v": {"$gte": 0}}, {"$inc": {"v": 1}})` (a guarded update: the
  filter has other keys than `_id`)
- `insert_one` of a new document

Each operation runs `--samples` times or until `--budget` seconds are spent on it, whichever is
first (at least 5 samples). Prints p50 / p95 in ms per server, size and operation, with the
machine's core count.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from pymongo import MongoClient
from pymongo.collection import Collection

ROOT = Path(__file__).resolve().parents[1]
OPS = ("find_one", "update_one", "find_one_and_update", "insert_one")
MIN_SAMPLES = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def scratch_front(binary: Path) -> Iterator[tuple[str, int]]:
    """Start `binary` on a free port with its own socket and data dir; yield its URI and pid."""
    tmp = Path(tempfile.mkdtemp(prefix="mongo-front-bench-"))
    port = free_port()
    log = (tmp / "front.log").open("wb")
    proc = subprocess.Popen(
        [
            str(binary),
            "-listen",
            f"127.0.0.1:{port}",
            "-socket",
            str(tmp / "fdb.sock"),
            "-data",
            str(tmp / "data"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                sys.exit(f"{binary} exited: {(tmp / 'front.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit(f"{binary} did not open port {port} within 30 s")
                time.sleep(0.1)
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def timed(fn: Callable[[], object], samples: int, budget: float) -> list[float]:
    """Run fn up to `samples` times or until `budget` seconds are spent; durations in ms."""
    out: list[float] = []
    spent = 0.0
    while len(out) < samples and (len(out) < MIN_SAMPLES or spent < budget):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        spent += dt
        out.append(dt * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def doc(i: int) -> dict[str, object]:
    return {
        "_id": f"k{i:08d}",
        "v": 0,
        "status": "PENDING",
        "version": 1,
        "user_id": f"u{i % 97}",
        "amount": i * 100,
        "note": "x" * 200,
    }


def measure_collection(
    coll: Collection[dict[str, object]], n: int, samples: int, budget: float
) -> dict[str, list[float]]:
    """Fill `coll` with n documents, then time each operation on random existing keys."""
    for start in range(0, n, 1000):
        coll.insert_many([doc(i) for i in range(start, min(n, start + 1000))])
    assert coll.estimated_document_count() == n
    rng = random.Random(n)
    next_new = iter(range(n, n + 10**9))

    def key() -> str:
        return f"k{rng.randrange(n):08d}"

    def find_one() -> None:
        assert coll.find_one({"_id": key()}) is not None

    def update_one() -> None:
        assert coll.update_one({"_id": key()}, {"$inc": {"v": 1}}).matched_count == 1

    def find_one_and_update() -> None:
        got = coll.find_one_and_update({"_id": key(), "v": {"$gte": 0}}, {"$inc": {"v": 1}})
        assert got is not None

    def insert_one() -> None:
        coll.insert_one(doc(next(next_new)))

    fns = {
        "find_one": find_one,
        "update_one": update_one,
        "find_one_and_update": find_one_and_update,
        "insert_one": insert_one,
    }
    return {op: timed(fns[op], samples, budget) for op in OPS}


def measure(
    uri: str, sizes: list[int], samples: int, budget: float
) -> dict[int, dict[str, list[float]]]:
    client: MongoClient[dict[str, object]] = MongoClient(uri)
    db = client[f"bench_lookup_{os.getpid()}"]
    results: dict[int, dict[str, list[float]]] = {}
    try:
        client.drop_database(db.name)
        for n in sizes:
            coll = db[f"docs_{n}"]
            results[n] = measure_collection(coll, n, samples, budget)
            coll.drop()
            print(f"  {n:>6} docs done", file=sys.stderr)
    finally:
        client.drop_database(db.name)
        client.close()
    return results


def parse_named(values: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for v in values:
        name, sep, target = v.partition("=")
        if not sep or not name or not target:
            sys.exit(f"--{what} wants NAME=VALUE, got {v!r}")
        out.append((name, target))
    return out


def binaries_or_built(values: list[str]) -> list[tuple[str, str]]:
    """The `--binary NAME=PATH` values, or the binary up.sh built."""
    return parse_named(values, "binary") or [("built", str(ROOT / "infra/local/bin/mongo-front"))]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--binary", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--uri", action="append", default=[], metavar="NAME=URI")
    ap.add_argument("--sizes", default="100,2000,5000,20000")
    ap.add_argument("--samples", type=int, default=200, help="max timed calls per operation")
    ap.add_argument("--budget", type=float, default=8.0, help="seconds per operation and size")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    binaries = parse_named(args.binary, "binary")
    uris = parse_named(args.uri, "uri")
    if not binaries and not uris:
        binaries = [("built", str(ROOT / "infra/local/bin/mongo-front"))]

    all_results: list[tuple[str, dict[int, dict[str, list[float]]]]] = []
    for name, path in binaries:
        print(f"{name}: scratch instance of {path}", file=sys.stderr)
        with ExitStack() as stack:
            uri, _ = stack.enter_context(scratch_front(Path(path)))
            all_results.append((name, measure(uri, sizes, args.samples, args.budget)))
    for name, uri in uris:
        print(f"{name}: {uri}", file=sys.stderr)
        all_results.append((name, measure(uri, sizes, args.samples, args.budget)))

    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    print(
        f"\n{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    print("ms per call, p50 / p95 (samples)\n")
    header = ["server", "docs", *OPS]
    rows = [header, ["---"] * len(header)]
    for name, res in all_results:
        for n, ops in res.items():
            cells = [
                f"{statistics.median(v):.2f} / {pct(v, 0.95):.2f} ({len(v)})"
                for v in (ops[op] for op in OPS)
            ]
            rows.append([name, f"{n:,}", *cells])
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
