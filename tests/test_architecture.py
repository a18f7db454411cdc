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


# Packages whose non-public parts only project/adapter/ may use (PyMySQL: a connection's
# read timeout, which nothing public resets).
DEPENDENCIES = ("alembic", "sqlalchemy", "pymysql")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _our_names(trees: list[ast.AST]) -> set[str]:
    """Underscore attributes and keywords our own classes and functions define: methods and
    class attributes, `self._x = ...`, parameters. A class deriving from a dependency's
    (ScriptDirectory, ...) is left out: overriding its private method is a use of it."""
    classes = {n.name for tree in trees for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    plain = {"object", "Generic", "Protocol", "NamedTuple", "TypedDict", "Exception", *classes}
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                if all(ast.unparse(b).split("[")[0].split(".")[-1] in plain for b in node.bases):
                    names |= _class_names(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                arguments = node.args
                names.update(
                    a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)
                )
    return {name for name in names if _private(name)}


def _class_names(node: ast.ClassDef) -> set[str]:
    names = set()
    for item in ast.walk(node):
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(item.name)
        elif isinstance(item, ast.Name) and isinstance(item.ctx, ast.Store):
            names.add(item.id)
        elif _stored_on_self(item):
            names.add(item.attr)  # type: ignore[attr-defined]
    return names


def _stored_on_self(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id in ("self", "cls")
    )


def _dependency_private_names() -> set[str]:
    """Every underscore name in the installed dependencies' sources (read as text: parsing
    all of SQLAlchemy takes seconds, and a few extra names only matter if we use them)."""
    import importlib
    import re

    identifier = re.compile(rb"\b_[A-Za-z0-9]\w*")
    names: set[str] = set()
    for package in DEPENDENCIES:
        root = Path(importlib.import_module(package).__file__ or "").parent
        for source in root.rglob("*.py"):
            names.update(n.decode() for n in identifier.findall(source.read_bytes()))
    return {name for name in names if _private(name)}


def _private_uses(tree: ast.AST, private: set[str]) -> list[str]:
    """The dependencies' private names a module uses: attributes (also through getattr and
    setattr with a literal name), keyword arguments, imports, and swapping an object's
    class (which makes it something its package does not know)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (
            node.attr in private or (node.attr == "__class__" and isinstance(node.ctx, ast.Store))
        ):
            found.append(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in private
        ):
            found.append(str(node.args[1].value))
        elif isinstance(node, ast.keyword) and node.arg in private:
            found.append(node.arg)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(DEPENDENCIES):
            modules = [p for p in (node.module or "").split(".") if _private(p)]
            found += modules + [a.name for a in node.names if _private(a.name)]
        elif isinstance(node, ast.Import):
            found += [
                a.name
                for a in node.names
                if a.name.startswith(DEPENDENCIES) and any(map(_private, a.name.split(".")))
            ]
    return found


def test_only_the_adapter_touches_alembic_internals() -> None:
    """Alembic's, SQLAlchemy's and PyMySQL's non-public names (`_upgrade_revs`, `_reverse`,
    `_copy()`, ...) are used in project/adapter/ alone: a release that changes one breaks
    one package, and tests/test_internals.py says which."""
    sources = {
        path: ast.parse(path.read_text()) for path in sorted((REPO / "project").rglob("*.py"))
    }
    private = _dependency_private_names() - _our_names(list(sources.values()))
    found = {
        str(path.relative_to(REPO)): sorted(set(uses))
        for path, tree in sources.items()
        if "adapter" not in path.relative_to(REPO).parts and (uses := _private_uses(tree, private))
    }
    assert found == {}


def test_only_the_adapter_writes_alembic_version() -> None:
    """Alembic owns its version table; the writes we need (restamping a squash, pruning a
    ghost, adopting a foreign history) go through project.adapter.version_table."""
    import re

    write = re.compile(r"(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+alembic_version", re.IGNORECASE)
    found = [
        str(path.relative_to(REPO))
        for path in sorted((REPO / "project").rglob("*.py"))
        if "adapter" not in path.relative_to(REPO).parts and write.search(path.read_text())
    ]
    assert found == []


def test_errors_and_output_are_leaves() -> None:
    assert _runtime_project_imports("project.errors") == []
    assert _runtime_project_imports("project.cli.output") == ["project.tracebacks"]


def test_models_import_only_project_db() -> None:
    for path in (REPO / "apps").glob("*/models.py"):
        assert [i for i, _ in _imports(path) if i.startswith("project")] == ["project.db"], path
