"""The tables the installed apps' models define, on whatever MetaData they use.

Projects arrive with their own `DeclarativeBase`, `declarative_base()`, registry or plain
`Table`s on a `MetaData` of their own, often several. The models' MetaData are the ones an
app's `models` module holds (a base class, a MetaData, a Table, a mapped class) or that a
table made while it was imported is on; every table on them belongs to an app:

- the app whose module's top-level code made it, as seen when it was made: every `Table` is
  watched (SQLAlchemy's `after_parent_attach` event) from before anything imports app
  code, the models or migration files that import them; the module holding the class
  statement or the Table() call counts, also when a helper elsewhere builds the table;
- else (imported before the framework watched) the app whose module holds its mapped class
  or the Table itself;
- else nobody: an error, never silence.

A table made elsewhere on another MetaData (a command reading another database) is not a
model.
"""

from __future__ import annotations

import importlib
import importlib.util
import linecache
import re
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from project.adapter.internals import class_being_mapped, module_making
from project.backends import backend_for
from project.errors import ProjectError

if TYPE_CHECKING:
    from sqlalchemy import MetaData, Table
    from sqlalchemy import Sequence as SequenceSchemaItem

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

    tables: dict[str, Table] = field(default_factory=dict)  # by key ("schema.name" or name)
    origins: dict[str, Origin] = field(default_factory=dict)  # by key
    metadatas: list[MetaData] = field(default_factory=list)  # in the order first seen

    @property
    def owners(self) -> dict[str, str]:
        """{table name: app label} (Alembic's operations name tables without their schema)."""
        return {self.tables[key].name: origin.app for key, origin in self.origins.items()}

    def by_name(self, name: str) -> Table | None:
        return next((t for t in self.tables.values() if t.name == name), None)

    @property
    def target(self) -> MetaData | list[MetaData]:
        """What Alembic's `target_metadata` takes: one MetaData, or a list of them."""
        if len(self.metadatas) == 1:
            return self.metadatas[0]
        return list(self.metadatas)

    def of_app(self, label: str) -> list[Table]:
        return [self.tables[name] for name, o in self.origins.items() if o.app == label]


# Every table created since watch(): the module whose top-level code made it, the mapped
# class being declared, if any, and whether an app's models were being imported. A module
# is imported once per process, so what it defined is remembered rather than seen again.
_created: dict[int, tuple[Table, str, type | None, bool]] = {}
_watching = False
_importing_models = False


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
    A table made at run time has the program's main module there, and one a library makes
    as it is imported (SQLAlchemy's own PostgreSQL catalog) that library: neither is an
    app's."""

    module = module_making()
    if module is not None and module != "__main__":  # the program running: not an import
        _created[id(table)] = (table, module, class_being_mapped(), _importing_models)


def load_models(
    apps: Sequence[AppConfig],
    only: Collection[str] | None = None,
    checked: Collection[str] | None = None,
) -> ModelTables:
    """Import each app's `models` module (in settings order) and say who owns each table.

    `only`: the labels of the apps to import (a comparison of some apps; other apps'
    tables may be imported too, by them); `checked`: the apps whose foreign keys must
    find their targets (the ones compared). Both default to every app."""
    watch()
    for app in apps:
        if only is None or app.label in only:
            _import_models(app, apps)
    return _collect(apps, checked if checked is not None else only)


def _collect(apps: Sequence[AppConfig], checked: Collection[str] | None = None) -> ModelTables:
    packages = [(app.name, app.label) for app in apps]
    _index_modules()
    found = _found_in_modules(packages)
    result = ModelTables()
    strays = []
    for metadata in _models_metadata(packages):
        result.metadatas.append(metadata)
        for key, table in metadata.tables.items():
            origin = _recorded_origin(table, packages) or found.get(id(table))
            if origin is None:
                strays.append(key)
            elif key in result.tables:
                raise ProjectError(
                    f"Table '{key}' is defined twice: by {result.origins[key]} and by {origin}. "
                    "Give one of them another __tablename__."
                )
            else:
                result.tables[key], result.origins[key] = table, origin
    if strays:
        raise ProjectError(
            f"Table(s) {', '.join(sorted(strays))} are on the same MetaData as the apps' models "
            "but defined outside every installed app. Move their models into an app listed "
            "in INSTALLED_APPS."
        )
    _require_sound(result, checked)
    return result


def _models_metadata(packages: list[tuple[str, str]]) -> list[MetaData]:
    """The MetaData an app's models module holds, or a table made while it was imported is
    on, in settings order."""
    from sqlalchemy import MetaData

    seen: dict[int, MetaData] = {}
    for package, _ in packages:
        for name, module in _app_modules(package, models_only=True):
            for value in vars(module).values():
                metadata = _metadata_of(value)
                if isinstance(metadata, MetaData):
                    seen.setdefault(id(metadata), metadata)
    for table, module, _, importing in _created.values():
        if importing and _label_of(module, packages) and table.metadata is not None:
            seen.setdefault(id(table.metadata), table.metadata)
    return list(seen.values())


def _metadata_of(value: Any) -> Any:
    """The MetaData a models module's global stands for: itself, a Table's, a declarative
    base's or a mapped class's."""
    from sqlalchemy import MetaData, Table

    if isinstance(value, MetaData):
        return value
    if isinstance(value, Table):
        return value.metadata
    if isinstance(value, type):
        metadata = getattr(value, "metadata", None)
        return metadata if isinstance(metadata, MetaData) else None
    return None


def _app_modules(package: str, models_only: bool = False) -> list[tuple[str, Any]]:
    prefix = f"{package}.models" if models_only else package
    return [
        (name, module)
        for name, module in _modules_under(package)
        if name == prefix or name.startswith(prefix + ".")
    ]


def _modules_under(package: str) -> list[tuple[str, Any]]:
    """The imported modules in `package` (itself included), from the index _collect makes:
    scanning all of sys.modules for each of 50 apps took 0.1 s."""
    top = package.partition(".")[0]
    return [(n, m) for n, m in _index.get(top, []) if n == package or n.startswith(package + ".")]


def _index_modules() -> None:
    """Index sys.modules by top-level package, for the _collect that follows."""
    _index.clear()
    for name, module in list(sys.modules.items()):
        if module is not None:
            _index.setdefault(name.partition(".")[0], []).append((name, module))


_index: dict[str, list[tuple[str, Any]]] = {}


def _found_in_modules(packages: list[tuple[str, str]]) -> dict[int, Origin]:
    """{id of a table: its origin}, from the mapped classes and Tables the apps' modules
    hold: for models imported before the framework watched tables being made."""
    from sqlalchemy import Table

    found: dict[int, Origin] = {}
    for package, label in packages:
        for name, module in _app_modules(package):
            for value in vars(module).values():
                table = getattr(value, "__table__", None) if isinstance(value, type) else value
                if not isinstance(table, Table) or id(table) in found:
                    continue
                if not isinstance(value, type):
                    found[id(table)] = Origin(label, name)
                elif owner := _label_of(value.__module__, packages):
                    found[id(table)] = Origin(owner, value.__module__, value.__name__)
    return found


def _recorded_origin(table: Table, packages: list[tuple[str, str]]) -> Origin | None:
    recorded = _created.get(id(table))
    return _origin(recorded[1], recorded[2], packages) if recorded else None


def _origin(module: str, class_: type | None, packages: list[tuple[str, str]]) -> Origin | None:
    label = _label_of(module, packages)
    if label is None:
        return None
    if class_ is not None and class_.__module__ == module:
        return Origin(label, module, class_.__name__)
    return Origin(label, module)


def identifier_limit(backend: str, targets: Sequence[str] = ()) -> tuple[int, str] | None:
    """(the strictest limit, the database that sets it) of the configured database and the
    targets of a portable history; None when none of them has one (PostgreSQL counts bytes,
    and silently cuts a longer one, MySQL/MariaDB refuse it at migrate; SQLite has none)."""
    limits = [
        (limit, name)
        for name in (backend, *targets)
        if (limit := backend_for(name).identifier_limit) is not None
    ]
    if not limits:
        return None
    length, name = min(limits)
    return length, backend_for(name).label


def identifier_length(name: str) -> int:
    """The length that counts against the limits: bytes (PostgreSQL's unit; the same as
    characters for ASCII names, and never fewer)."""
    return len(name.encode("utf-8"))


def named_objects(table: Table) -> list[tuple[str, str]]:
    """(what, name) of everything of `table` a migration names: the table, its columns,
    indexes and named constraints (names from a naming convention included)."""
    found = [("Table", table.name)]
    found += [(f"Column {table.name}.", column.name) for column in table.columns]
    found += [("Index", index.name) for index in table.indexes if isinstance(index.name, str)]
    found += [
        (f"{type(constraint).__name__}", constraint.name)
        for constraint in table.constraints
        if isinstance(constraint.name, str) and constraint.name != "_unnamed_"
    ]
    return found


def require_short_names(models: ModelTables, backend: str, targets: Sequence[str] = ()) -> None:
    """Identifiers longer than the strictest database allows, said before anything is
    written (PostgreSQL would cut them into a diff that never ends)."""
    limit = identifier_limit(backend, targets)
    if limit is None:
        return
    length, database = limit
    where = f"{database}'s limit" + (" (the strictest of DATABASE_TARGETS)" if targets else "")
    for key, table in sorted(models.tables.items()):
        for what, name in named_objects(table):
            if identifier_length(name) > length:
                shown = f"{what}{name}" if what.endswith(".") else f"{what} '{name}'"
                raise ProjectError(
                    f"{shown} of {models.origins[key]} is {identifier_length(name)} characters "
                    f"long, more than {where} of {length}. Give it a shorter name (for a "
                    "generated name: name it, or shorten the naming convention)."
                )


def require_migratable(models: ModelTables, backend: str, targets: Sequence[str] = ()) -> None:
    """What this database (or a target of the portable history) cannot have, said before
    any migration is written."""
    require_short_names(models, backend, targets)
    database = backend_for(backend)
    for key, table in sorted(models.tables.items()):
        origin, name = models.origins[key], table.name
        if table.schema and not database.supports_schemas:
            raise ProjectError(
                f"Table {name} of {origin} is in schema '{table.schema}': schemas are supported "
                "on PostgreSQL only (on MySQL/MariaDB a schema is another database, on SQLite "
                "an attached file). Remove its schema, or use PostgreSQL."
            )
        if table.schema == "public":
            raise ProjectError(
                f"Table {name} of {origin} names schema 'public', PostgreSQL's default: leave "
                "schema out (Alembic compares a table named in its default schema as one in "
                "another, and would change its foreign keys on every run)."
            )
        for fk in sorted(table.foreign_keys, key=lambda fk: fk.parent.name):
            if not database.supports_deferrable_foreign_keys and (fk.deferrable or fk.initially):
                raise ProjectError(
                    f"The foreign key of {origin}, column {name}.{fk.parent.name}, is DEFERRABLE, "
                    "which MySQL/MariaDB cannot create (create_all() fails too). Remove "
                    "deferrable/initially, or use PostgreSQL."
                )


def _require_sound(models: ModelTables, checked: Collection[str] | None = None) -> None:
    """What SQLAlchemy would only say at the first query or the first DDL, said now, and
    what no migration could be written for."""
    from project.adapter.internals import metadata_sequences

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
    for key, table in models.tables.items():
        origin, name = models.origins[key], table.name
        for fk in table.foreign_keys if checked is None or origin.app in checked else ():
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
    global _importing_models
    module_name = f"{app.name}.models"
    if importlib.util.find_spec(module_name) is None:
        return  # an app without models is fine (it may only ship commands)
    _importing_models = True
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
    finally:
        _importing_models = False


def _duplicate_table(
    name: str, app: AppConfig, apps: Sequence[AppConfig], exc: Exception
) -> ProjectError:
    """SQLAlchemy's advice (extend_existing=True) would silently merge two models."""
    from project.tracebacks import where

    packages = [(a.name, a.label) for a in apps]
    first = next(
        (
            origin
            for table, module, declared, _ in _created.values()
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

    from project.tracebacks import is_library

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not is_library(f.filename)]
    if not frames:
        return None
    line = linecache.getline(frames[-1].filename, frames[-1].lineno or 0)
    match = re.match(r"\s*class\s+(\w+)", line)
    return f"model {match.group(1)}" if match else None


def column_sequence(column: Any) -> SequenceSchemaItem | None:
    """The sequence a column takes its values from: its default, or its server default
    (`server_default=seq.next_value()`)."""
    from sqlalchemy.schema import DefaultClause, Sequence
    from sqlalchemy.sql.functions import next_value

    if isinstance(column.default, Sequence):
        return column.default
    server = column.server_default
    if isinstance(server, DefaultClause) and isinstance(server.arg, next_value):
        return server.arg.sequence
    return None
