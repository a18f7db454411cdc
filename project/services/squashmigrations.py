"""squashmigrations: one migration that does what a range of an app's migrations did.

It is built from the schema at the end of the range (replayed in scratch databases, as
makemigrations does), marked as replacing the range, and written beside it: databases
that applied the old ones keep working, new ones run only the squashed one
(project.engine.squash_view). Once every database is past the range, its files can be deleted.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from project.apps import select_apps
from project.engine.workspace import Workspace
from project.errors import UsageError

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import Connection, MetaData

    from project.autogen.planner import NewMigration
    from project.engine.history import History, Migration
    from project.settings import Settings


@dataclass
class SquashResult:
    migration: NewMigration
    replaces: list[Migration]
    written: bool


def squashmigrations(
    settings: Settings,
    app_label: str,
    start: str | None,
    end: str,
    *,
    name: str | None = None,
    write: bool = True,
    on_wait: Callable[[], None] | None = None,
) -> SquashResult:
    """The squashed migration of the range (written unless `write=False`), under
    makemigrations' write lock (`writing`)."""
    from project.services.makemigrations import writing

    with writing(settings, write, on_wait):
        return _squash(settings, app_label, start, end, name, write)


def _squash(
    settings: Settings, app_label: str, start: str | None, end: str, name: str | None, write: bool
) -> SquashResult:
    workspace = Workspace(settings)
    app = select_apps(workspace.apps, [app_label])[0]
    history = workspace.history
    squashed = _range(history, app.label, start, end)
    if name is not None and not name.isidentifier():
        raise UsageError(f"The squashed name must be a valid Python identifier, not '{name}'.")
    stem = f"{squashed[0].name[:4]}_{name or 'squashed_' + squashed[-1].name}"
    owned_before, owned_after = _tables(history, app.label, squashed)
    with _state(workspace, (squashed[-1].revision,)) as after:
        target = _reflect(after, owned_after)
    builder = _Builder(workspace, app, squashed, stem, owned_before | owned_after, target, write)
    with _state(workspace, squashed[0].down_revisions + _outside_dependencies(squashed)) as before:
        written = builder.build(before)
    if written:
        from project.autogen.formatting import format_files

        format_files([builder.planned.path])
    return SquashResult(builder.planned, squashed, write and bool(written))


def _range(history: History, label: str, start: str | None, end: str) -> list[Migration]:
    from project.services.update import _only_operations

    chain = history.for_app(label)
    last = history.find(label, end)
    first = history.find(label, start) if start else chain[0]
    if chain.index(first) >= chain.index(last):
        raise UsageError(f"Nothing to squash: {first.key} does not come before {last.key}.")
    squashed = chain[chain.index(first) : chain.index(last) + 1]
    for previous, migration in itertools.pairwise(squashed):
        if migration.down_revisions != (previous.revision,):
            raise UsageError(
                f"{migration.key} does not follow {previous.key} alone: only a straight run of migrations can be squashed."
            )
    for migration in squashed:
        if not _only_operations(migration.path):
            raise UsageError(
                f"{migration.key} has code of its own (a data migration or hand-written statements); "
                "a squash built from the schema would lose it. Squash a range without it."
            )
    return squashed


def _tables(history: History, label: str, squashed: list[Migration]) -> tuple[set[str], set[str]]:
    """The app's tables before the range and at its end, from its migration files (only
    the app's are read)."""
    from project.engine.history import TableWalk, walk_tables
    from project.engine.migration_files import read_operations

    chain = history.for_app(label)
    start, end = chain.index(squashed[0]), chain.index(squashed[-1])
    before: set[str] = set()
    walk = TableWalk()
    for index, (_, walk) in enumerate(
        walk_tables(chain[: end + 1], lambda m: read_operations(m.path))
    ):
        if index == start - 1:
            before = set(walk.tables)
    return before, set(walk.tables)


def _is_sequence_op(op: Any) -> bool:
    return type(op).__name__ in ("CreateSequenceOp", "DropSequenceOp", "AlterSequenceOp")


def _outside_dependencies(squashed: list[Migration]) -> tuple[str, ...]:
    inside = {m.revision for m in squashed}
    return tuple(dict.fromkeys(d for m in squashed for d in m.dependencies if d not in inside))


def _state(workspace: Workspace, target: tuple[str, ...]) -> Any:
    from project.engine.scratch import history_state

    return history_state(workspace, target=target or ("base",))


def _reflect(state: Any, tables: set[str]) -> MetaData:
    from sqlalchemy import MetaData

    metadata = MetaData()
    metadata.reflect(state.connection, only=sorted(tables))
    return metadata


class _Builder:
    """Autogenerate from the state before the range to the app's tables at its end."""

    def __init__(
        self,
        workspace: Workspace,
        app: Any,
        squashed: list[Migration],
        stem: str,
        tables: set[str],
        target: MetaData,
        write: bool,
    ) -> None:
        from project.autogen.per_app import revision_id
        from project.autogen.planner import NewMigration

        self.workspace, self.app, self.squashed, self.tables, self.target, self.write = (
            workspace,
            app,
            squashed,
            tables,
            target,
            write,
        )
        taken = set(workspace.history.by_revision)
        number = squashed[-1].name[:4]
        revision = revision_id(app.label, f"{stem[:4]}_squashed_{number}", taken)
        self.planned = NewMigration(
            app.label, stem, revision, app.migrations_dir / f"{stem}.py", []
        )

    def build(self, state: Any) -> list[Any]:
        from project.autogen import writer as revisions

        connection: Connection = state.connection
        options = self.configure_options(connection.dialect.name)
        return revisions.autogenerate(
            self.workspace, connection, self._shape, options, compare=False
        )

    def configure_options(self, dialect: str) -> dict[str, Any]:
        """makemigrations' options (autogenerate_options), on the app's tables alone."""
        from project.autogen.compare import autogenerate_options

        return autogenerate_options(dialect, self.target, self._include, render=True)

    def _sequences(self) -> list[Any]:
        """What the range did to the app's sequences, from the migration files."""
        from project.engine.operations import AlterSequenceOp, CreateSequenceOp, DropSequenceOp

        history = self.workspace.history
        start = history.migrations.index(self.squashed[0])
        end = history.migrations.index(self.squashed[-1])
        label = self.app.label
        before = {
            n: o
            for n, (a, o) in history.sequences(history.migrations[:start]).items()
            if a == label
        }
        after = {
            n: o
            for n, (a, o) in history.sequences(history.migrations[: end + 1]).items()
            if a == label
        }
        found: list[Any] = [
            CreateSequenceOp(n, None, None, **after[n]) for n in sorted(set(after) - set(before))
        ]
        found += [
            DropSequenceOp(n, None, None, **before[n]) for n in sorted(set(before) - set(after))
        ]
        found += [
            AlterSequenceOp(n, None, None, before[n], **after[n])
            for n in sorted(set(before) & set(after))
            if before[n] != after[n]
        ]
        return found

    def _include(
        self, obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        return type_ != "table" or name in self.tables

    def _shape(self, context: MigrationContext, revision: Any, directives: list[Any]) -> None:
        from alembic.autogenerate import produce_migrations
        from alembic.operations import ops

        from project.autogen.describe import describe_operations
        from project.autogen.per_app import (
            reverse_operations,
            safe_order,
            without_drops_of_dropped_tables,
        )
        from project.autogen.planner import docstring
        from project.autogen.writer import MigrationTemplate, add_template

        found = list(produce_migrations(context, self.target).upgrade_ops.ops)  # type: ignore[union-attr]
        # A reflected schema has no column sequences: the range's own come from its files.
        found = self._sequences() + [op for op in found if not _is_sequence_op(op)]
        upgrade = ops.UpgradeOps(ops=safe_order(without_drops_of_dropped_tables(found)))
        downgrade = ops.DowngradeOps(
            ops=safe_order(without_drops_of_dropped_tables(reverse_operations(found)))
        )
        self.planned.changes = describe_operations(upgrade.ops, self.app.label)
        first = self.squashed[0]
        dependencies = list(_outside_dependencies(self.squashed))
        replaced = ", ".join(m.key for m in self.squashed)
        title, _, rest = docstring(self.planned).partition("\n")
        template = MigrationTemplate(
            f"{title}\n\nReplaces {replaced}.\n{rest}",
            replaces=tuple(m.revision for m in self.squashed),
        )
        add_template(self.workspace.config, self.planned.revision, template)
        script = ops.MigrationScript(
            self.planned.revision,
            upgrade,
            downgrade,
            message=self.planned.name,
            head=first.down_revisions[0] if first.down_revisions else "base",
            splice=True,
            version_path=str(self.app.migrations_dir),
            depends_on=dependencies or None,
        )
        directives[:] = [script] if self.write else []
