"""One error catalog: every error code of the workspace is declared once, by one class in its
domain's `errors.py` (or `paycore/kit/errors.py`), so `grep` finds one definition of each."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [*ROOT.glob("libs/*/src"), *ROOT.glob("services/*/src")]


def declared_codes() -> dict[str, list[str]]:
    """code -> every `file:line` whose class declares it (`class X(Base, code="…")` or a
    `code = "…"` in the class body)."""
    found: dict[str, list[str]] = defaultdict(list)
    for source in SOURCES:
        for path in source.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.ClassDef):
                    continue
                values = [k.value for k in node.keywords if k.arg == "code"]
                values += [
                    statement.value
                    for statement in node.body
                    if isinstance(statement, ast.Assign | ast.AnnAssign)
                    and any(
                        isinstance(target, ast.Name) and target.id == "code"
                        for target in (
                            statement.targets
                            if isinstance(statement, ast.Assign)
                            else [statement.target]
                        )
                    )
                    and statement.value is not None
                ]
                for value in values:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        where = f"{path.relative_to(ROOT)}:{node.lineno}"
                        found[value.value].append(where)
    return found


def test_each_code_is_declared_once() -> None:
    codes = declared_codes()
    assert len(codes) > 50  # the scan sees the catalog
    assert {code: places for code, places in codes.items() if len(places) > 1} == {}


def test_errors_live_in_errors_modules() -> None:
    misplaced = sorted(
        place
        for places in declared_codes().values()
        for place in places
        if not place.split(":")[0].endswith("errors.py")
    )
    assert misplaced == []
