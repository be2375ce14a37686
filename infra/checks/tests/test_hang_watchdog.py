"""The suite's hang watchdog (the repository's root conftest.py): a teardown that never ends
must end the run within its time, with the stack of every thread and pending asyncio task."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

HANGING_TEST = """
import asyncio
import pathlib
import time
import pytest

@pytest.fixture
async def stuck():
    pathlib.Path("began").write_text(str(time.monotonic()))  # the run's own start up is done
    yield
    await asyncio.Event().wait()  # a teardown that never ends

@pytest.mark.timeout(1)
async def test_teardown_hangs(stuck):
    pass
"""


def test_a_hanging_teardown_ends_the_run_with_every_stack(tmp_path: Path) -> None:
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_hang.py").write_text(HANGING_TEST)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:timeout",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            "test_hang.py",
        ],
        cwd=tmp_path,
        env={**os.environ, "PAYCORE_WATCHDOG_MARGIN_SECONDS": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    # Soon after the test's 1 s and the 1 s margin, counted from the test, not from the
    # process start: pytest and its plugins take 4 s of CPU to start, more on a loaded machine.
    began = float((tmp_path / "began").read_text())
    assert time.monotonic() - began < 10
    assert "HANG: test_hang.py::test_teardown_hangs overran its time" in done.stderr
    assert "pending asyncio task" in done.stderr
    assert "asyncio.Event().wait()" in done.stderr  # the teardown's own frame
