"""The migration history on disk: every app's migration files as one graph.

Alembic's ScriptDirectory reads the files and orders them; this module adds what Django
users expect on top: which app a migration belongs to, its short name, what is applied,
and which tables each app's history created.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from project.errors import ProjectError, UsageError

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

    from project.apps import AppConfig


@dataclass(frozen=True)
class Migration:
    app_label: str
    name: str  # the file's stem, e.g. "0002_visit"
    revision: str
    down_revisions: tuple[str, ...]
    dependencies: tuple[str, ...]  # other apps' revisions this one needs (depends_on)
    path: Path
    reversible: bool = True  # False: a data migration without a backward function
    replaces: tuple[str, ...] = ()  # a squashed migration's replaced revisions
    atomic: bool = True  # False: lock-safe steps, each committed on its own (engine.online)

    @property
    def key(self) -> str:
        return f"{self.app_label}.{self.name}"


@dataclass
class History:
    script: ScriptDirectory
    apps: Sequence[AppConfig]
    migrations: list[Migration]  # in an order they can be applied in
    by_revision: dict[str, Migration] = field(init=False)

    def __post_init__(self) -> None:
        self.by_revision = {m.revision: m for m in self.migrations}

    def for_app(self, label: str) -> list[Migration]:
        return [m for m in self.migrations if m.app_label == label]

    def leaves(self, label: str) -> list[Migration]:
        """The app's migrations nothing in the app follows: one, unless two people each
        added a migration after the same one (a conflict, for makemigrations --merge)."""
        migrations = self.for_app(label)
        followed = {parent for m in migrations for parent in m.down_revisions}
        return [m for m in migrations if m.revision not in followed]

    def leaf(self, label: str) -> Migration | None:
        """The app's latest migration (its Alembic head)."""
        leaves = self.leaves(label)
        return leaves[-1] if leaves else None

    def conflicts(self) -> dict[str, list[Migration]]:
        """{app label: its leaves} for every app with more than one."""
        labels = dict.fromkeys(m.app_label for m in self.migrations)
        return {
            label: sorted(leaves, key=lambda m: m.name)
            for label in labels
            if len(leaves := self.leaves(label)) > 1
        }

    def conflicts_message(self) -> str | None:
        conflicts = self.conflicts()
        if not conflicts:
            return None
        found = "; ".join(
            f"{', '.join(m.name for m in leaves)} in {label}" for label, leaves in conflicts.items()
        )
        return (
            f"Conflicting migrations detected; multiple leaf nodes in the migration graph: ({found}). "
            "To fix them run 'python manage.py makemigrations --merge'."
        )

    def require_no_conflicts(self) -> None:
        message = self.conflicts_message()
        if message:
            raise ConflictError(message)

    def applied(self, version_rows: Iterable[str]) -> set[str]:
        """Revisions applied, given the rows of the version table.

        Alembic keeps only the heads in its table, and drops a head that another applied
        revision depends on; what is applied is everything those rows need.
        """
        unknown = [rev for rev in version_rows if rev not in self.by_revision]
        if unknown:
            raise UnknownRevisionError(unknown)
        todo, seen = list(version_rows), set()
        while todo:
            revision = todo.pop()
            if revision not in seen:
                seen.add(revision)
                migration = self.by_revision[revision]
                todo.extend(migration.down_revisions + migration.dependencies)
        return seen

    def find(self, label: str, name: str) -> Migration:
        """A migration of the app by any unique prefix of its name, as Django's migrate takes it."""
        candidates = [m for m in self.for_app(label) if m.name.startswith(name)]
        exact = [m for m in candidates if m.name == name]
        if exact:
            return exact[0]
        if len(candidates) == 1:
            return candidates[0]
        names = ", ".join(m.name for m in (candidates or self.for_app(label))) or "none"
        if candidates:
            raise UsageError(
                f"More than one migration matches '{name}' in app '{label}': {names}. Please be more specific."
            )
        raise UsageError(
            f"Cannot find a migration matching '{name}' from app '{label}'. Its migrations: {names}."
        )

    @cached_property
    def operations(self) -> dict[str, list[Any]]:
        """{revision: the operations of its upgrade()}, each file read once (project.engine.migration_files)."""
        from project.engine.migration_files import read_operations

        return {m.revision: read_operations(m.path) for m in self.migrations}

    @cached_property
    def sequence_owners(self) -> dict[str, str]:
        """{sequence: app label} for the sequences each app's migration files created."""
        return {name: app for name, (app, _) in self.sequences().items()}

    def sequences(
        self, migrations: Sequence[Migration] | None = None
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """{sequence: (app label, its options)} that these migrations (all, by default) leave
        created, in order: created, altered, dropped."""
        from project.engine.operations import AlterSequenceOp, CreateSequenceOp, DropSequenceOp

        found: dict[str, tuple[str, dict[str, Any]]] = {}
        for migration in self.migrations if migrations is None else migrations:
            if "_sequence(" not in migration.path.read_text(encoding="utf-8"):
                continue  # most have none; reading every file's operations costs more
            for op in self.operations[migration.revision]:
                if isinstance(op, CreateSequenceOp):
                    found[op.sequence_name] = (migration.app_label, dict(op.options))
                elif isinstance(op, AlterSequenceOp) and op.sequence_name in found:
                    found[op.sequence_name][1].update(op.options)
                elif isinstance(op, DropSequenceOp):
                    found.pop(op.sequence_name, None)
        return found

    @cached_property
    def table_walk(self) -> TableWalk:
        """Which migration made each table, over the whole history (walk_tables)."""
        return tables_made(self.migrations, lambda m: self.operations[m.revision])

    @cached_property
    def table_owners(self) -> dict[str, str]:
        """{table: app label} for the tables each app's migration files created and still have."""
        return {table: m.app_label for table, m in self.table_walk.tables.items()}


@dataclass
class TableWalk:
    """Which migration made each table, the migrations walked in order: the one that
    created it, or renamed a table to its name; one that drops it unmakes it.

    The one place that reads table ownership from migration files: the history's owners
    (makemigrations: who drops a removed model's table), the tables a squashed range
    leaves, the migration a foreign key needs (check).
    """

    tables: dict[str, Migration] = field(default_factory=dict)  # the tables left, by maker
    # Every name ever made, by the first migration to make it (kept after a drop).
    first: dict[str, Migration] = field(default_factory=dict)

    def step(self, migration: Migration, operations: Iterable[Any]) -> None:
        from alembic.operations import ops

        for op in operations:
            if isinstance(op, ops.CreateTableOp):
                self._make(op.table_name, migration)
            elif isinstance(op, ops.DropTableOp):
                self.tables.pop(op.table_name, None)
            elif isinstance(op, ops.RenameTableOp):
                self.tables.pop(op.table_name, None)
                self._make(op.new_table_name, migration)

    def _make(self, table: str, migration: Migration) -> None:
        self.tables[table] = migration
        self.first.setdefault(table, migration)


def walk_tables(
    migrations: Iterable[Migration], operations: Callable[[Migration], Iterable[Any]]
) -> Iterator[tuple[Migration, TableWalk]]:
    """After each migration in turn, the walk so far. It is one object, updated as the
    walk goes on: copy what is kept. `operations` gives a migration's upgrade operations
    (History.operations, or project.engine.migration_files.read_operations)."""
    walk = TableWalk()
    for migration in migrations:
        walk.step(migration, operations(migration))
        yield migration, walk


def tables_made(
    migrations: Iterable[Migration], operations: Callable[[Migration], Iterable[Any]]
) -> TableWalk:
    """The walk over all of `migrations`."""
    walk = TableWalk()
    for _, walk in walk_tables(migrations, operations):
        pass
    return walk


class ConflictError(ProjectError):
    pass


class GhostRevisionError(ProjectError):
    """The version table names migrations no file has (another git branch, a deleted file)."""

    def __init__(self, ghosts: Sequence[str], records: dict[str, Any]) -> None:
        named = [
            f"{records[g].app}.{records[g].name}" if g in records else f"revision '{g}'"
            for g in ghosts
        ]
        app = records[ghosts[0]].app if ghosts[0] in records else "APP"
        forget = (
            "run 'migrate --prune' to forget it (its schema changes stay)"
            if all(g in records for g in ghosts)
            else "delete its row from the alembic_version table (our history never recorded it)"
        )
        super().__init__(
            f"The database has {', '.join(named)} applied, but no migration file for it (applied on "
            "another git branch, or deleted?). Check that branch out and unapply it with "
            f"'migrate {app} <the migration before it>', or, if it is gone for good, {forget}."
        )


class UnknownRevisionError(ProjectError):
    def __init__(self, revisions: Sequence[str]) -> None:
        self.revisions = list(revisions)
        super().__init__(
            f"The database is at revision {', '.join(repr(r) for r in revisions)}, which no migration "
            "file of an installed app has (a file deleted, or a branch switched in git?). "
            "Restore the file, or check INSTALLED_APPS."
        )


def load_history(script: ScriptDirectory, apps: Sequence[AppConfig]) -> History:
    """Read every migration file once; a file that fails to import is a one-line error."""
    from project.engine.model_tables import watch

    watch()  # migration files may import the models that define their column types
    try:
        scripts = list(script.walk_revisions())
    except ProjectError:
        raise
    except Exception as exc:
        from project.tracebacks import where

        raise ProjectError(
            f"Cannot load migration file ({where(exc)}): {type(exc).__name__}: {exc}"
        ) from exc
    folders = {app.migrations_dir.resolve(): app for app in reversed(apps)}  # the first wins
    migrations = [_migration(s, folders, script) for s in reversed(scripts)]
    return History(script=script, apps=apps, migrations=migrations)


def _migration(
    script: Script, folders: dict[Path, AppConfig], directory: ScriptDirectory
) -> Migration:
    from alembic import util

    from project.data import is_irreversible
    from project.engine.squash_view import replaced_by

    path = Path(script.path)
    app = folders.get(path.parent.resolve())
    if app is None:  # cannot happen: every version location is an app's folder
        raise ProjectError(
            f"Migration {path} lies outside every installed app's migrations folder."
        )
    return Migration(
        app_label=app.label,
        name=path.stem,
        revision=script.revision,
        down_revisions=util.to_tuple(script.down_revision, default=()),
        dependencies=_resolved(script.dependencies, directory),
        path=path,
        reversible=not is_irreversible(script.module),
        replaces=replaced_by(script),
        atomic=getattr(script.module, "atomic", True) is not False,
    )


def _resolved(dependencies: Any, directory: ScriptDirectory) -> tuple[str, ...]:
    """depends_on as Alembic resolves it: a branch label becomes the revision that declares it."""
    if not dependencies:
        return ()
    found = directory.revision_map.get_revisions(dependencies)
    return tuple(r.revision for r in found if r is not None and not isinstance(r, str))


class ForeignHistoryError(ProjectError):
    """A plain `migrate` (or showmigrations) on a database of another Alembic history."""

    def __init__(self, revisions: Sequence[str]) -> None:
        super().__init__(
            f"The database is at revision {quoted_revisions(revisions)} of another migration history (a "
            "plain Alembic project?), which no app's migrations have. To adopt it, write each "
            "app's initial migration from the models (makemigrations), then run "
            "'migrate --fake-initial'."
        )


def quoted_revisions(revisions: Sequence[str]) -> str:
    return ", ".join(f"'{revision}'" for revision in revisions)
