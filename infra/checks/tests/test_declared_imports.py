from pathlib import Path

from imports import undeclared_imports, workspace_packages


def test_every_workspace_package_declares_what_it_imports() -> None:
    for distribution, source in workspace_packages().items():
        assert undeclared_imports(distribution, source) == set(), distribution


def test_an_undeclared_import_is_found(tmp_path: Path) -> None:
    package = tmp_path / "paycore_extra"
    package.mkdir()
    (package / "__init__.py").write_text("import cashfree_emulator\nimport json\nimport httpx\n")
    # paycore declares httpx, not the emulator (a development tool).
    assert undeclared_imports("paycore", tmp_path) == {"cashfree_emulator"}
