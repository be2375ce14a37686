"""Runs a service module like `python -m MODULE`, counting its database round trips.

    BENCH_COUNTS=/tmp/counts.json python bench/instrumented.py payments_api

A PyMongo command listener (registered globally before the service creates its client) counts
every command sent to the server by name and collection (`update payments`, `find audit`, ...);
a daemon thread writes the counts as JSON to `$BENCH_COUNTS` every 0.1 s, so the benchmark
reads them from outside without touching the service. Heartbeats are not commands and are not
counted.
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

from pymongo import monitoring


class CommandCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        collection = target if isinstance(target, str) else ""
        self.counts[f"{event.command_name} {collection}".strip()] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


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
    threading.Thread(
        target=_dump_forever, args=(counter, Path(os.environ["BENCH_COUNTS"])), daemon=True
    ).start()
    sys.argv = [module, *sys.argv[2:]]
    # Like `python -m`: the service's package, not this folder's scripts (bench/payments_api.py).
    sys.path[0] = os.getcwd()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
