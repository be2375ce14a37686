"""On a fresh machine `make install` puts uv in ~/.local/bin, which is not on PATH: a script or
recipe that calls a bare `uv` works only where an earlier run left uv on PATH. Every caller must
use `$UV` / `$(UV)` (the Makefile exports both UV and a PATH that has the tool directories)."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# A command position: line start, after ; & | ( or `$(`, then the bare tool name.
BARE_UV = re.compile(r"(^|[;&|(]|\$\()\s*(uv|uvx)\s")


def tracked(pattern: str) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", pattern], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return [ROOT / line for line in listed.stdout.splitlines()]


def bare_calls(lines: list[str]) -> list[str]:
    code = (line.split("#", 1)[0] for line in lines)
    return [line.strip() for line in code if BARE_UV.search(line)]


@pytest.mark.parametrize("script", tracked("*.sh"), ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_scripts_call_uv_through_the_uv_variable(script: Path) -> None:
    assert bare_calls(script.read_text().splitlines()) == []


def test_makefile_recipes_call_uv_through_the_uv_variable() -> None:
    recipes = [line for line in (ROOT / "Makefile").read_text().splitlines() if line[:1] == "\t"]
    # `command -v uv` only asks whether uv is on PATH; everything else must be $(UV).
    calls = [line for line in bare_calls(recipes) if "command -v uv" not in line]
    assert calls == []


def test_the_makefile_exports_the_tool_directories() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "export PATH := $(HOME)/.local/bin:$(HOME)/go/bin" in makefile
    assert "export UV" in makefile


def test_the_check_finds_a_bare_call() -> None:
    assert bare_calls(["uv tool install x", "x=$(uv tool dir)", "a && uvx y"]) == [
        "uv tool install x",
        "x=$(uv tool dir)",
        "a && uvx y",
    ]
    assert bare_calls(['"$UV" tool install x', "# uv run is fine in a comment"]) == []
