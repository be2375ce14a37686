"""A hang watchdog for the whole suite: no test, fixture teardown or session teardown may hang CI.

pytest-timeout fails a test that runs past its `timeout`, but only once per test: a teardown that
hangs after it fired (or a hang in session teardown) is not bounded, and its thread dump shows
only the event loop waiting in `select`. This watchdog is armed around every test: two seconds
before pytest-timeout fires it prints every thread's stack and every pending asyncio task's
stack (what the test was waiting for); if the test is still not done a margin after its
timeout, it prints them again and ends the process with exit code 3.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import os
import sys
import threading
import time
import traceback
from collections.abc import Generator
from typing import Any

import pytest

# pytest-timeout gets the first chance to fail the test normally. The environment variable lets
# the watchdog's own test use a short margin.
MARGIN_SECONDS = float(os.environ.get("PAYCORE_WATCHDOG_MARGIN_SECONDS", "30"))
SESSION_TEARDOWN_SECONDS = 120.0


class Watchdog:
    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._deadline: float | None = None
        self._warn_at: float | None = None
        self._what = ""
        self._thread = threading.Thread(target=self._watch, name="hang-watchdog", daemon=True)
        self._thread.start()

    def arm(self, what: str, seconds: float, warn_after: float | None = None) -> None:
        now = time.monotonic()
        with self._lock:
            self._what, self._deadline = what, now + seconds
            self._warn_at = None if warn_after is None else now + warn_after

    def disarm(self) -> None:
        with self._lock:
            self._deadline = self._warn_at = None

    def _watch(self) -> None:
        while True:
            time.sleep(0.5)
            now = time.monotonic()
            with self._lock:
                warn = self._warn_at is not None and now > self._warn_at
                overdue = self._deadline is not None and now > self._deadline
                what = self._what
                if warn:
                    self._warn_at = None
            if warn:
                dump_stacks(f"SLOW: {what} is about to time out", sys.stdout)
            if overdue:
                # pytest captures fd 2 into a file that os._exit would discard: give it back.
                capture = self._config.pluginmanager.getplugin("capturemanager")
                if capture is not None:
                    capture.suspend_global_capture(in_=False)
                dump_stacks(f"HANG: {what} overran its time", sys.__stderr__ or sys.stderr)
                os._exit(3)


def dump_stacks(title: str, out: Any) -> None:
    """Prints every thread's stack and every pending asyncio task's await chain to `out`."""
    print(f"\n=== {title}; stacks follow ===", file=out, flush=True)
    try:
        faulthandler.dump_traceback(file=out, all_threads=True)
    except (AttributeError, ValueError, OSError):  # `out` has no file descriptor
        print("(thread stacks unavailable on this stream)", file=out)
    tasks = [o for o in gc.get_objects() if isinstance(o, asyncio.Task) and not o.done()]
    print(f"\n=== {len(tasks)} pending asyncio task(s) ===", file=out, flush=True)
    for task in tasks:
        print(f"\n--- {task!r}", file=out)
        print("".join(traceback.format_list(await_chain(task))), file=out)
    out.flush()


def await_chain(task: asyncio.Task[Any]) -> traceback.StackSummary:
    """The task's frames from its coroutine down to what it awaits now (`Task.get_stack` shows
    only the outermost coroutine)."""
    frames = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        if type(awaited).__name__ == "async_generator_asend":  # `await agen.__anext__()`
            awaited = next((r for r in gc.get_referents(awaited) if hasattr(r, "ag_frame")), None)
            continue
        frame = next(
            (
                getattr(awaited, a)
                for a in ("cr_frame", "ag_frame", "gi_frame")
                if hasattr(awaited, a)
            ),
            None,
        )
        if frame is None:
            break
        frames.append((frame, frame.f_lineno))
        awaited = next(
            (
                getattr(awaited, a)
                for a in ("cr_await", "ag_await", "gi_yieldfrom")
                if hasattr(awaited, a)
            ),
            None,
        )
    return traceback.StackSummary.extract(frames)


_watchdog: Watchdog | None = None


def _timeout_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    try:
        return float(item.config.getini("timeout") or 0) or 300.0
    except ValueError:  # pytest-timeout not loaded
        return 300.0


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, Any, None]:
    global _watchdog
    _watchdog = _watchdog or Watchdog(item.config)
    timeout = _timeout_of(item)
    _watchdog.arm(item.nodeid, timeout + MARGIN_SECONDS, warn_after=max(timeout - 2, 0))
    yield
    _watchdog.disarm()


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionfinish() -> Generator[None, Any, None]:
    if _watchdog is not None:
        _watchdog.arm("session teardown", SESSION_TEARDOWN_SECONDS)
    yield
    if _watchdog is not None:
        _watchdog.disarm()
