"""The tables the installed apps' models define, on whatever MetaData they use.

Projects arrive with their own `DeclarativeBase`, `declarative_base()`, registry or plain
`Table`s on a `MetaData` of their own, often several. Rather than look for one MetaData,
we watch every `Table` being created (SQLAlchemy's `after_parent_attach` event) from the
moment the framework first imports an app's code, and note the modules on the stack: the
table belongs to the app whose package holds the innermost of them (for a mapped class,
its module), so a table built by a helper elsewhere belongs to the app that called it.
A table on any of those MetaData that no app's code created was defined outside every
installed app: an error, never silence.
"""

from __future__ import annotations

import importlib
import importlib.util
import linecache
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from project.errors import ProjectError

if TYPE_CHECKING:
    from sqlalchemy import MetaData, Table

    from project.apps import AppConfig


@dataclass(frozen=True)
class Origin:
    """Where a table was defined, for ownership and for error messages."""

    app: str  # the owning app's label
    module: str  # the module whose code created it
    model: str | None = None  # the mapped class, if any

    def __str__(self) -> str:
        what = f"model {self.model}" if self.model else "a Table"
        return f"{what} in {self.module} (app '{self.app}')"


@dataclass
class ModelTables:
    """Every table of the installed apps' models, and the MetaData objects they are on."""

    tables: dict[str, Table] = field(default_factory=dict)  # by table name
    origins: dict[str, Origin] = field(default_factory=dict)  # by table name
    metadatas: list[MetaData] = field(default_factory=list)  # in the order first seen

    @property
    def owners(self) -> dict[str, str]:
        """{table name: app label}."""
        return {name: origin.app for name, origin in self.origins.items()}

    @property
    def target(self) -> MetaData | list[MetaData]:
        """What Alembic's `target_metadata` takes: one MetaData, or a list of them."""
        if len(self.metadatas) == 1:
            return self.metadatas[0]
        return list(self.metadatas)

    def of_app(self, label: str) -> list[Table]:
        return [self.tables[name] for name, o in self.origins.items() if o.app == label]


# Every table created since watch(): the module whose top-level code made it (the one being
# imported then), and the mapped class being declared, if any. A module is imported once
# per process, so what it defined is remembered rather than seen again.
_created: dict[int, tuple[Table, str, type | None]] = {}
_watching = False


def watch() -> None:
    """Start noting where tables are created; called before anything imports app code
    (the models, or migration files that import them)."""
    global _watching
    if not _watching:
        from sqlalchemy import Table, event

        event.listen(Table, "after_parent_attach", _table_created)
        _watching = True


def _table_created(table: Table, metadata: MetaData) -> None:
    """Note the innermost module-level frame on the stack: the module holding the class
    statement or the Table() call, also when a helper elsewhere builds the table for it.
    A table made at run time (by a command, say) has the program's main module there, and
    one a library makes as it is imported (SQLAlchemy's own PostgreSQL catalog) that
    library: neither is an app's."""
    declared: type | None = None
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "<module>":
        name = frame.f_globals.get("__name__")
        if declared is None and isinstance(name, str) and name.startswith("sqlalchemy.orm"):
            candidate = frame.f_locals.get("cls")  # declarative's class being mapped
            declared = candidate if isinstance(candidate, type) else None
        frame = frame.f_back  # type: ignore[assignment]
    module = frame.f_globals.get("__name__") if frame is not None else None
    if isinstance(module, str) and module != "__main__":  # the program running: not an import
        _created[id(table)] = (table, module, declared)


def load_models(apps: Sequence[AppConfig]) -> ModelTables:
    """Import each app's `models` module (in settings order) and say who owns each table."""
    watch()
    for app in apps:
        _import_models(app, apps)
    return _collect(apps)


def _collect(apps: Sequence[AppConfig]) -> ModelTables:
    packages = [(app.name, app.label) for app in apps]
    result = ModelTables()
    seen_metadata: dict[int, MetaData] = {}
    for table, module, declared in _created.values():
        origin = _origin(module, declared, packages)
        if origin is None:
            continue
        other = result.origins.get(table.name)
        if other is not None and result.tables[table.name] is not table:
            raise ProjectError(
                f"Table '{table.name}' is defined twice: by {other} and by {origin}. "
                "Give one of them another __tablename__."
            )
        result.tables[table.name] = table
        result.origins[table.name] = origin
        if table.metadata is not None:
            seen_metadata.setdefault(id(table.metadata), table.metadata)
    result.metadatas = list(seen_metadata.values())
    strays = sorted(
        key
        for metadata in result.metadatas
        for key, table in metadata.tables.items()
        if table.name not in result.tables
    )
    if strays:
        raise ProjectError(
            f"Table(s) {', '.join(strays)} are on the same MetaData as the apps' models but "
            "defined outside every installed app (or imported before the apps were loaded). "
            "Move their models into an app listed in INSTALLED_APPS."
        )
    _require_sound(result)
    return result


def _origin(module: str, class_: type | None, packages: list[tuple[str, str]]) -> Origin | None:
    label = _label_of(module, packages)
    if label is None:
        return None
    if class_ is not None and class_.__module__ == module:
        return Origin(label, module, class_.__name__)
    return Origin(label, module)


def require_migratable(models: ModelTables, backend: str) -> None:
    """What this database cannot have, said before any migration is written."""
    for name, table in sorted(models.tables.items()):
        origin = models.origins[name]
        if table.schema and backend != "postgresql":
            raise ProjectError(
                f"Table {name} of {origin} is in schema '{table.schema}': schemas are supported "
                "on PostgreSQL only (on MySQL/MariaDB a schema is another database, on SQLite "
                "an attached file). Remove its schema, or use PostgreSQL."
            )
        for fk in sorted(table.foreign_keys, key=lambda fk: fk.parent.name):
            if backend in ("mysql", "mariadb") and (fk.deferrable or fk.initially):
                raise ProjectError(
                    f"The foreign key of {origin}, column {name}.{fk.parent.name}, is DEFERRABLE, "
                    "which MySQL/MariaDB cannot create (create_all() fails too). Remove "
                    "deferrable/initially, or use PostgreSQL."
                )


def _require_sound(models: ModelTables) -> None:
    """What SQLAlchemy would only say at the first query or the first DDL, said now, and
    what no migration could be written for."""
    from project.internals import metadata_sequences
    from project.sequences import column_sequence

    used = {
        (sequence.schema, sequence.name)
        for table in models.tables.values()
        for column in table.columns
        if (sequence := column_sequence(column)) is not None
    }
    for metadata in models.metadatas:
        for sequence in metadata_sequences(metadata):
            if (sequence.schema, sequence.name) not in used:
                raise ProjectError(
                    f"Sequence '{sequence.name}' is on the MetaData of the apps' models but no "
                    "column uses it, so no app owns it and no migration makes it. Give it to "
                    "the column that takes its values (mapped_column(Integer, Sequence(...)) "
                    "or server_default=seq.next_value()), or create it in a migration by hand "
                    "(op.create_sequence)."
                )
    for name, table in models.tables.items():
        origin = models.origins[name]
        for fk in table.foreign_keys:
            target = fk.target_fullname.rsplit(".", 1)[0]
            if table.metadata is None or target not in table.metadata.tables:
                raise ProjectError(
                    f"The foreign key of {origin}, column {name}.{fk.parent.name}, points at "
                    f"table '{target}', which no model on the same MetaData defines. Check the "
                    "name, or define that table's model (with the same declarative base)."
                )
        for index in table.indexes:
            if not index.expressions:
                raise ProjectError(
                    f"Index '{index.name}' of {origin} (table {name}) has no columns; a "
                    "migration could never create it. Name its columns, or remove it."
                )


def _label_of(module: str, packages: list[tuple[str, str]]) -> str | None:
    for package, label in packages:
        if module == package or module.startswith(package + "."):
            return label
    return None


_DUPLICATE = re.compile(r"Table '([^']+)' is already defined for this MetaData instance")


def _import_models(app: AppConfig, apps: Sequence[AppConfig]) -> None:
    module_name = f"{app.name}.models"
    if importlib.util.find_spec(module_name) is None:
        return  # an app without models is fine (it may only ship commands)
    try:
        importlib.import_module(module_name)
    except Exception as exc:
        from project.tracebacks import where

        duplicate = _DUPLICATE.search(str(exc))
        if duplicate:
            raise _duplicate_table(duplicate.group(1), app, apps, exc) from exc
        raise ProjectError(
            f"Cannot import the models of app '{app.label}' ({where(exc)}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _duplicate_table(
    name: str, app: AppConfig, apps: Sequence[AppConfig], exc: Exception
) -> ProjectError:
    """SQLAlchemy's advice (extend_existing=True) would silently merge two models."""
    from project.tracebacks import where

    packages = [(a.name, a.label) for a in apps]
    first = next(
        (
            origin
            for table, module, declared in _created.values()
            if table.key == name and (origin := _origin(module, declared, packages))
        ),
        None,
    )
    second = f"{_class_at(exc) or 'a model'} in app '{app.label}' ({where(exc)})"
    return ProjectError(
        f"Table '{name}' is defined twice: by {first or 'another model'} and by {second}. "
        "Give one of them another __tablename__."
    )


def _class_at(exc: Exception) -> str | None:
    """`model Foo` when the user's line that raised is a class statement."""
    import traceback

    from project.tracebacks import _is_library

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_library(f.filename)]
    if not frames:
        return None
    line = linecache.getline(frames[-1].filename, frames[-1].lineno or 0)
    match = re.match(r"\s*class\s+(\w+)", line)
    return f"model {match.group(1)}" if match else None
