"""One stack for the chaos scenarios of a module (started on first use, so `pytest -k scenario`
starts it for that scenario alone); its processes' logs stay in the module's tmp directory."""

from collections.abc import AsyncIterator, Iterator

import pytest
from chaos_support import Report, Stack


@pytest.fixture(scope="module")
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
