"""Servers as real processes for the benchmarks: started, and waited for until healthy."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def launch(
    name: str,
    args: Sequence[str],
    env: dict[str, str],
    health_url: str,
    log: Path,
    timeout: float,
    healthy: Callable[[int], bool] = lambda status: status == 200,
) -> subprocess.Popen[bytes]:
    """Starts `python args` (output to `log`) and waits until `health_url` answers a status
    `healthy` accepts (200 unless told); raises RuntimeError with the log's tail if it exits
    first or is not healthy within `timeout` s."""
    process = subprocess.Popen(
        [sys.executable, *args], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{log.read_text()[-3000:]}")
        try:
            if healthy(httpx.get(health_url, timeout=1).status_code):
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{name} did not become healthy:\n{log.read_text()[-3000:]}")
