"""Runs a service module like `python -m MODULE` (or a script: `bench/floor_app.py`),
counting its round trips.

    BENCH_COUNTS=/tmp/counts.json python bench/instrumented.py payments_api

A PyMongo command listener (registered globally before the service creates its client) counts
every command sent to the server by name and collection (`update payments`, `find audit`, ...)
and, for writes, their statements (`statements:update payments`: a bulk write is one command);
heartbeats are not commands and are not counted. The other clients are counted by wrapping the
one library call each round trip goes through (`OTHER_COUNTERS`, keys with a colon): Redis
round trips and commands (a pipeline or a script is one round trip), HTTP requests (httpx,
aiohttp) and
AMQP publishes (aiormq). A daemon thread writes the counts as JSON to `$BENCH_COUNTS` every
0.25 s, so the benchmark reads them from outside without touching the service.
"""

from __future__ import annotations

import collections
import json
import os
import runpy
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pymongo import monitoring

# The list holding a write command's statements (PyMongo puts it in the event's command).
STATEMENTS = {"insert": "documents", "update": "updates", "delete": "deletes"}


class CommandCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        collection = target if isinstance(target, str) else ""
        command = f"{event.command_name} {collection}".strip()
        self.counts[command] += 1
        # A bulk write is one command of many statements, each of which the server runs (and
        # FerretDB reads and rewrites its whole document for) on its own.
        statements = event.command.get(STATEMENTS.get(event.command_name, ""))
        if isinstance(statements, list):
            self.counts[f"statements:{command}"] += len(statements)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def count_other_round_trips(counts: collections.Counter[str]) -> None:
    """Wraps redis-py, httpx, aiohttp and aiormq so each round trip (and Redis command) counts."""
    import aiohttp
    import aiormq
    import httpx
    from redis.asyncio.client import Pipeline, Redis

    def counted(function: Any, *keys: str, commands: Any = None) -> Any:
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            for key in keys:
                counts[key] += 1
            if commands is not None:
                counts["redis:commands"] += commands(self)
            return await function(self, *args, **kwargs)

        return wrapper

    Redis.execute_command = counted(Redis.execute_command, "redis:round trips", "redis:commands")  # type: ignore[method-assign]
    Pipeline.execute = counted(  # type: ignore[method-assign]
        Pipeline.execute, "redis:round trips", commands=lambda pipe: len(pipe.command_stack)
    )
    httpx.AsyncClient.send = counted(httpx.AsyncClient.send, "http:requests")  # type: ignore[method-assign]
    aiohttp.ClientSession._request = counted(aiohttp.ClientSession._request, "http:requests")  # type: ignore[method-assign]
    aiormq.Channel.basic_publish = counted(aiormq.Channel.basic_publish, "amqp:publishes")  # type: ignore[method-assign]


def _dump_forever(counter: CommandCounter, path: Path) -> None:
    temporary = path.with_suffix(".tmp")
    written = None
    while True:
        counts = dict(counter.counts)
        if counts != written:  # idle: no writes, so the thread costs the service ~nothing
            temporary.write_text(json.dumps(counts))
            temporary.replace(path)
            written = counts
        time.sleep(0.25)


def main() -> None:
    module = sys.argv[1]
    counter = CommandCounter()
    monitoring.register(counter)
    count_other_round_trips(counter.counts)
    threading.Thread(
        target=_dump_forever, args=(counter, Path(os.environ["BENCH_COUNTS"])), daemon=True
    ).start()
    sys.argv = [module, *sys.argv[2:]]
    if module.endswith(".py"):  # a script of this folder (bench/floor_app.py)
        runpy.run_path(module, run_name="__main__")
        return
    # Like `python -m`: the service's package, not this folder's scripts (bench/payments_api.py).
    sys.path[0] = os.getcwd()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
