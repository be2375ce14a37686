"""Every workspace package imports only what it declares (directly or through a declared
dependency): what `uv sync --package <name>` installs for it alone, as its image does."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def workspace_packages() -> dict[str, Path]:
    """Distribution name -> source folder of each workspace member with a `src/`."""
    packages = {}
    for pyproject in ROOT.glob("*/*/pyproject.toml"):
        if (pyproject.parent / "src").is_dir():
            name = tomllib.loads(pyproject.read_text())["project"]["name"]
            packages[name] = pyproject.parent / "src"
    libs = ROOT / "libs/paycore"
    packages["paycore"] = libs / "src"
    return packages


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(distribution: str) -> set[str]:
    """The distribution and everything it requires, recursively, with the extras asked for."""
    seen: set[tuple[str, str]] = set()
    pending: list[tuple[str, str]] = [(distribution, "")]
    while pending:
        name, extra = pending.pop()
        name = _normalise(name)
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requirements:
            requirement = Requirement(text)
            environment = {"extra": extra} if extra else {"extra": ""}
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
            pending.append((requirement.name, ""))
            pending.extend((requirement.name, wanted) for wanted in requirement.extras)
    return {name for name, _ in seen}


def imported_modules(source: Path) -> set[str]:
    modules: set[str] = set()
    for path in source.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return modules


def undeclared_imports(distribution: str, source: Path) -> set[str]:
    """Top-level modules the package imports that its dependency closure doesn't provide."""
    providers = dict(metadata.packages_distributions())
    for name, member_source in workspace_packages().items():  # editable installs aren't listed
        for child in member_source.iterdir():
            if child.is_dir() and (child / "__init__.py").exists():
                providers[child.name] = [name]
    allowed = closure(distribution)
    own = {child.name for child in source.iterdir() if child.is_dir()}
    missing = set()
    for module in imported_modules(source) - own - set(sys.stdlib_module_names) - {"__future__"}:
        if not any(_normalise(d) in allowed for d in providers.get(module, [])):
            missing.add(module)
    return missing


def main() -> int:
    failures = 0
    for distribution, source in sorted(workspace_packages().items()):
        missing = undeclared_imports(distribution, source)
        if missing:
            failures += 1
            sys.stdout.write(
                f"FAIL {distribution}: imports {sorted(missing)} without declaring them\n"
            )
        else:
            sys.stdout.write(f"ok   {distribution}\n")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
