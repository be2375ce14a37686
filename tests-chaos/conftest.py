"""One stack for all chaos scenarios (started on first use, so `pytest -k scenario` starts it
for that scenario alone; every scenario leaves it running); the processes' logs stay in its tmp
directory."""

from collections.abc import AsyncIterator, Iterator

import pytest
from chaos_support import Report, Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack.create(tmp_path_factory.mktemp("chaos"))
    try:
        running.start_all()
        yield running
    finally:
        codes = running.stop_all()
        print(f"\nCHAOS stack stopped: {codes} (logs in {running.tmp})", flush=True)


@pytest.fixture
async def report(request: pytest.FixtureRequest) -> AsyncIterator[Report]:
    counts = Report(request.node.name.removeprefix("test_"))
    yield counts
    counts.print()
