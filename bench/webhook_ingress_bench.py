"""Ingress throughput: signed, unique webhooks accepted per second (stored in MongoDB, deduped
through Redis and the unique index, published with a broker confirm), and p50/p99 latency,
beside a trivial Starlette endpoint served the same way, in the same run.

    uv run python bench/webhook_ingress_bench.py [--requests 3000] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from paycore.gateway import sign_webhook
from pymongo import MongoClient
from webhook_bench_support import (
    SECRET,
    free_port,
    isolated_env,
    percentile,
    post_all,
    start,
    stop,
)

PATH = "/api/v1/webhooks/cashfree"


def signed_webhooks(count: int, tag: str) -> list[tuple[bytes, dict[str, str]]]:
    timestamp = str(time.time_ns() // 1_000_000)
    webhooks = []
    for n in range(count):
        order = f'{{"order_id":"ord_{tag}_{n}","order_amount":100.00,"order_currency":"INR"}}'
        payment = (
            f'{{"cf_payment_id":"{5_000_000 + n}","payment_status":"SUCCESS",'
            '"payment_amount":100.00,"payment_currency":"INR","payment_group":"upi"}'
        )
        body = (
            f'{{"data":{{"order":{order},"payment":{payment}}},'
            '"event_time":"2025-01-15T11:16:10+05:30","type":"PAYMENT_SUCCESS_WEBHOOK"}'
        ).encode()
        headers = {
            "content-type": "application/json",
            "x-webhook-signature": sign_webhook(body, timestamp, SECRET.encode()),
            "x-webhook-timestamp": timestamp,
            "x-webhook-version": "2025-01-01",
        }
        webhooks.append((body, headers))
    return webhooks


async def load(port: int, webhooks: list[tuple[bytes, dict[str, str]]], connections: int) -> dict:
    latencies, statuses, elapsed = await post_all(port, PATH, webhooks, connections)
    return {
        "requests": len(latencies),
        "per_second": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "statuses": statuses,
    }


def measure(port: int, count: int, connections: int, tag: str) -> dict:
    asyncio.run(load(port, signed_webhooks(min(200, count), tag + "w"), connections))  # warm up
    return asyncio.run(load(port, signed_webhooks(count, tag), connections))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
    env = isolated_env("ingress")
    results = {}

    port = free_port()
    trivial = start(["bench/webhook_trivial_app.py"], env, port, logs / "trivial.log")
    try:
        results["trivial endpoint"] = measure(port, args.requests, args.connections, "t")
    finally:
        stop(trivial)

    port = free_port()
    ingress = start(["-m", "webhook_ingress"], env, port, logs / "ingress.log")
    try:
        results["webhook-ingress"] = measure(port, args.requests, args.connections, "i")
    finally:
        stop(ingress)

    mongo = MongoClient(
        os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true")
    )
    database = mongo[env["MONGO_DB"]]
    stored = database.webhook_logs.count_documents({})
    unpublished = database.webhook_logs.count_documents({"outbox.0": {"$exists": True}})
    mongo.drop_database(env["MONGO_DB"])

    print(f"cores: {os.cpu_count()}, connections: {args.connections}, requests: {args.requests}")
    for name, result in results.items():
        print(
            f"{name:18} {result['per_second']:8.0f} req/s   p50 {result['p50_ms']:6.1f} ms   "
            f"p99 {result['p99_ms']:6.1f} ms   statuses {result['statuses']}"
        )
    ratio = results["webhook-ingress"]["per_second"] / results["trivial endpoint"]["per_second"]
    print(f"ingress / trivial: {ratio:.1%} (aim: 15% or more)")
    print(f"stored logs: {stored}, left unpublished for the sweep: {unpublished}")


if __name__ == "__main__":
    main()
