"""Imports flow one way: cli -> services -> autogen -> engine -> backends -> adapter -> the top level.

errors and output are leaves; models import only project.db; nothing imports cli but the
entry point `python -m project`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

# Sub-packages from the top down: a module imports its own package's modules and those of
# packages below it, never above. The top level (settings, apps, db, data, errors, ...) is
# the floor that every layer uses; it imports only itself.
LAYERS = ["cli", "services", "autogen", "engine", "backends", "adapter"]
# What users and `python -m project` import; project.database only re-exports `session` for
# app commands written before the sub-packages.
FACADES = {"project", "project.__main__", "project.database"}


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


def _layer(module: str) -> int:
    """Depth of a module's sub-package: 0 for cli ... len(LAYERS) for the top level."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return len(LAYERS)


def _runtime_project_imports(module: str) -> list[str]:
    return sorted(
        {
            i
            for i, typing in FRAMEWORK[module]
            if not typing and (i == "project" or i.startswith("project."))
        }
    )


def test_every_package_is_a_regular_package() -> None:
    """A folder without __init__.py is a namespace package: any other `project/` or
    `project/engine/` on sys.path would merge into it silently."""
    folders = {p.parent for p in (REPO / "project").rglob("*.py")}
    assert sorted(str(f) for f in folders if not (f / "__init__.py").is_file()) == []


def test_sub_packages_import_only_downwards() -> None:
    offenders = {
        module: [i for i in _runtime_project_imports(module) if _layer(i) < _layer(module)]
        for module in FRAMEWORK
        if module not in FACADES
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_sub_packages_are_the_ones_the_layout_names() -> None:
    packages = {p.parent.name for p in (REPO / "project").glob("*/__init__.py")}
    assert packages == set(LAYERS)


def test_nothing_imports_cli() -> None:
    """Only the entry points do: manage.py, and `python -m project`."""
    assert [
        m
        for m in FRAMEWORK
        if not m.startswith("project.cli")
        and m != "project"
        and any(i.startswith("project.cli") for i in _runtime_project_imports(m))
    ] == ["project.__main__"]


def test_only_the_adapter_touches_alembic_internals() -> None:
    """Alembic's non-public names (`_upgrade_revs`, `_reverse`, ...) appear in one adapter."""
    import re

    private = re.compile(r"\balembic[\w.]*\._[a-z]|from alembic[\w.]* import .*\b_[a-z]")
    found = [
        str(path.relative_to(REPO))
        for path in sorted((REPO / "project").rglob("*.py"))
        if private.search(path.read_text()) and "adapter" not in path.parts
    ]
    assert found == []


def test_errors_and_output_are_leaves() -> None:
    assert _runtime_project_imports("project.errors") == []
    assert _runtime_project_imports("project.cli.output") == ["project.tracebacks"]


def test_models_import_only_project_db() -> None:
    for path in (REPO / "apps").glob("*/models.py"):
        assert [i for i, _ in _imports(path) if i.startswith("project")] == ["project.db"], path
