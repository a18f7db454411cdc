"""Which apps a makemigrations run compares: the ones whose files changed since the last
comparison, and the ones a change there can reach.

An app's answer (its migration, or none) depends on its own files (models, migrations), on
what its files import from other apps, on the tables its foreign keys point at (a column
takes the type of the column it points at) and on the tables pointing at its own, and on
what other apps' migrations do to its tables. Everything else that shapes it (the
project's other files, env.py, the framework, the settings, the database kind, the library
versions) is the project digest (project.engine.fingerprint.Sources).

The record of the last comparison, `.manage_cache/compared.json`, keeps per app the digest
it was compared at, whether it had changes, and those facts. A run compares again an app
whose digest differs or that had changes, then widens the set:
- apps importing one of them (transitively): a type or base class they share;
- apps whose foreign keys point at their tables, and apps theirs point at;
- owners of tables their migration files change.
The others' "no changes" stands; their models are not even imported, except where a
compared table's foreign key needs its target. Every app is compared, as before, when
there is no record, the project digest changed, a table moved between apps, or any app
uses an object shared by the whole database that a partial comparison would see only part
of (a sequence, a schema, an enum type on PostgreSQL).

What it does not see: an app reaching another without an import statement naming it (an
`importlib` call), and migrations changing another app's table in raw SQL (`op.execute`);
`makemigrations --no-cache` compares every app.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from project.apps import AppConfig
    from project.engine.fingerprint import Sources
    from project.engine.model_tables import ModelTables
    from project.settings import Settings

RECORD = "compared.json"  # in .manage_cache/
_FORMAT = 1


@dataclass
class AppRecord:
    """What the last comparison knew of one app."""

    digest: str  # of its files, when compared
    clean: bool  # it found no changes
    imports: list[str] = field(default_factory=list)  # other apps its files import
    tables: list[str] = field(default_factory=list)  # the tables its models define
    references: list[str] = field(default_factory=list)  # tables its foreign keys point at
    touches: list[str] = field(default_factory=list)  # tables its migration files change
    shared: bool = False  # its models use a sequence, a schema or a PostgreSQL enum type


@dataclass
class Record:
    project: str
    apps: dict[str, AppRecord]
    # What the last run compared (None: every app) and why: for -v 3 readers and the tests.
    compared: list[str] | None = None
    reason: str = ""


@dataclass(frozen=True)
class Scope:
    """The apps to compare (None: every app) and why."""

    compared: frozenset[str] | None
    reason: str
    # {table: app} of the apps whose models are not imported, from the record.
    owners: dict[str, str] = field(default_factory=dict)
    changed: frozenset[str] = frozenset()  # the apps whose files changed, or had changes

    @property
    def partial(self) -> bool:
        return self.compared is not None


def everything(reason: str) -> Scope:
    return Scope(None, reason)


def read_record(settings: Settings) -> Record | None:
    try:
        data = json.loads(_path(settings).read_text())
        if data.get("format") != _FORMAT:
            return None
        apps = {label: AppRecord(**app) for label, app in data["apps"].items()}
        return Record(data["project"], apps, data.get("compared"), data.get("reason", ""))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # none yet, or damaged: compare every app, and write a new one


def write_record(settings: Settings, record: Record) -> None:
    """Written under a private name, then renamed: a reader sees the old record or the new."""
    path = _path(settings)
    path.parent.mkdir(exist_ok=True)
    private = path.with_name(f".tmp-{os.getpid()}-{RECORD}")
    data = {"format": _FORMAT, **asdict(record)}
    private.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(private, path)


def _path(settings: Settings) -> Path:
    from project.engine.scratch import CACHE_FOLDER

    return settings.base_dir / CACHE_FOLDER / RECORD


def first_scope(
    record: Record | None,
    sources: Sources,
    apps: Sequence[AppConfig],
    whole_database: str | None,
) -> tuple[Scope, dict[str, AppRecord]]:
    """The apps to compare, from the files alone (before any model is imported), and the
    facts of the apps whose files changed (app_facts). `whole_database`: a reason to
    compare every app that the caller found (sequences in the history, say)."""
    if record is None:
        return everything("no earlier comparison"), {}
    if record.project != sources.project:
        return everything("the project's files, settings or libraries changed"), {}
    if set(record.apps) != {app.label for app in apps}:
        return everything("the installed apps changed"), {}
    if whole_database or any(app.shared for app in record.apps.values()):
        return everything(whole_database or _SHARED), {}
    changed = {
        label
        for label, app in record.apps.items()
        if app.digest != sources.apps[label] or not app.clean
    }
    facts = {
        app.label: app_facts(app, apps)
        for app in apps
        if record.apps[app.label].digest != sources.apps[app.label]
    }
    known = {label: _with_files(app, facts.get(label)) for label, app in record.apps.items()}
    compared = frozenset(reach(changed, known))
    owners = table_owners(record.apps)
    reason = "changed: " + ", ".join(sorted(changed))
    return Scope(compared, reason, owners, frozenset(changed)), facts


_SHARED = "a sequence, schema or enum type is shared by the whole database"


def _with_files(app: AppRecord, facts: AppRecord | None) -> AppRecord:
    """The record of an app with what its files say now (imports, touches)."""
    if facts is None:
        return app
    return AppRecord(
        app.digest, app.clean, facts.imports, app.tables, app.references, facts.touches, app.shared
    )


def table_owners(apps: dict[str, AppRecord]) -> dict[str, str]:
    """{table: app} as the records say."""
    return {table: label for label, app in apps.items() for table in app.tables}


def reach(changed: Iterable[str], apps: dict[str, AppRecord]) -> set[str]:
    """The changed apps, the apps importing them (transitively), and the apps their
    foreign keys or migrations reach and that reach them."""
    affected = set(changed)
    while True:
        importers = {label for label, app in apps.items() if affected & set(app.imports)}
        if importers <= affected:
            break
        affected |= importers
    owners = table_owners(apps)
    compared = set(affected)
    for label in affected:
        app = apps[label]
        compared |= {owners[t] for t in (*app.references, *app.touches) if t in owners}
        own = set(app.tables)
        compared |= {other for other, a in apps.items() if own & set(a.references)}
    return compared


def load_compared_models(
    apps: Sequence[AppConfig], scope: Scope, record: Record | None, dialect: str
) -> tuple[ModelTables, Scope]:
    """Import the models of the compared apps and of the apps their foreign keys point at;
    the scope may widen as they show new foreign keys, or become every app (then every
    app's models are imported)."""
    from project.engine.model_tables import load_models

    if scope.compared is None or record is None:
        return load_models(apps), everything(scope.reason)
    imported: set[str] = set()
    wanted = set(scope.compared)
    while not wanted <= imported:
        imported |= wanted
        models = load_models(apps, only=imported, checked=())
        scope = _widened(scope, record, models, dialect)
        if scope.compared is None:
            return load_models(apps), scope
        wanted = set(scope.compared) | _targets(models, scope)
    owners = {t: a for t, a in scope.owners.items() if a not in imported}
    scope = Scope(scope.compared, scope.reason, owners, scope.changed)
    return load_models(apps, only=imported, checked=scope.compared), scope


def _targets(models: ModelTables, scope: Scope) -> set[str]:
    """The apps owning the tables the compared apps' foreign keys point at."""
    owners = {**scope.owners, **models.owners}
    compared = scope.compared or frozenset()
    return {
        owners[target]
        for key, table in models.tables.items()
        if models.origins[key].app in compared
        for fk in table.foreign_keys
        if (target := _target_table(fk.target_fullname)) in owners
    }


def _target_table(target_fullname: str) -> str:
    """`table` of a foreign key's "table.column" or "schema.table.column"."""
    return target_fullname.rsplit(".", 2)[-2]


def _widened(scope: Scope, record: Record, models: ModelTables, dialect: str) -> Scope:
    """Every app if a table moved between apps or a shared object appeared; else the scope
    with the apps that the imported models' foreign keys reach."""
    assert scope.compared is not None
    fresh = model_facts(models, dialect)
    recorded_owner = table_owners(record.apps)
    for label, (tables, _, shared) in fresh.items():
        if shared:
            return everything(_SHARED)
        for table in tables:
            if recorded_owner.get(table, label) != label:
                return everything(f"table {table} moved between apps")
    known = {
        label: AppRecord(
            app.digest, app.clean, app.imports, *fresh[label][:2], app.touches, app.shared
        )
        if label in fresh
        else app
        for label, app in record.apps.items()
    }
    wider = reach(scope.changed, known) - scope.compared
    if not wider:
        return scope
    return Scope(scope.compared | wider, scope.reason, scope.owners, scope.changed)


def recorded(
    record: Record | None,
    sources: Sources,
    scope: Scope,
    models: ModelTables,
    changed_apps: set[str | None],
    facts: dict[str, AppRecord],
    apps: Sequence[AppConfig],
    dialect: str,
) -> Record:
    """The record after a comparison: the compared apps as found now, the others as they
    were. An operation no app owns (PROTECT_UNOWNED_TABLES off) leaves no app clean."""
    fresh = model_facts(models, dialect)
    before = record.apps if record is not None and record.project == sources.project else {}
    result = {} if scope.compared is None else dict(before)
    known = {t for tables, _, _ in fresh.values() for t in tables}
    known |= {t for app in before.values() for t in app.tables}
    for app in apps:
        label = app.label
        if scope.compared is not None and label not in scope.compared:
            continue
        files = facts.get(label) or _same_files(before.get(label), sources.apps[label])
        if files is None:
            files = app_facts(app, apps)
        tables, references, shared = fresh.get(label, ([], [], False))
        clean = label not in changed_apps and None not in changed_apps
        touches = [t for t in files.touches if t in known]  # a table, not any string
        result[label] = AppRecord(
            sources.apps[label], clean, files.imports, tables, references, touches, shared
        )
    compared = None if scope.compared is None else sorted(scope.compared)
    return Record(sources.project, result, compared, scope.reason)


def _same_files(app: AppRecord | None, digest: str) -> AppRecord | None:
    """The recorded facts of an app's files, if its files are the ones recorded."""
    return app if app is not None and app.digest == digest else None


def model_facts(models: ModelTables, dialect: str) -> dict[str, tuple[list[str], list[str], bool]]:
    """{app: (its tables, the tables its foreign keys point at, whether it uses an object
    shared by the whole database)} of the imported models."""
    from project.engine.model_tables import column_sequence

    found: dict[str, tuple[list[str], list[str], bool]] = {}
    for key, table in models.tables.items():
        label = models.origins[key].app
        tables, references, shared = found.setdefault(label, ([], [], False))
        tables.append(table.name)
        references.extend(_target_table(fk.target_fullname) for fk in table.foreign_keys)
        uses_shared = bool(table.schema) or any(
            column_sequence(c) is not None or (dialect == "postgresql" and _is_enum(c.type))
            for c in table.columns
        )
        found[label] = (tables, references, shared or uses_shared)
    return {label: (sorted(set(t)), sorted(set(r)), s) for label, (t, r, s) in found.items()}


def _is_enum(type_: Any) -> bool:
    from sqlalchemy import Enum

    return isinstance(getattr(type_, "impl_instance", type_), Enum) or isinstance(type_, Enum)


def app_facts(app: AppConfig, apps: Sequence[AppConfig]) -> AppRecord:
    """The imports and touches of one app, read from the text of its files (digest and
    clean unset). Read as text, not parsed: parsing 50 initial migrations of 10 tables took
    1.6 s, more than the comparison it would save. Both are supersets, which only compare
    more: any mention of another app's module counts as an import, and any quoted name in
    a migration file that is a table as a table it changes."""
    from project.engine.fingerprint import app_files

    others = [(other.name, other.label) for other in apps if other.label != app.label]
    top_names = {dotted.partition(".")[0] for dotted, _ in others}
    tops = sorted(re.escape(name) for name in top_names)
    mentions = re.compile(rf"\b(?:{'|'.join(tops) or '(?!)'})(?:\.\w+)+")  # apps.x.models
    migrations = app.migrations_dir.resolve()
    imports: set[str] = set()
    touches: set[str] = set()
    for path in app_files(app):
        if path.suffix != ".py":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.parent == migrations:
            touches |= set(_QUOTED_NAME.findall(text))
        names = set(mentions.findall(text)) | {
            name
            for name in _from_imports(text, _package_of(path, app))
            if name.partition(".")[0] in top_names
        }
        imports |= {
            label
            for dotted, label in others
            for name in names
            if name == dotted or name.startswith(dotted + ".")
        }
    return AppRecord("", False, imports=sorted(imports), touches=sorted(touches))


_QUOTED_NAME = re.compile(r"""["']([A-Za-z_][A-Za-z0-9_]*)["']""")
# `from a.b import c, d` / `from .. import (c,\n d)`: the module, and each name under it.
_FROM_IMPORT = re.compile(
    r"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.MULTILINE
)


def _from_imports(text: str, package: str) -> list[str]:
    """`module.name` of each name `from module import ...` statements import, relative
    modules resolved (`import a.b` is found as the mention of a.b)."""
    found = []
    for module, names in _FROM_IMPORT.findall(text):
        level = len(module) - len(module.lstrip("."))
        if level:
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - level + 1])
            module = f"{base}.{module[level:]}" if module[level:] else base
        found += [f"{module}.{name}" for name in re.findall(r"\w+", _without_comments(names))]
    return found


def _without_comments(names: str) -> str:
    return "\n".join(line.partition("#")[0] for line in names.splitlines())


def _package_of(path: Path, app: AppConfig) -> str:
    """The dotted package a file of the app is in (for its relative imports)."""
    try:
        relative = path.parent.relative_to(app.path.resolve())
    except ValueError:  # a migrations folder elsewhere: relative imports stay inside it
        return app.name
    return ".".join([app.name, *relative.parts])
