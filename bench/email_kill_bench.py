"""How often an email-worker SIGKILL mid-burst sends an email twice.

Starts the whole stack of tests-chaos (services, emulator, SMTP sink as processes), then
`--rounds` times: a burst of `--burst` paid payments (one success email each, to its own
address), the email-worker SIGKILLed once a few of them went out, restarted; counts the emails
lost and doubled (same Message-ID twice) per round.

    uv run python bench/email_kill_bench.py --rounds 10 --burst 20
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests-chaos"), str(ROOT / "tests-e2e"), str(ROOT / "infra/local")]

from chaos_support import Stack, buyers, eventually


async def one_round(stack: Stack, burst: int) -> dict[str, int]:
    emails = buyers(burst)
    wanted = set(emails)
    async with stack.api() as api:
        payments = list(await asyncio.gather(*(stack.create_payment(api, email=e) for e in emails)))

        async def some_sent() -> bool:
            got = {to for m in await stack.emails() for to in m["to"]}
            return len(got & wanted) >= 3

        paying = asyncio.create_task(stack.pay_all(payments))
        await eventually(some_sent, timeout=60, interval=0.05)
        await stack.sigkill("email-worker")
        await stack.restart("email-worker")
        await paying
    return await stack.email_counts(emails, timeout=90)


async def main(rounds: int, burst: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack.create(Path(tmp))
        try:
            await asyncio.to_thread(stack.start_all)
            results = []
            for number in range(1, rounds + 1):
                counts = await one_round(stack, burst)
                results.append(counts)
                print(f"round {number}: {counts}", flush=True)
        finally:
            await asyncio.to_thread(stack.stop_all)
    sent = sum(r["emails"] for r in results)
    doubled = sum(r["emails_doubled"] for r in results)
    lost = sum(r["emails_lost"] for r in results)
    with_double = sum(1 for r in results if r["emails_doubled"])
    print(
        f"{rounds} kills, {sent} emails: {doubled} doubled ({doubled / rounds:.2f} per kill,"
        f" {with_double}/{rounds} kills doubled one or more), {lost} lost",
        flush=True,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--burst", type=int, default=20)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.burst))
