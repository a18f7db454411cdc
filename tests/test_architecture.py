"""Imports flow one way: cli -> management -> commands -> services -> the rest -> Alembic.

errors and output are leaves; models import only project.db; nothing imports cli but the
entry point `python -m project`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

UPPER_LAYERS = {
    "project.__main__",
    "project.cli",
    "project.management",
    "project.commands",
    "project.runtime",
    "project.output",
}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, only for type checking) for every import in the file, lazy ones included."""
    tree = ast.parse(path.read_text())
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in typing_only) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "project":
                found += [
                    (f"project.{alias.name}", id(node) in typing_only) for alias in node.names
                ]
            else:
                found.append((node.module, id(node) in typing_only))
    return found


def _module(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


FRAMEWORK = {_module(p): _imports(p) for p in sorted((REPO / "project").rglob("*.py"))}


def test_nothing_imports_cli() -> None:
    """Only the entry points do: manage.py, and `python -m project`."""
    assert [
        m for m, imports in FRAMEWORK.items() if any(i == "project.cli" for i, _ in imports)
    ] == ["project.__main__"]


def test_lower_layers_do_not_import_upper_ones() -> None:
    offenders = {
        module: sorted(i for i, typing in imports if i in UPPER_LAYERS and not typing)
        for module, imports in FRAMEWORK.items()
        if module not in UPPER_LAYERS
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_errors_and_output_are_leaves() -> None:
    assert [i for i, _ in FRAMEWORK["project.errors"] if i.startswith("project")] == []
    runtime_imports = {
        i for i, typing in FRAMEWORK["project.output"] if i.startswith("project") and not typing
    }
    assert runtime_imports == {"project.tracebacks"}


def test_models_import_only_project_db() -> None:
    for path in (REPO / "apps").glob("*/models.py"):
        assert [i for i, _ in _imports(path) if i.startswith("project")] == ["project.db"], path
