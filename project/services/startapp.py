"""startapp: a new app's folder, and its place in INSTALLED_APPS.

INSTALLED_APPS is extended in settings.py only when it is a plain list literal there (the
usual case, and the example's); otherwise the command says what to add, leaving the file
as it is.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from project.apps import get_app_configs, label_problem
from project.errors import UsageError

if TYPE_CHECKING:
    from project.settings import Settings

APPS_PACKAGE = "apps"

INIT = '"""The {name} app."""\n'
MODELS = '''"""The {name} app's models: SQLAlchemy 2 typed declarative classes on project.db.Model.

A model's table is named {name}_<model> (set __tablename__ to choose another). After a
change, run: python manage.py makemigrations {name}
"""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from project.db import Model

# class Thing(Model):
#     id: Mapped[int] = mapped_column(primary_key=True)
#     name: Mapped[str] = mapped_column(String(100))
'''
COMMANDS = '''"""The {name} app's management commands: each module here is `manage.py <module name>`,
with a function `command` whose typed parameters Typer turns into arguments and options
(see apps/pets/commands/importpets.py)."""
'''


@dataclass
class NewApp:
    name: str
    path: Path
    settings_file: Path | None  # where INSTALLED_APPS was extended; None: the user must


def startapp(settings: Settings, name: str) -> NewApp:
    dotted = f"{APPS_PACKAGE}.{name}"
    _check_name(settings, name)
    path = settings.base_dir / APPS_PACKAGE / name
    if path.exists():
        raise UsageError(f"'{path}' already exists: choose another name for the app.")
    (path / "migrations").mkdir(parents=True)
    (path / "commands").mkdir()
    (path / "__init__.py").write_text(INIT.format(name=name))
    (path / "models.py").write_text(MODELS.format(name=name))
    (path / "migrations" / ".gitkeep").write_text("")
    (path / "commands" / "__init__.py").write_text(COMMANDS.format(name=name))
    package = settings.base_dir / APPS_PACKAGE / "__init__.py"
    if not package.exists():
        package.write_text("")
    return NewApp(name, path, _install(settings, dotted))


def _check_name(settings: Settings, name: str) -> None:
    problem = label_problem(name)
    if problem:
        raise UsageError(f"'{name}' is not a valid app name: {problem}.")
    if name in sys.stdlib_module_names:
        raise UsageError(
            f"'{name}' is the name of a Python module; choose another name for the app."
        )
    if any(app.label == name for app in get_app_configs(settings)):
        raise UsageError(f"An installed app is labelled '{name}' already.")


def _install(settings: Settings, dotted: str) -> Path | None:
    """Add `dotted` to a literal INSTALLED_APPS list in the settings file, if there is one."""
    module = sys.modules.get(settings.module)
    source_file = Path(getattr(module, "__file__", "") or "")
    if not source_file.is_file():
        return None
    source = source_file.read_text(encoding="utf-8")
    assignments = [node for node in ast.parse(source).body if _assigns_installed_apps(node)]
    if len(assignments) != 1:  # built in steps: only the user knows where it belongs
        return None
    for node in assignments:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.List)
            and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.value.elts
            )
            and node.value.end_lineno is not None
        ):
            lines = source.splitlines(keepends=True)
            end_line, end_col = node.value.end_lineno - 1, (node.value.end_col_offset or 1) - 1
            closing = lines[end_line]
            if node.value.elts and node.value.elts[-1].lineno != node.value.end_lineno:
                indent = " " * node.value.elts[-1].col_offset
                lines[end_line] = f'{indent}"{dotted}",\n' + closing
            else:
                separator = ", " if node.value.elts else ""
                comma = closing[:end_col].rstrip().endswith(",")
                lines[end_line] = (
                    closing[:end_col]
                    + ("" if comma else separator)
                    + f'"{dotted}"'
                    + closing[end_col:]
                )
            source_file.write_text("".join(lines), encoding="utf-8")
            return source_file
    return None


def _assigns_installed_apps(node: ast.stmt) -> bool:
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        targets = [node.target]
    else:
        return False
    return any(getattr(target, "id", None) == "INSTALLED_APPS" for target in targets)
