"""startproject: a new project folder (manage.py, settings.py, the Alembic environment,
apps/), as Django's `django-admin startproject`.

The files come from `project/project_template/`: `*-tpl` files are written without the
suffix (so no tool takes the templates for the package's own modules), `gitignore` and
`env.example` as dot files, and `{{ project_name }}` is replaced by the project's name.
"""

from __future__ import annotations

import importlib.util
import keyword
from dataclasses import dataclass
from pathlib import Path

from project.errors import UsageError

TEMPLATE = Path(__file__).resolve().parent.parent / "project_template"
TEMPLATE_SUFFIX = "-tpl"
DOT_FILES = ("gitignore", "env.example")  # written as .gitignore, .env.example


@dataclass(frozen=True)
class NewProject:
    name: str
    path: Path
    files: tuple[Path, ...]  # relative to path, in the order written


def startproject(name: str, directory: Path | None = None) -> NewProject:
    """Write the project into `directory` (created; it may exist if empty), by default
    ./NAME. Nothing is written when the name or the folder is refused."""
    check_project_name(name)
    path = (directory if directory is not None else Path(name)).resolve()
    if path.exists() and not path.is_dir():
        raise UsageError(f"'{path}' exists and is not a folder: choose another directory.")
    if path.is_dir() and any(path.iterdir()):
        raise UsageError(
            f"'{path}' already exists and is not empty: choose another name or an empty directory."
        )
    files = template_files()
    path.mkdir(parents=True, exist_ok=True)
    for source, target in files:
        destination = path / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(
            source.read_text(encoding="utf-8").replace("{{ project_name }}", name),
            encoding="utf-8",
        )
        destination.chmod(source.stat().st_mode & 0o777 | 0o600)
    return NewProject(name, path, tuple(target for _, target in files))


def check_project_name(name: str) -> None:
    """Django's rule: an identifier that is not already the name of a module."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(
            f"'{name}' is not a valid project name: use a Python identifier, e.g. 'mysite'."
        )
    if importlib.util.find_spec(name) is not None:
        raise UsageError(
            f"'{name}' is the name of an existing Python module and cannot be used as a "
            "project name: choose another, e.g. 'mysite'."
        )


def template_files() -> list[tuple[Path, Path]]:
    """(template file, where it goes in the project), sorted."""
    found = []
    for source in sorted(TEMPLATE.rglob("*")):
        if not source.is_file() or "__pycache__" in source.parts:
            continue
        target = source.relative_to(TEMPLATE)
        target = target.with_name(target.name.removesuffix(TEMPLATE_SUFFIX))
        if target.name in DOT_FILES:
            target = target.with_name(f".{target.name}")
        found.append((source, target))
    return found
