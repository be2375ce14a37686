"""What each step of an accepted webhook costs on its own: the ingress's round trips (Redis
dedupe check and key, the MongoDB insert, the confirmed publish) and its own work (building the
stored log), each repeated one at a time in one process against the local servers, with the
process's CPU (user + system) and the wall time per call.

    uv run python bench/ingress_parts.py [--calls 1500]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import time
from collections.abc import Awaitable, Callable

import uvloop
from payments_api_bench import cpu_model
from pymongo import MongoClient
from webhook_bench_support import isolated_env
from webhook_ingress_bench import signed_webhooks

WARM_UP = 50


async def per_call(label: str, call: Callable[[int], Awaitable[object]], calls: int) -> None:
    for n in range(WARM_UP):
        await call(n)
    before, wall = os.times(), time.perf_counter()
    for n in range(WARM_UP, WARM_UP + calls):
        await call(n)
    after, wall = os.times(), time.perf_counter() - wall
    cpu = (after.user - before.user) + (after.system - before.system)
    print(f"| {label} | {cpu / calls * 1000:.3f} | {wall / calls * 1000:.2f} |")


async def run(calls: int, prefix: str) -> None:
    from paycore.events.payloads import WebhookReceived
    from paycore.kit.events import OutboxEvent
    from paycore.kit.settings import load_settings
    from paycore.webhooks.intake import RECEIVED_EVENT
    from paycore.webhooks.models import WebhookLog
    from webhook_ingress.app import build_app
    from webhook_ingress.settings import Settings

    app = build_app(load_settings(Settings))
    async with app.router.lifespan_context(app):
        intake = app.state.intake
        body, headers = signed_webhooks(1, "parts")[0]
        digest = hashlib.sha256(body).hexdigest()

        def new_log(n: int) -> WebhookLog:
            return intake._new_log(body, digest, headers, f"evt_{n}", "PAYMENT_SUCCESS_WEBHOOK")

        async def build(n: int) -> WebhookLog:
            return new_log(n)

        documents = [
            {"_id": log.log_id, **log.model_dump(exclude={"id", "revision_id"})}
            for log in map(new_log, range(WARM_UP + calls))
        ]
        collection = WebhookLog.get_pymongo_collection()
        event = OutboxEvent.of(
            RECEIVED_EVENT, WebhookReceived(log_id="whk_1", event_id="e", event_type="T")
        )

        async def step(label: str, call: Callable[[int], Awaitable[object]]) -> None:
            await per_call(label, call, calls)

        print("| step, one at a time | CPU ms per call | wall ms per call |\n|---|---:|---:|")
        await step("Redis EXISTS (dedupe check)", lambda n: intake.redis.exists(f"{prefix}{n}"))
        await step(
            "Redis SET EX (dedupe key)", lambda n: intake.redis.set(f"{prefix}{n}", "v", ex=60)
        )
        await step("MongoDB insert_one (the log)", lambda n: collection.insert_one(documents[n]))
        await step(
            "MongoDB find_one by _id", lambda n: collection.find_one({"_id": documents[n]["_id"]})
        )
        await step(
            "publish with the broker's confirm",
            lambda n: intake.publisher.publish(event, timeout=5),
        )
        await step("building the stored log (ours)", build)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1500)
    args = parser.parse_args()
    env = isolated_env("parts")
    os.environ.update(env)
    print(
        f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    try:
        uvloop.run(run(args.calls, env["REDIS_PREFIX"] + "parts:"))
    finally:
        mongo = MongoClient(
            os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true")
        )
        mongo.drop_database(env["MONGO_DB"])


if __name__ == "__main__":
    main()
