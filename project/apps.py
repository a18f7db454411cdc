"""Installed apps: where they live, and importing their models once, in settings order."""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from project.errors import ProjectError, SettingsError, UsageError

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    from project.settings import Settings

# Revision ids are `<label>_<number>_<name>` in Alembic's 32-character version column.
MAX_LABEL_LENGTH = 26
_LABEL = re.compile(r"^[a-z_][a-z0-9_]*$")


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


def load_models(apps: Sequence[AppConfig]) -> dict[str, str]:
    """Import each app's `models` module and return {table name: owning app label}.

    Mapped classes belong to the app whose package holds their module; plain `Table`s to
    the app whose models import added them to the MetaData.
    """
    from project.db import metadata

    added_by: dict[str, str] = {}
    for app in apps:
        before = set(metadata.tables)
        _import_models(app)
        for table in set(metadata.tables) - before:
            added_by[table] = app.label
    return _table_owners(metadata, apps, added_by)


def _table_owners(
    metadata: MetaData, apps: Sequence[AppConfig], added_by: dict[str, str]
) -> dict[str, str]:
    from project.db import Model

    owners = dict(added_by)
    for mapper in Model.registry.mappers:
        module = mapper.class_.__module__
        app = next((a for a in apps if module == a.name or module.startswith(a.name + ".")), None)
        for table in mapper.tables:
            if app is not None:
                owners[table.name] = app.label
    strays = sorted(set(metadata.tables) - set(owners))
    if strays:
        raise ProjectError(
            f"Table(s) {', '.join(strays)} are defined outside every installed app. "
            "Move their models into an app listed in INSTALLED_APPS."
        )
    return owners


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
    if not _LABEL.match(label) or len(label) > MAX_LABEL_LENGTH:
        raise SettingsError(
            f"App label '{label}' (from '{name}') must be a lower-case Python identifier "
            f"of at most {MAX_LABEL_LENGTH} characters."
        )
    path = Path(next(iter(spec.submodule_search_locations)))
    return AppConfig(
        name=name, label=label, path=path, migrations_dir=path / "migrations" / subfolder
    )


def _import_models(app: AppConfig) -> None:
    module_name = f"{app.name}.models"
    if importlib.util.find_spec(module_name) is None:
        return  # an app without models is fine (it may only ship commands)
    try:
        importlib.import_module(module_name)
    except Exception as exc:
        from project.tracebacks import where

        raise ProjectError(
            f"Cannot import the models of app '{app.label}' ({where(exc)}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
