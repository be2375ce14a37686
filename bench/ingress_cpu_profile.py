"""The ingress's own CPU per webhook, in one process: the app (`webhook_ingress.build_app`) is
called through ASGI directly (no HTTP server, no client), one webhook at a time, against the
real local servers (`infra/local/`), so what it prints is our code's CPU and the drivers' (PyMongo,
redis-py, aio-pika), without uvicorn and without the CPU-time other processes take.

    uv run python bench/ingress_cpu_profile.py [--webhooks 2000] [--profile]

Prints CPU ms per webhook (the process's user and system time, `os.times`) and, with
`--profile`, cProfile's top functions by own CPU time (the profiler's overhead inflates every
figure, so compare the ranks, not the times).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import platform
import pstats
import time
from typing import Any

import uvloop
from payments_api_bench import cpu_model
from pymongo import MongoClient
from webhook_bench_support import isolated_env
from webhook_ingress_bench import PATH, signed_webhooks


async def deliver(app: Any, body: bytes, headers: dict[str, str]) -> int:
    """One POST through the ASGI app; the answer's status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()]
        + [(b"content-length", str(len(body)).encode()), (b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8001),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def run(count: int, profile: bool) -> tuple[float, float, dict[int, int], str]:
    from paycore.kit.settings import load_settings
    from webhook_ingress.app import build_app
    from webhook_ingress.settings import Settings

    app = build_app(load_settings(Settings))
    statuses: dict[int, int] = {}
    async with app.router.lifespan_context(app):
        for body, headers in signed_webhooks(200, "warm"):
            await deliver(app, body, headers)
        webhooks = signed_webhooks(count, str(time.time_ns()))
        profiler = cProfile.Profile(time.process_time) if profile else None
        started = os.times()
        if profiler:
            profiler.enable()
        for body, headers in webhooks:
            status = await deliver(app, body, headers)
            statuses[status] = statuses.get(status, 0) + 1
        if profiler:
            profiler.disable()
        ended = os.times()
        user, system = ended.user - started.user, ended.system - started.system
    report = ""
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(r"paycore|webhook_ingress", 40)
        report = out.getvalue()
    return user / count * 1000, system / count * 1000, statuses, report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    env = isolated_env("cpu")
    os.environ.update(env)
    try:
        user_ms, system_ms, statuses, report = uvloop.run(run(args.webhooks, args.profile))
    finally:
        mongo = MongoClient(
            os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true")
        )
        mongo.drop_database(env["MONGO_DB"])
    print(
        f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{args.webhooks} webhooks one at a time: {user_ms + system_ms:.3f} ms CPU per webhook "
        f"(user {user_ms:.3f}, system {system_ms:.3f}); answers {statuses}"
    )
    if report:
        print(report)


if __name__ == "__main__":
    main()
