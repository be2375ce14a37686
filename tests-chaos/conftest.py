"""One stack for all chaos scenarios (started on first use, so `pytest -k scenario` starts it
for that scenario alone; every scenario leaves it running); the processes' logs stay in its tmp
directory. Each scenario's counts are printed in the run's summary, passed or not."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from chaos_support import Report, Stack

HERE = Path(__file__).parent
REPORTS: list[Report] = []
# The first scenario of a run also starts the stack (8 processes, up to 90 s each to be healthy
# on a loaded machine, waited for together): its budget is the suite's 120 s plus that start.
SCENARIO_TIMEOUT_SECONDS = 120 + 90


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.timeout(SCENARIO_TIMEOUT_SECONDS))


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
    REPORTS.append(counts)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORTS:
        terminalreporter.section("chaos scenarios: counts")
        for counts in REPORTS:
            row = ", ".join(f"{name}={value}" for name, value in counts.counts.items())
            terminalreporter.write_line(f"{counts.scenario}: {row}")
