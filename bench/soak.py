"""Soak: mixed traffic through the whole stack for a while, with each service's memory (RSS) at
the start and the end. A benchmark, not a test: run it by hand and record the figures in
bench/README.md.

    uv run python bench/soak.py --minutes 10 --rate 2

The stack is tests-chaos's (the six services, the Cashfree emulator and the SMTP sink as
processes, own database, queue and Redis prefixes). Traffic, `--rate` rounds a second: create a
payment, pay it (success, or a failed attempt then a success), and refund half of every third
one; every payment and refund is checked at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests-chaos"), str(ROOT / "tests-e2e"), str(ROOT / "infra/local")]

from chaos_support import Stack, buyers
from e2e_support import SERVICES

WARM_UP_SECONDS = 20
MAX_IN_FLIGHT = 8


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def memory(stack: Stack) -> dict[str, float]:
    return {name: rss_mib(stack.processes[name].process.pid) for name in SERVICES}


async def one_round(
    stack: Stack, api: Any, emu: Any, number: int, email: str
) -> tuple[str, str | None]:
    payment = await stack.create_payment(api, email=email)
    if number % 5 == 0:
        await emu.pay(payment["payment_session_id"], "FAILED")
    await emu.pay(payment["payment_session_id"], "SUCCESS")
    refund_id = None
    if number % 3 == 0:
        await stack.all_succeeded([payment["payment_id"]], timeout=120)
        refund = await stack.request_refund(api, payment["payment_id"], 5_000)
        refund_id = refund["refund_id"]
    return payment["payment_id"], refund_id


async def main(minutes: float, rate: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # The failed attempts all come from one customer: out of the fraud screen's way.
        stack = Stack.create(
            Path(tmp), FRAUD_REVIEW_FAILURES="100000", FRAUD_BLOCK_FAILURES="100000"
        )
        try:
            await asyncio.to_thread(stack.start_all)
            async with stack.api() as api, stack.emulator() as emu:
                await one_round(stack, api, emu, 1, buyers(1)[0])
                await asyncio.sleep(WARM_UP_SECONDS)
                start = memory(stack)
                rounds: list[asyncio.Task[tuple[str, str | None]]] = []
                emails = iter(buyers(int(minutes * 60 * rate) + 10))
                deadline = time.monotonic() + minutes * 60
                in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
                number = 0
                while time.monotonic() < deadline:
                    number += 1
                    await in_flight.acquire()  # a machine that falls behind slows the traffic
                    task = asyncio.create_task(one_round(stack, api, emu, number, next(emails)))
                    task.add_done_callback(lambda _: in_flight.release())
                    rounds.append(task)
                    await asyncio.sleep(random.expovariate(rate))
                results = await asyncio.gather(*rounds)
                payments = [pid for pid, _ in results]
                refunds = [rid for _, rid in results if rid]
                await stack.all_succeeded(payments, timeout=300)
                await stack.all_refunds_succeeded(api, refunds, timeout=300)
                counts = await stack.payment_counts(payments)
                end = memory(stack)
        finally:
            await asyncio.to_thread(stack.stop_all)
    print(f"{minutes} min at {rate}/s: {counts}, refunds={len(refunds)}")
    print("| service | RSS start MiB | RSS end MiB | growth |")
    print("|---|---|---|---|")
    for name in SERVICES:
        growth = end[name] - start[name]
        print(f"| {name} | {start[name]:.0f} | {end[name]:.0f} | {growth:+.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=2, help="rounds a second")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.minutes, arguments.rate))
