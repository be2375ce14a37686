"""CPU per create in one process, the payments-api beside its library floor, without HTTP.

    uv run python bench/create_cpu.py [--creates 300] [--concurrency 1] [--rounds 2] [--profile]

Drives each ASGI app directly (a scope, a body, a `send` that keeps the answer: no client, no
uvicorn, no wrk), `--creates` times, `--concurrency` at once, against the servers of
`infra/local/` and the Cashfree emulator (started here): the payments-api's
`POST /api/v1/payments/create`, then `bench/floor_app.py`'s `POST /create` (the same round trips
through the same clients, nothing else). Each runs in a process of its own (its app started,
warmed up with 30 creates, then measured), alternating api and floor `--rounds` times, so the
machine's load changes both alike. CPU is the process's `time.process_time()` over the creates
and the background work they caused (outbox publishes and removals, 0.5 s after the last);
the api's excess over the floor is ours. `--profile` adds a cProfile (CPU clock) per process
and prints the share of the profiled time in our code and in each library (profiling slows
Python-level code more than C: compare shares, not times); the profiles are kept as
`$TMPDIR/create-cpu-{api,floor}.prof`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


async def post(app: Any, path: str, body: bytes, headers: dict[str, str]) -> int:
    """One request straight into the ASGI app; its status."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip
    await app(scope, receive, send)
    status: int = sent[0]["status"]
    return status


async def measure(which: str, args: argparse.Namespace) -> dict[str, float]:
    """Starts the app `which` (api | floor) in this process, warms it up, and measures."""
    import payments_api_bench as numbers
    from paycore.auth.tokens import mint_token
    from paycore.kit.runner import freeze_startup_objects

    token = mint_token(numbers.JWT_SECRET, "usr_bench", ["write"], issuer="paycore")
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    body = f'{{"amount":10000,"currency":"INR","customer":{numbers.CUSTOMER}}}'.encode()
    if which == "api":
        from paycore.kit.logging import configure_logging
        from paycore.kit.settings import load_settings
        from payments_api.app import build_app
        from payments_api.settings import Settings

        configure_logging("payments-api", "test", "WARNING")
        app, path = build_app(load_settings(Settings)), "/api/v1/payments/create"
    else:
        import floor_app

        app, path = floor_app.build_app(), "/create"
    async with app.router.lifespan_context(app):
        for n in range(30):
            await post(app, path, body, {**headers, "idempotency-key": f"w{which}{n}{time.time()}"})
        await asyncio.sleep(1)
        if which == "api":
            freeze_startup_objects()  # as the services' runner does once started
        numbers_left = iter(range(args.creates))
        profile = cProfile.Profile(time.process_time) if args.profile else None
        run = f"{which}{time.time_ns()}"

        async def worker() -> None:
            for n in numbers_left:
                status = await post(app, path, body, {**headers, "idempotency-key": f"{run}-{n}"})
                if status != 201:
                    raise RuntimeError(f"{which} answered {status}")

        cpu, wall = time.process_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        await asyncio.sleep(0.5)  # the outbox publishes and removals the creates started
        if profile is not None:
            profile.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall - 0.5
    figures = {"cpu_ms": cpu / args.creates * 1000, "wall_ms": wall / args.creates * 1000}
    if profile is not None:
        profile.dump_stats(Path(tempfile.gettempdir()) / f"create-cpu-{which}.prof")
        figures.update(shares(pstats.Stats(profile)))
    return figures


def shares(stats: pstats.Stats) -> dict[str, float]:
    """Share of the profiled time (own time of each function) by where the function lives:
    `ours` (paycore, the services, the floor app), a library's name, or `python` (stdlib and
    built-ins)."""
    spent: collections.Counter[str] = collections.Counter()
    for (file, _, name), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        library = re.search(r"site-packages/([^/]+)", file)
        compiled = re.search(r"of '(\w+)", name) if file == "~" else None
        if compiled and compiled.group(1) in ("pydantic_core", "bson", "pymongo", "uvloop"):
            spent[compiled.group(1).replace("_core", "")] += own
        elif library:
            spent[library.group(1).split(".")[0]] += own
        elif "/src/paycore/" in file or "/src/payments_api/" in file or "floor_app" in file:
            spent["ours"] += own
        else:
            spent["python"] += own
    total = sum(spent.values()) or 1.0
    return {f"share {name}": own / total for name, own in spent.most_common(12)}


def child(args: argparse.Namespace) -> None:
    import uvloop

    print(json.dumps(uvloop.run(measure(args.one, args))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--one", choices=["api", "floor"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        child(args)
        return
    import payments_api_bench as numbers
    from paycore.testing import TEST_ENCRYPTION_KEY

    run = f"cpu{int(time.time())}"
    port = numbers.free_port()
    emulator_url = f"http://127.0.0.1:{port}"
    logs = Path(tempfile.mkdtemp(prefix="create-cpu-"))
    emulator = numbers.start(
        "emulator",
        ["-m", "cashfree_emulator", "--port", str(port), "--secret-key", numbers.SECRET_KEY],
        {**os.environ, "EMULATOR_LOG_LEVEL": "warning"}, f"{emulator_url}/_emulator/health",
        logs,
    )  # fmt: skip
    env = numbers.service_env(run, 0, emulator_url) | {
        "PAYMENT_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        "BENCH_EMULATOR_URL": emulator_url,
    }
    own = [*sys.argv[1:]]
    results: dict[str, list[dict[str, float]]] = {"api": [], "floor": []}
    try:
        for _ in range(args.rounds):
            for which in ("api", "floor"):  # the api first: its start-up declares the exchanges
                done = subprocess.run(
                    [sys.executable, __file__, *own, "--one", which], env=env, cwd=ROOT,
                    capture_output=True, text=True, timeout=900, check=False,
                )  # fmt: skip
                if done.returncode != 0:
                    raise SystemExit(f"{which} failed:\n{done.stderr[-3000:]}")
                results[which].append(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        numbers.stop(emulator)
        asyncio.run(numbers.cleanup(run))
    report(args, results)


def report(args: argparse.Namespace, results: dict[str, list[dict[str, float]]]) -> None:
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"{args.creates} creates x {args.rounds} rounds, concurrency {args.concurrency}, "
          f"load average {load}")  # fmt: skip
    print("| process | CPU ms per create, each round | median | wall ms per create |")
    print("|---|---|---:|---:|")
    medians = {}
    for which, rounds in results.items():
        cpu = [r["cpu_ms"] for r in rounds]
        medians[which] = statistics.median(cpu)
        wall = statistics.median(r["wall_ms"] for r in rounds)
        each = ", ".join(f"{ms:.2f}" for ms in cpu)
        print(f"| {which} | {each} | {medians[which]:.2f} | {wall:.1f} |")
    ours = medians["api"] - medians["floor"]
    print(
        f"ours (api - floor): {ours:.2f} ms per create ({ours / medians['api']:.0%} of the api's)"
    )
    if args.profile:
        for which, rounds in results.items():
            named = {k[6:]: v for k, v in rounds[-1].items() if k.startswith("share ")}
            print(f"{which} profile shares: " + ", ".join(f"{k} {v:.0%}" for k, v in named.items()))


if __name__ == "__main__":
    main()
