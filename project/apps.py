"""Installed apps: where they live, found without importing them (project.engine.model_tables imports
their models)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from project.errors import SettingsError, UsageError

if TYPE_CHECKING:
    from project.settings import Settings

# Revision ids are `<label>_<number>_<name>` in Alembic's 32-character version column.
MAX_LABEL_LENGTH = 26
_LABEL = re.compile(r"^[a-z_][a-z0-9_]*$")  # ASCII: labels name folders, revisions, tables


def label_problem(label: str) -> str | None:
    """What is wrong with `label` as an app label, or None: the one rule startapp and
    INSTALLED_APPS both apply (`café` is a Python identifier, but not an ASCII one)."""
    import keyword

    if not _LABEL.match(label) or keyword.iskeyword(label):
        return "use a lower-case ASCII Python identifier (a-z, 0-9, _; no keyword), e.g. 'shop'"
    if len(label) > MAX_LABEL_LENGTH:
        return f"use at most {MAX_LABEL_LENGTH} characters"
    return None


@dataclass(frozen=True)
class AppConfig:
    name: str  # dotted module path, e.g. "apps.pets"
    label: str  # last part of the path, e.g. "pets"; also the Alembic branch label
    path: Path  # the package folder
    migrations_dir: Path  # apps/<label>/migrations, or its <dialect>/ folder (see settings)


def get_app_configs(settings: Settings) -> list[AppConfig]:
    """Locate every installed app without importing its models."""
    subfolder = dialect_folder(settings.database_url) if settings.migrations_per_dialect else ""
    configs = [_locate(name, subfolder) for name in settings.installed_apps]
    seen: dict[str, str] = {}
    for config in configs:
        if config.label in seen:
            raise SettingsError(
                f"App labels aren't unique: '{seen[config.label]}' and '{config.name}' "
                f"are both labelled '{config.label}'."
            )
        seen[config.label] = config.name
    return configs


def select_apps(apps: Sequence[AppConfig], labels: Iterable[str]) -> list[AppConfig]:
    """The apps named on the command line, in settings order; unknown labels are an error."""
    wanted = list(dict.fromkeys(labels))
    by_label = {app.label: app for app in apps}
    unknown = [label for label in wanted if label not in by_label]
    if unknown:
        known = ", ".join(by_label) or "none"
        raise UsageError(
            f"App '{unknown[0]}' could not be found. Is it in INSTALLED_APPS? "
            f"Installed apps: {known}."
        )
    return [app for app in apps if app.label in wanted]


def dialect_folder(database_url: str) -> str:
    """The seed's layout: `migrations/{postgresql|mysql|sqlite}/`, MariaDB sharing mysql's."""
    scheme = database_url.partition("://")[0].partition("+")[0].lower()
    return _DIALECT_FOLDERS.get(scheme, scheme)


_DIALECT_FOLDERS = {
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}


def _locate(name: str, subfolder: str = "") -> AppConfig:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise SettingsError(
            f"INSTALLED_APPS names '{name}', which is not an importable package. "
            "Check the spelling, and that the folder has an __init__.py."
        )
    label = name.rpartition(".")[2]
    problem = label_problem(label)
    if problem:
        raise SettingsError(f"App label '{label}' (from '{name}') is not valid: {problem}.")
    path = Path(next(iter(spec.submodule_search_locations)))
    return AppConfig(
        name=name, label=label, path=path, migrations_dir=path / "migrations" / subfolder
    )
