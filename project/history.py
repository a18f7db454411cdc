"""The migration history on disk: every app's migration files as one graph.

Alembic's ScriptDirectory reads the files and orders them; this module adds what Django
users expect on top: which app a migration belongs to, its short name, what is applied,
and which tables each app's history created.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

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

    def leaf(self, label: str) -> Migration | None:
        """The app's latest migration (its Alembic head)."""
        heads = [
            m
            for m in self.for_app(label)
            if not any(m.revision in o.down_revisions for o in self.for_app(label))
        ]
        return heads[-1] if heads else None

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
    def table_owners(self) -> dict[str, str]:
        """{table: app label} for the tables each app's migration files created and still have."""
        from alembic.operations import ops

        from project.migration_files import read_operations

        owners: dict[str, str] = {}
        for migration in self.migrations:
            for op in read_operations(migration.path):
                if isinstance(op, ops.CreateTableOp):
                    owners[op.table_name] = migration.app_label
                elif isinstance(op, ops.DropTableOp):
                    owners.pop(op.table_name, None)
                elif isinstance(op, ops.RenameTableOp):
                    owners.pop(op.table_name, None)
                    owners[op.new_table_name] = migration.app_label
        return owners


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
    try:
        scripts = list(script.walk_revisions())
    except ProjectError:
        raise
    except Exception as exc:
        from project.tracebacks import where

        raise ProjectError(
            f"Cannot load migration file ({where(exc)}): {type(exc).__name__}: {exc}"
        ) from exc
    migrations = [_migration(s, apps) for s in reversed(scripts)]
    return History(script=script, apps=apps, migrations=migrations)


def _migration(script: Script, apps: Sequence[AppConfig]) -> Migration:
    from alembic import util

    from project.data import is_irreversible
    from project.squash import replaced_by

    path = Path(script.path)
    folder = path.parent.resolve()
    app = next((a for a in apps if a.migrations_dir.resolve() == folder), None)
    if app is None:  # cannot happen: every version location is an app's folder
        raise ProjectError(
            f"Migration {path} lies outside every installed app's migrations folder."
        )
    return Migration(
        app_label=app.label,
        name=path.stem,
        revision=script.revision,
        down_revisions=util.to_tuple(script.down_revision, default=()),
        # depends_on as Alembic resolved it (a branch label becomes a revision id)
        dependencies=tuple(script._resolved_dependencies),
        path=path,
        reversible=not is_irreversible(script.module),
        replaces=replaced_by(script),
    )
