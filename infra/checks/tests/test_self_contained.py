"""The repository stands on its own: a fresh clone has no team folder beside it, so nothing may
point there, and every relative link in its Markdown must name a file of the repository. The
code map (docs/ARCHITECTURE.md) names only files that exist, every collection (queried only by
the modules its row names), and exactly the routing keys of the event catalog."""

import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# The team's source folder beside the repository, spelled so this file doesn't name it itself.
OUTSIDE = (".." + "/shared", "/work" + "/shared")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def tracked() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return [ROOT / line for line in listed.stdout.splitlines() if line != "uv.lock"]


def test_nothing_points_outside_the_repository() -> None:
    outside = []
    for path in tracked():
        if not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        if any(marker in text for marker in OUTSIDE):
            outside.append(str(path.relative_to(ROOT)))
    assert outside == []


def test_relative_markdown_links_name_files_of_the_repository() -> None:
    broken = []
    for path in tracked():
        if path.suffix != ".md":
            continue
        for target in LINK.findall(path.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            resolved = (path.parent / target).resolve()
            if not resolved.exists() or not resolved.is_relative_to(ROOT):
                broken.append(f"{path.relative_to(ROOT)} -> {target}")
    assert broken == []


# docs/ARCHITECTURE.md names files in code spans, `paycore/…` for the shared package and a
# service's package by its import name; modules move, and a stale map misleads.
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
CODE_PATH = re.compile(r"`([\w.-]+(?:/[\w.-]+)+/?)`")
PACKAGE_ROOTS = (ROOT, ROOT / "libs" / "paycore" / "src", *sorted(ROOT.glob("services/*/src")))


def test_files_named_by_the_architecture_map_exist() -> None:
    named = CODE_PATH.findall(ARCHITECTURE.read_text())
    assert len(named) > 50  # the pattern still finds the map's paths
    missing = [
        path
        for path in named
        if not any((root / path.removesuffix("/")).exists() for root in PACKAGE_ROOTS)
    ]
    assert missing == []


def collection_names() -> set[str]:
    """Every collection paycore's documents live in: each `Settings.name` of a document class
    (a string, or a constant of `paycore.kit.audit`), and the audit chain's own collections."""
    source = ROOT / "libs" / "paycore" / "src" / "paycore"
    audit = ast.parse((source / "kit" / "audit.py").read_text())
    constants = {
        node.target.id: node.value.value
        for node in audit.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }
    names = {constants["RECORDS"], constants["SUBJECTS"]}
    for path in source.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ClassDef) and node.name == "Settings"):
                continue
            for statement in node.body:
                if isinstance(statement, ast.Assign) and [
                    getattr(t, "id", None) for t in statement.targets
                ] == ["name"]:
                    value = statement.value
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        names.add(value.value)
                    elif isinstance(value, ast.Attribute):
                        names.add(constants[value.attr])
    return names


def test_the_architecture_map_names_every_collection() -> None:
    text = ARCHITECTURE.read_text()
    found = collection_names()
    assert {"payments", "webhook_logs", "audit_logs"} <= found  # the scan still finds them
    assert sorted(name for name in found if f"`{name}`" not in text) == []


def test_the_architecture_map_lists_exactly_the_routing_keys_of_the_event_catalog() -> None:
    catalog = (ROOT / "libs/paycore/src/paycore/events/catalog.py").read_text()
    published = set(re.findall(r'^\s+"([a-z_]+(?:\.[a-z_]+)+)": \w+,$', catalog, re.MULTILINE))
    assert {"payment.success", "refund.initiated", "email.admin.alert"} <= published
    table = ARCHITECTURE.read_text().split("## Who owns which routing key", 1)[1]
    first_cells = [row.split("|")[1] for row in table.splitlines() if row.startswith("| `")]
    listed = {key for cell in first_cells for key in re.findall(r"`([a-z_.]+)`", cell)}
    assert sorted(published - listed) == []  # published, not on the map
    assert sorted(listed - published) == []  # on the map, not published


# Beanie's class-level queries, and the raw collection behind a document class.
QUERIES = {"get_pymongo_collection", "find", "find_one", "find_many", "find_all", "aggregate"}
QUERIES |= {"count", "get", "delete_all", "update_all"}


def query_modules() -> dict[str, set[str]]:
    """For each document class on the map, the modules it names as its owner and its queries."""
    table = ARCHITECTURE.read_text().split("## Who owns which collection", 1)[1].split("\n## ")[0]
    rows = [row.split("|")[2:5] for row in table.splitlines() if row.startswith("| `")]
    return {
        document: set(re.findall(r"`([\w/.]+\.py)`", owner + queries))
        for documents, owner, queries in rows
        for document in re.findall(r"`(\w+)`", documents)
    }


def test_each_collection_is_queried_only_by_the_modules_the_map_names() -> None:
    allowed = query_modules()
    assert {"Payment", "Dispute", "WebhookLog"} <= set(allowed)  # the table still parses
    seen, elsewhere = set(), []
    for root in (ROOT / "libs" / "paycore" / "src", *sorted(ROOT.glob("services/*/src"))):
        for path in root.rglob("*.py"):
            module = str(path.relative_to(root))
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id in allowed
                    and node.attr in QUERIES
                ):
                    seen.add((module, node.value.id))
                    if module not in allowed[node.value.id]:
                        elsewhere.append(f"{module}:{node.lineno} {node.value.id}.{node.attr}")
    assert ("paycore/payments/repository.py", "Payment") in seen  # the scan still finds them
    assert elsewhere == []
