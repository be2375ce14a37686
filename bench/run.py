"""`make bench`: every benchmark in one run (under 5 minutes), one table.

    uv run python bench/run.py [--seconds 8] [--connections 16] [--rate 100]

Starts, as separate processes on 127.0.0.1: the trivial Starlette app (`bench/trivial_app.py`),
the Cashfree emulator, and the payments-api, webhook-ingress and webhook-processor (each through
`bench/instrumented.py`, which counts its MongoDB commands with a PyMongo command listener),
against the servers of `infra/local/` (or MONGO_URI/RABBITMQ_URL/REDIS_URL), with a database,
queue prefix and Redis prefix of their own (removed afterwards). Then measures, in order:

1. trivial `POST /echo`, closed loop (`wrk`): the floor every other line is divided by (×trivial);
2. the emulator's create-order and the payments-api create, closed loop (`wrk`, unique keys);
3. the emulator's create-order and the payments-api create at a fixed rate (open loop), so the
   latency the service adds over the gateway is measured at the same load;
4. the trivial endpoint and the webhook-ingress with unique, signed webhooks (a lean Python
   client, `--connections` 32), each alone;
5. the pipeline at a fixed rate: the emulator's checkout pays a PENDING payment and signs the
   webhook; latency from that signature's timestamp to the payment's SUCCESS `updated_at`.

Beside the api's closed-loop create, the **library floor** (`bench/floor_app.py`): the same
round trips through the same client libraries and nothing else, so its CPU per request is the
libraries' cost and the api's excess over it is ours. `--create-only` runs just the
closed-loop lines of a create (trivial, emulator, api, floor: about 90 s).

For every line: operations per second, p50/p99, errors, the ratio of its throughput to the
trivial endpoint's with the same client, each process's CPU time per operation (from
`/proc/<pid>/stat`: our services, the emulator, and the local servers when their pid files are
in this checkout's `var/`), MongoDB commands per operation (all / writes) per service, and the
other round trips per operation (Redis round trips and commands, HTTP requests, AMQP publishes).
Memory: each process's RSS after start-up (at rest) and at the end (after load); CPU per second
at rest (what a line's CPU per op carries divided by its rate).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
from payments_api_bench import (
    APP_ID,
    CUSTOMER,
    JWT_SECRET,
    SECRET_KEY,
    WRK_API,
    WRK_EMULATOR,
    cpu_model,
    cpu_seconds,
    create_calls,
    fixed_rate,
    free_port,
    service_env,
    wrk,
)
from processes import launch
from webhook_bench_support import percentile, post_all
from webhook_ingress_bench import signed_webhooks

ROOT = Path(__file__).resolve().parents[1]
EMULATOR_HEADERS = {
    "x-client-id": APP_ID, "x-client-secret": SECRET_KEY, "x-api-version": "2025-01-01",
    "content-type": "application/json",
}  # fmt: skip
CREATE_BODY = f'{{"amount":10000,"currency":"INR","customer":{CUSTOMER}}}'
WRK_FLOOR = WRK_API.replace("/api/v1/payments/create", "/create")
WRITES = {"insert", "update", "delete", "findAndModify"}
OURS = (
    "payments-api", "library-floor", "webhook-ingress", "pipeline-ingress", "webhook-processor",
)  # fmt: skip
SERVER_PID_FILES = {
    "mongo-front": "var/mongo/mongo-front.pid",
    "rabbitmq": "var/rabbitmq/rabbitmq.pid",
    "redis": "var/redis/redis.pid",
}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Proc:
    name: str
    pid: int
    process: subprocess.Popen[bytes] | None = None
    counts_file: Path | None = None
    rss_rest: float = float("nan")

    def cpu(self) -> float:
        try:
            return cpu_seconds(self.pid)
        except OSError:
            return float("nan")

    def counts(self) -> dict[str, int]:
        if self.counts_file is None or not self.counts_file.exists():
            return {}
        counts: dict[str, int] = json.loads(self.counts_file.read_text())
        return counts


@dataclass
class Line:
    label: str
    ops: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    baseline: str | None = None  # the trivial line its throughput is divided by
    load: str = ""
    cpu_ms: dict[str, float] = field(default_factory=dict)
    db: dict[str, tuple[float, float]] = field(default_factory=dict)  # service -> (all, writes)
    # service -> other round trips per op ("redis:round trips", "http:requests", ...)
    other: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run = f"{int(time.time())}{uuid.uuid4().hex[:4]}"
        self.logs = Path(tempfile.mkdtemp(prefix="bench-"))
        self.procs: dict[str, Proc] = {}
        self.lines: list[Line] = []
        self.rest_cpu_ms: dict[str, float] = {}  # process -> CPU ms per second at rest
        for name, relative in SERVER_PID_FILES.items():
            path = ROOT / relative
            if path.exists():
                pid = int(path.read_text().split()[0])
                if Path(f"/proc/{pid}").exists():
                    self.procs[name] = Proc(name, pid)
        # Servers started elsewhere (e.g. another mongo-front build behind MONGO_URI):
        # BENCH_SERVER_PIDS="mongo-front=1234,redis=5678".
        for item in filter(None, os.environ.get("BENCH_SERVER_PIDS", "").split(",")):
            name, _, pid_text = item.partition("=")
            self.procs[name] = Proc(name, int(pid_text))

    # --- processes -----------------------------------------------------------------------------

    def start(self, name: str, args: list[str], env: dict[str, str], health: str) -> str:
        log = self.logs / f"{name}.log"
        counts_file = self.logs / f"{name}.counts.json" if name in OURS else None
        if counts_file is not None:
            env = {**env, "BENCH_COUNTS": str(counts_file)}
            args = [str(ROOT / "bench/instrumented.py"), *args[1:]]  # instead of "-m"
        process = launch(name, args, env, health, log, timeout=90)
        self.procs[name] = Proc(name, process.pid, process, counts_file)
        return health.split("/", 3)[2]

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        assert proc.process is not None
        proc.process.terminate()
        proc.process.wait(timeout=30)

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.process is None or proc.process.poll() is not None:
                continue
            proc.process.terminate()
            try:
                proc.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.process.kill()

    # --- measuring -----------------------------------------------------------------------------

    def snapshot(self) -> tuple[dict[str, float], dict[str, dict[str, int]]]:
        cpu = {name: proc.cpu() for name, proc in self.procs.items()}
        counts = {name: proc.counts() for name, proc in self.procs.items() if proc.counts_file}
        return cpu, counts

    def measured(self, line: Line, before: Any, settle: float = 1.0) -> Line:
        """Attributes CPU and database commands since `before` to `line`'s operations; waits
        `settle` seconds first so background work the operations caused (outbox relays) counts."""
        time.sleep(settle)
        self.quiesce()
        cpu_after, counts_after = self.snapshot()
        cpu_before, counts_before = before
        ops = max(line.ops, 1)
        line.load = load_average()
        for name in self.procs:
            used = cpu_after[name] - cpu_before.get(name, cpu_after[name])
            if not math.isnan(used):
                line.cpu_ms[name] = used / ops * 1000
        for name, after in counts_after.items():
            earlier = counts_before.get(name, {})
            every = {key: value - earlier.get(key, 0) for key, value in after.items()}
            other = {
                key: n / ops
                for key, n in every.items()
                if ":" in key and n and not key.startswith("statements:")
            }
            if other:
                line.other[name] = other
            diff = {key: n for key, n in every.items() if ":" not in key}  # MongoDB commands
            total = sum(diff.values())
            writes = sum(v for key, v in diff.items() if key.split()[0] in WRITES)
            if total:
                line.db[name] = (total / ops, writes / ops)
                # The commands, then the write statements they carried ("statements: ...").
                breakdown = {k: v for k, v in diff.items() if v} | {
                    k.replace(":", ": ", 1): v
                    for k, v in every.items()
                    if k.startswith("statements:") and v
                }
                (self.logs / f"{name}.{len(self.lines)}.commands.json").write_text(
                    json.dumps(breakdown, indent=1)
                )
        self.lines.append(line)
        return line

    @contextlib.contextmanager
    def profiled(self, name: str | None, seconds: float) -> Iterator[None]:
        """With --profile, samples process `name` with py-spy while the line runs and writes
        its hottest frames (own and total time) to `<logs>/<name>.profile.txt`."""
        spy = shutil.which("py-spy") or shutil.which("py-spy", path=Path.home() / ".local/bin")
        if not self.args.profile or name is None or spy is None:
            yield
            return
        raw = self.logs / f"{name}.profile.raw"
        recorder = subprocess.Popen(
            [spy, "record", "--pid", str(self.procs[name].pid), "--duration", str(int(seconds)),
             "--format", "raw", "--output", str(raw), "--nonblocking", "--rate", "200"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            yield
        finally:
            recorder.wait(timeout=seconds + 60)
            if raw.exists():
                (self.logs / f"{name}.profile.txt").write_text(top_frames(raw.read_text()))

    def measure_rest(self, seconds: float = 3.0) -> None:
        """Each process's CPU per second with no load (timers, heartbeats, sweeps): a line's
        CPU per op carries this share divided by its rate, large when the rate is low."""
        before = {name: proc.cpu() for name, proc in self.procs.items()}
        time.sleep(seconds)
        for name, proc in self.procs.items():
            self.rest_cpu_ms[name] = (proc.cpu() - before[name]) / seconds * 1000

    def quiesce(self, budget: float = 20.0) -> None:
        """Waits (at most `budget` s) until our services use under 5 % of a core: a service that
        fell behind a fixed rate keeps working on answers nobody waits for, which would be
        charged to the next line."""
        ours = [proc for name, proc in self.procs.items() if name in OURS]
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            before = sum(proc.cpu() for proc in ours)
            time.sleep(0.5)
            if sum(proc.cpu() for proc in ours) - before < 0.025:
                return

    def wrk_line(
        self, label: str, url: str, baseline: str | None, profile: str | None = None,
        **options: Any,
    ) -> Line:  # fmt: skip
        before = self.snapshot()
        with self.profiled(profile, self.args.seconds):
            figures = wrk(
                label, url, duration=self.args.seconds, connections=self.args.connections,
                workdir=self.logs, **options,
            )  # fmt: skip
        line = Line(label, figures.requests, figures.seconds, figures.p50_ms, figures.p99_ms,
                    figures.errors, baseline)  # fmt: skip
        return self.measured(line, before)

    def rate_line(self, label: str, send: Any, rate: float, baseline: str | None) -> Line:
        before = self.snapshot()
        # Requests still unanswered 10 s after theirs was due are errors: the line stays bounded
        # when the service falls behind the rate.
        figures = asyncio.run(
            fixed_rate(label, send, rate=rate, duration=self.args.seconds, timeout=10)
        )
        line = Line(label, figures.requests, figures.seconds, figures.p50_ms, figures.p99_ms,
                    figures.errors, baseline)  # fmt: skip
        return self.measured(line, before)

    def webhook_line(self, label: str, port: int, path: str, count: int, tag: str) -> Line:
        asyncio.run(post_all(port, path, signed_webhooks(200, tag + "w"), 32))  # warm-up
        webhooks = signed_webhooks(count, tag)
        before = self.snapshot()
        with self.profiled(None if "trivial" in label else "webhook-ingress", 4):
            latencies, statuses, seconds = asyncio.run(post_all(port, path, webhooks, 32))
        errors = sum(n for status, n in statuses.items() if status >= 300)
        line = Line(label, len(latencies), seconds, percentile(latencies, 50) * 1000,
                    percentile(latencies, 99) * 1000, errors,
                    None if "trivial" in label else "trivial POST, lean client")  # fmt: skip
        return self.measured(line, before)


def top_frames(raw: str, count: int = 25) -> str:
    """py-spy's raw (collapsed) stacks -> the frames with the most samples on top of the stack
    (own time) and anywhere in it (total time), as percentages of all samples."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        frames = stack.split(";")
        samples += int(number)
        own[frames[-1]] += int(number)
        for frame in set(frames):
            total[frame] += int(number)
    out = [f"{samples} samples", "", "own time:"]
    out += [f"{n / samples:6.1%}  {frame}" for frame, n in own.most_common(count)]
    out += ["", "total time:"]
    out += [f"{n / samples:6.1%}  {frame}" for frame, n in total.most_common(count * 2)]
    return "\n".join(out) + "\n"


# --- the pipeline ---------------------------------------------------------------------------------


async def create_payments(
    api_url: str, headers: dict[str, str], count: int
) -> list[dict[str, Any]]:
    body = f'{{"amount":10000,"currency":"INR","customer":{CUSTOMER}}}'
    created: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as client:

        async def one() -> None:
            while len(created) < count:
                created.append({})
                slot = len(created) - 1
                key = uuid.uuid4().hex
                for _ in range(30):  # a 503 under load is retried with the same key
                    answer = await client.post(
                        "/api/v1/payments/create",
                        content=body,
                        headers={**headers, "idempotency-key": key},
                    )
                    if answer.status_code not in (409, 502, 503, 504):
                        break
                    await asyncio.sleep(0.5)
                answer.raise_for_status()
                created[slot] = answer.json()["data"]

        await asyncio.gather(*(one() for _ in range(8)))
    return created[:count]


async def pipeline(
    bench: Bench, rate: float, seconds: float, emulator_url: str, api_url: str,
    api_headers: dict[str, str], profile: bool = False,
) -> None:  # fmt: skip
    """One line `webhook -> SUCCESS at <rate>/s`; `profile`: py-spy the processor (--profile)."""
    from cashfree_emulator.control import EmulatorControl
    from pymongo import AsyncMongoClient

    count = int(rate * seconds)
    payments = await create_payments(api_url, api_headers, count)
    await asyncio.sleep(1.5)  # the creates' outbox relays finish before the window opens
    before = bench.snapshot()
    control = EmulatorControl(emulator_url, timeout=60)
    started = time.perf_counter()
    pays = []
    with bench.profiled("webhook-processor" if profile else None, seconds + 1):
        for n, payment in enumerate(payments):
            delay = started + n / rate - time.perf_counter()  # open loop: on schedule
            if delay > 0:
                await asyncio.sleep(delay)
            pays.append(asyncio.create_task(control.pay(payment["payment_session_id"], "SUCCESS")))
        await asyncio.gather(*pays)
    achieved = count / (time.perf_counter() - started)

    uri = os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    collection = mongo[f"bench_{bench.run}"]["payments"]
    ids = [payment["payment_id"] for payment in payments]
    # Waits without asking mongo-front (a count of the payments every 0.2 s was a fifth of its
    # CPU in this line, charged to the pipeline): first for the processor's final log writes,
    # one statement per applied webhook in shared writes (test_round_trips.py), in its counts
    # file; then asks only about the payments not seen SUCCESS yet. The latencies come from
    # `updated_at`, not this wait.
    deadline = time.monotonic() + 60
    finished = "statements:update webhook_logs"
    processor = bench.procs["webhook-processor"]
    target = before[1]["webhook-processor"].get(finished, 0) + count
    while time.monotonic() < deadline:
        if processor.counts().get(finished, 0) >= target:
            break
        await asyncio.sleep(0.1)
    waiting = set(ids)
    while waiting and time.monotonic() < deadline:
        query = {"_id": {"$in": sorted(waiting)}, "status": "SUCCESS"}
        async for raw in collection.find(query, {"_id": 1}):
            waiting.discard(raw["_id"])
        if waiting:
            await asyncio.sleep(0.5)
    elapsed = time.perf_counter() - started
    signed_at: dict[str, float] = {}
    for attempt in await control.events(type="PAYMENT_SUCCESS_WEBHOOK"):
        order_id = attempt.body.split('"order_id":"', 1)[1].split('"', 1)[0]
        signed_at.setdefault(order_id, int(attempt.headers["x-webhook-timestamp"]) / 1000)
    latencies = []
    async for raw in collection.find({"_id": {"$in": ids}, "status": "SUCCESS"}):
        updated = raw["updated_at"].replace(tzinfo=raw["updated_at"].tzinfo or UTC)
        if raw["order_id"] in signed_at:
            latencies.append(updated.timestamp() - signed_at[raw["order_id"]])
    await control.aclose()
    await mongo.close()
    label = f"webhook -> SUCCESS at {rate:g}/s ({achieved:.0f}/s paid)"
    line = Line(label, len(latencies), elapsed, percentile(latencies, 50) * 1000,
                percentile(latencies, 99) * 1000, count - len(latencies))  # fmt: skip
    bench.measured(line, before, settle=0.5)


# --- cleanup and the table -------------------------------------------------------------------------


async def cleanup(run: str) -> None:
    import aio_pika
    from paycore.kit.events import EXCHANGES
    from paycore.kit.service import InfraSettings
    from pymongo import AsyncMongoClient
    from redis.asyncio import Redis

    servers = InfraSettings()  # MONGO_URI, REDIS_URL, RABBITMQ_URL or the local defaults
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(servers.mongo_uri)
    await mongo.drop_database(f"bench_{run}")
    await mongo.drop_database(f"bench_{run}_i")
    await mongo.close()
    redis = Redis.from_url(servers.redis_url)
    async for key in redis.scan_iter(f"bench:{run}:*", count=1000):  # both prefixes
        await redis.delete(key)
    await redis.aclose()
    connection = await aio_pika.connect(servers.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        for prefix in (f"bench-{run}.", f"bench-{run}-i."):
            for queue in await _queues(prefix):
                await channel.queue_delete(queue)
            for family in EXCHANGES:
                await channel.exchange_delete(f"{prefix}{family}.exchange")


async def _queues(prefix: str) -> list[str]:
    try:
        async with httpx.AsyncClient(auth=("guest", "guest"), timeout=5) as client:
            answer = await client.get("http://127.0.0.1:15672/api/queues")
            return [q["name"] for q in answer.json() if q["name"].startswith(prefix)]
    except (httpx.HTTPError, ValueError):
        return [f"{prefix}events.archive"]


SHORT = {
    "payments-api": "api",
    "library-floor": "floor",
    "webhook-ingress": "ingress",
    "pipeline-ingress": "pipeline ingress",
    "webhook-processor": "processor",
    "emulator": "emulator",
    "trivial": "trivial",
    "mongo-front": "mongo",
    "rabbitmq": "rabbit",
    "redis": "redis",
}


def other_round_trips(line: Line) -> str:
    """`api redis 4.0 (6.0 cmds), http 1.0, amqp 2.0; floor ...` for the services that made at
    least 0.05 per op (from `bench/instrumented.py`'s counters; below that, the background
    sweeps of an idle service)."""
    parts = []
    for name, counts in line.other.items():
        redis = counts.get("redis:round trips", 0.0)
        http = counts.get("http:requests", 0.0)
        amqp = counts.get("amqp:publishes", 0.0)
        figures = [f"redis {redis:.1f} ({counts.get('redis:commands', 0.0):.1f} cmds)"]
        figures += [f"http {http:.1f}"] if http >= 0.05 else []
        figures += [f"amqp {amqp:.1f}"] if amqp >= 0.05 else []
        if max(redis, http, amqp) >= 0.05:
            parts.append(f"{SHORT.get(name, name)} {', '.join(figures)}")
    return "; ".join(parts) or "-"


def table(bench: Bench) -> str:
    by_label = {line.label: line for line in bench.lines}
    rows = [
        (
            "| measurement | ops/s | ×trivial | p50 ms | p99 ms | errors | CPU ms/op per process "
            "| MongoDB commands/op (writes) | other round trips/op | load avg |"
        ),
        "|---|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for line in bench.lines:
        base = by_label.get(line.baseline or "")
        ratio = f"{line.rate / base.rate:.1%}" if base and base.rate else "1"
        cpu = ", ".join(
            f"{SHORT.get(name, name)} {ms:.2f}" for name, ms in line.cpu_ms.items() if ms >= 0.005
        )
        db = ", ".join(
            f"{SHORT[name]} {total:.1f} ({writes:.1f})" for name, (total, writes) in line.db.items()
        )
        rows.append(
            f"| {line.label} | {line.rate:,.0f} | {ratio} | {line.p50_ms:.1f} | {line.p99_ms:.1f} "
            f"| {line.errors} | {cpu} | {db or '-'} | {other_round_trips(line)} | {line.load} |"
        )
    memory = ", ".join(
        f"{SHORT.get(p.name, p.name)} {p.rss_rest:.0f}→{rss_mib(p.pid):.0f}"
        for p in bench.procs.values()
        if p.process is not None and p.process.poll() is None
    )
    rest = ", ".join(
        f"{SHORT.get(name, name)} {ms:.1f}" for name, ms in bench.rest_cpu_ms.items() if ms >= 0.05
    )
    return (
        "\n".join(rows)
        + f"\n\nRSS MiB at rest→after load: {memory}\n"
        + f"CPU ms per second at rest, before the lines: {rest or '-'}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=8, help="seconds per timed line")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--rate", type=float, default=100, help="open-loop creates per second")
    parser.add_argument("--webhooks", type=int, default=1000, help="webhooks per ingress line")
    parser.add_argument("--pipeline-rates", default="50,100", help="payments/s, 3 s each")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the api create, ingress and first pipeline lines",
    )
    parser.add_argument(
        "--create-only", action="store_true",
        help="only the closed-loop lines of a create: trivial, emulator, api, library floor",
    )  # fmt: skip
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required (apt-get install wrk; `make bench` installs it)")
    from paycore.auth.tokens import mint_token
    from paycore.testing import TEST_ENCRYPTION_KEY

    started = time.monotonic()
    bench = Bench(args)
    run = bench.run
    ports = [free_port() for _ in range(7)]
    emulator_port, api_port, trivial_port, ingress_port, pipeline_port, processor_port = ports[:6]
    floor_url = f"http://127.0.0.1:{ports[6]}"
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    trivial_url = f"http://127.0.0.1:{trivial_port}"
    webhook_path = "/api/v1/webhooks/cashfree"
    token = mint_token(JWT_SECRET, "usr_bench", ["write"], issuer="paycore", ttl_seconds=7200)
    api_headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    emulator_headers, create_body = EMULATOR_HEADERS, CREATE_BODY
    env = service_env(run, 0, emulator_url) | {
        "PAYMENT_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        "CASHFREE_WEBHOOK_SECRET": SECRET_KEY,
    }
    try:
        bench.start(
            "trivial",
            ["-m", "uvicorn", "trivial_app:app", "--app-dir", str(ROOT / "bench"),
             "--port", str(trivial_port), "--loop", "uvloop", "--http", "httptools",
             "--no-access-log", "--log-level", "warning"],
            dict(os.environ), f"{trivial_url}/ping",
        )  # fmt: skip
        bench.start(
            "emulator",
            ["-m", "cashfree_emulator", "--port", str(emulator_port), "--secret-key", SECRET_KEY,
             "--webhook-urls", f"http://127.0.0.1:{pipeline_port}{webhook_path}"],
            {**os.environ, "EMULATOR_LOG_LEVEL": "warning"}, f"{emulator_url}/_emulator/health",
        )  # fmt: skip
        bench.start("payments-api", ["-m", "payments_api"], env | {"PORT": str(api_port)},
                    f"{api_url}/health/ready")  # fmt: skip
        # The same round trips with nothing of ours: after the api, whose start-up declared
        # the exchanges it publishes to.
        bench.start("library-floor", ["-m", str(ROOT / "bench/floor_app.py"), "--port", str(ports[6])],
                    env | {"BENCH_EMULATOR_URL": emulator_url}, f"{floor_url}/ping")  # fmt: skip
        if args.create_only:
            create_lines(bench, api_headers, api_url, floor_url, trivial_url, emulator_url)
            report(bench, table(bench), time.monotonic() - started)
            return
        # The ingress line's webhooks name orders nobody created: its own ingress, prefix and
        # database, with no processor behind it (one would raise an alert for each).
        alone = env | {"PORT": str(ingress_port), "MONGO_DB": f"bench_{run}_i",
                       "BROKER_PREFIX": f"bench-{run}-i.", "REDIS_PREFIX": f"bench:{run}:i:"}  # fmt: skip
        bench.start("webhook-ingress", ["-m", "webhook_ingress"], alone,
                    f"http://127.0.0.1:{ingress_port}/health/ready")  # fmt: skip
        # The pipeline's ingress and processor, started now: a start-up under load can time out.
        for name, module, port in (
            ("pipeline-ingress", "webhook_ingress", pipeline_port),
            ("webhook-processor", "webhook_processor", processor_port),
        ):
            bench.start(name, ["-m", module], env | {"PORT": str(port)},
                        f"http://127.0.0.1:{port}/health/ready")  # fmt: skip
        create_lines(bench, api_headers, api_url, floor_url, trivial_url, emulator_url)

        emulator_create, api_create = create_calls(
            run, emulator_url, emulator_headers, api_url, api_headers, create_body
        )

        for rate in (10.0, args.rate):
            bench.rate_line(f"emulator create-order at {rate:g}/s", emulator_create, rate, None)
            bench.rate_line(f"payments-api create at {rate:g}/s", api_create, rate, None)

        bench.webhook_line("trivial POST, lean client", trivial_port, "/echo", args.webhooks, "t")
        bench.webhook_line("webhook-ingress, 32 conn.", ingress_port, webhook_path,
                           args.webhooks, "i")  # fmt: skip
        bench.stop("webhook-ingress")
        try:
            rates = [float(r) for r in args.pipeline_rates.split(",") if r]
            for n, rate in enumerate(rates):  # one profile of the processor: the first line
                asyncio.run(
                    pipeline(bench, rate, 3, emulator_url, api_url, api_headers, profile=n == 0)
                )
        except Exception as exc:  # the lines measured so far are still worth printing
            print(f"pipeline not measured: {exc!r}"[-3000:], file=sys.stderr)
        report(bench, table(bench), time.monotonic() - started)
    finally:
        bench.stop_all()
        try:
            asyncio.run(asyncio.wait_for(cleanup(run), 60))
        except TimeoutError:
            # Seen with the local server after a long session: dropDatabase never answered.
            print(f"clean-up unfinished after 60 s: drop bench_{run}* by hand", file=sys.stderr)


def create_lines(
    bench: Bench, api_headers: dict[str, str], api_url: str, floor_url: str, trivial_url: str,
    emulator_url: str,
) -> None:  # fmt: skip
    """The closed-loop lines: trivial, the emulator's create-order, the api's create and the
    library floor's (`bench/floor_app.py`: the create's round trips and nothing else)."""
    run = bench.run
    # Warm-up: pools, first-call imports, the audit chain head.
    for label, url, script in (
        ("warm-up", api_url, WRK_API),
        ("floor warm-up", floor_url, WRK_FLOOR),
    ):
        wrk(label, url, duration=3, connections=4, headers=api_headers, body=CREATE_BODY,
            script=script.format(run=f"w{run}"), workdir=bench.logs)  # fmt: skip
    time.sleep(2)
    for proc in bench.procs.values():
        proc.rss_rest = rss_mib(proc.pid)
    bench.measure_rest()
    trivial = "trivial POST /echo (wrk)"
    bench.wrk_line(trivial, f"{trivial_url}/echo", None,
                   headers={"content-type": "application/json"}, body=CREATE_BODY, script="")  # fmt: skip
    bench.wrk_line("emulator create-order (wrk)", emulator_url, trivial,
                   headers=EMULATOR_HEADERS, script=WRK_EMULATOR.format(run=f"e{run}"))  # fmt: skip
    bench.wrk_line("payments-api create (wrk)", api_url, trivial, headers=api_headers,
                   body=CREATE_BODY, script=WRK_API.format(run=f"a{run}"),
                   profile="payments-api")  # fmt: skip
    bench.wrk_line("library floor of a create (wrk)", floor_url, trivial, headers=api_headers,
                   body=CREATE_BODY, script=WRK_FLOOR.format(run=f"f{run}"),
                   profile="library-floor")  # fmt: skip


def report(bench: Bench, output: str, seconds: float) -> None:
    """Prints the table (before the clean-up, which a slow server may hold up)."""
    args = bench.args
    own = "own" if "mongo-front" in bench.procs else "external or shared"
    print(f"\nmachine: {os.cpu_count()} cores ({cpu_model()}), {platform.platform()}, "
          f"python {platform.python_version()}; servers: {own}; "
          f"wrk -t1 -c{args.connections}, {args.seconds} s per timed line; "
          f"total {seconds:.0f} s")  # fmt: skip
    print(output)
    added = {line.label: line for line in bench.lines}
    for rate in (10.0, args.rate):
        gateway = added.get(f"emulator create-order at {rate:g}/s")
        ours = added.get(f"payments-api create at {rate:g}/s")
        if gateway is None or ours is None:  # --create-only
            continue
        print(f"added over the gateway at {rate:g}/s: p50 {ours.p50_ms - gateway.p50_ms:+.1f} ms, "
              f"p99 {ours.p99_ms - gateway.p99_ms:+.1f} ms")  # fmt: skip
    print(f"logs and per-line command counts: {bench.logs}", flush=True)


if __name__ == "__main__":
    main()
