"""Fixtures of the end-to-end tests (helpers are in e2e_support.py)."""

from collections.abc import Iterator

import pytest
from e2e_support import ServiceProcess


@pytest.fixture
def service_runner() -> Iterator[list[ServiceProcess]]:
    """Collects started services and stops whatever is still running at the end."""
    started: list[ServiceProcess] = []
    yield started
    for service in started:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait()
