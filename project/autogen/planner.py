"""One makemigrations run's decisions, as Alembic hooks: what to compare, which renames
and defaults the user confirms, and how the one diff becomes one migration per app."""

from __future__ import annotations

import graphlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from project.backends import backend_for
from project.errors import ProjectError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from alembic.operations import ops
    from alembic.runtime.migration import MigrationContext

    from project.apps import AppConfig
    from project.autogen.describe import Change
    from project.autogen.questioner import Questioner, Rename
    from project.autogen.scope import Scope
    from project.engine.history import History
    from project.engine.model_tables import ModelTables
    from project.engine.workspace import Workspace


# The name of the migration of lock-safe steps after an app's ordinary one: 0004_x_concurrently.
CONCURRENT_SUFFIX = "concurrently"


@dataclass
class NewMigration:
    app_label: str
    name: str  # file stem, e.g. "0002_visit"
    revision: str
    path: Path
    changes: list[Change]
    depends_on: list[str] = field(default_factory=list)


def owner_of(model_owners: dict[str, str], history: History, table: str) -> str | None:
    """The app that owns a table: its model's, else the app whose migrations created it
    (a model removed since: that app drops it). None: no installed app owns it, which
    PROTECT_UNOWNED_TABLES leaves alone and inspectdb describes."""
    return model_owners.get(table) or history.table_owners.get(table)


class Planner:
    """Alembic's hooks for one makemigrations run: what to compare, and how to split it."""

    def __init__(
        self,
        workspace: Workspace,
        history: History,
        models: ModelTables,
        selected: list[AppConfig],
        name: str | None,
        write: bool,
        questioner: Questioner,
        on_renames: Callable[[], None] | None = None,
        scope: Scope | None = None,
    ) -> None:
        self.workspace = workspace
        self.history = history
        self.models = models
        self.model_owners = models.owners
        self.target = models.target
        # A comparison of some apps (project.autogen.scope): only their tables are compared,
        # and the others' owners come from the record of the last comparison.
        self.compared = scope.compared if scope is not None else None
        if scope is not None and scope.owners:
            self.model_owners = {**scope.owners, **models.owners}
            self.target = _scoped_target(models, self.compared)
        self.selected = selected
        self.name = name
        self.write = write
        self.questioner = questioner
        # Called before renames are tried out on the compared schema; None: they may not be
        # (the live database, with --from-db).
        self.on_renames = on_renames
        self.planned: list[NewMigration] = []
        self.ignored: list[str] = []
        self.changed_apps: set[str | None] | None = None  # None: no comparison ran

    def configure_options(self, dialect: str) -> dict[str, Any]:
        from project.autogen.compare import autogenerate_options
        from project.autogen.sequences import HISTORY_OPTION

        options = autogenerate_options(dialect, self.target, self.include_object, render=True)
        options[HISTORY_OPTION] = lambda: {n: o for n, (_, o) in self.history.sequences().items()}
        if self.compared is not None:  # never reflected: the tables of the apps not compared
            options["include_name"] = self._in_scope
        return options

    def _in_scope(self, name: str | None, type_: str, parents: dict[str, Any]) -> bool:
        if type_ != "table" or name is None or self.compared is None:
            return True
        owner = self.owner_of(name)
        return owner is None or owner in self.compared

    def owner_of(self, table: str) -> str | None:
        return owner_of(self.model_owners, self.history, table)

    def _owner_of_op(self, table: str | None, op: ops.MigrateOperation) -> str | None:
        """A dropped sequence belongs to the app whose history created it."""
        if table is None:
            sequence = getattr(op, "sequence_name", None)
            return self.history.sequence_owners.get(sequence) if sequence else None
        return self.owner_of(table)

    def include_object(
        self, obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        """Leave alone tables (and sequences) that no installed app owns, unless the setting
        says otherwise. (Our history tables are left out by autogenerate_options.)"""
        if type_ == "sequence" and reflected and compare_to is None and name is not None:
            if name in self.history.sequence_owners:
                return True  # its model was removed: its app drops it
            if self.workspace.settings.protect_unowned_tables:
                self.ignored.append(name)
                return False
            return True
        if type_ == "table" and not reflected and name is not None:
            return self._in_scope(name, type_, {})
        if type_ != "table" or not reflected or compare_to is not None or name is None:
            return True
        if self.owner_of(name) is not None:
            return True  # its model was removed: its app drops it
        if self.workspace.settings.protect_unowned_tables:
            self.ignored.append(name)
            return False
        return True

    def process(self, context: MigrationContext, revision: Any, directives: list[Any]) -> None:
        """Replace Alembic's one script by one per changed app, ordered by dependency."""
        from alembic.operations import ops

        from project.autogen.lock_safe import explanation as lock_safe_lines
        from project.autogen.per_app import (
            name_added_constraints,
            reverse_operations,
            safe_order,
            split_by_app,
            without_drops_of_dropped_tables,
        )
        from project.autogen.writer import MigrationTemplate, add_template

        generated = directives[0]
        operations = self._with_renames(context, list(generated.upgrade_ops.ops))
        groups = split_by_app(operations, self._owner_of_op, self.models.tables.values())
        self.changed_apps = set(groups)
        unowned = groups.pop(None, [])
        if unowned:  # drops of unowned tables, with PROTECT_UNOWNED_TABLES off
            first = self.selected[0].label
            groups[first] = groups.get(first, []) + unowned
        labels, dependencies = self._apps_to_migrate(groups)
        scripts = []
        taken = {m.revision for m in self.history.migrations}
        new_revisions: dict[str, str] = {}
        by_label = {app.label: app for app in self.workspace.apps}
        batch = backend_for(context.dialect.name).alters_by_copy  # SQLite
        for label in labels:
            app = by_label[label]
            previous: NewMigration | None = None
            parts = self._parts(context, groups[label])
            split = len(parts) > 1 or not parts[0][2]  # lock-safe steps: say what they do
            for found, forward, atomic in parts:
                # The reverse is computed from what autogenerate found, before pruning and
                # before the one-off defaults, so it still re-creates what upgrade drops.
                backward = without_drops_of_dropped_tables(reverse_operations(found))
                downgrade = ops.DowngradeOps(ops=safe_order(backward))
                upgrade = ops.UpgradeOps(ops=safe_order(without_drops_of_dropped_tables(forward)))
                if batch:
                    self._keep_unnamed_checks(context, upgrade.ops, downgrade.ops)
                name_added_constraints(upgrade.ops, batch)
                name_added_constraints(downgrade.ops, batch)
                needs = dependencies[label] if previous is None else set()
                new = self._plan(app, upgrade.ops, needs, new_revisions, taken, previous)
                self.planned.append(new)
                leaf = self.history.leaf(label)
                if previous is not None:
                    head, branch_label = previous.revision, None
                else:
                    head = f"{label}@head" if leaf else "base"
                    branch_label = None if leaf else label
                scripts.append(
                    ops.MigrationScript(
                        new.revision,
                        upgrade,
                        downgrade,
                        message=new.name,
                        imports=generated.imports,
                        head=head,
                        branch_label=branch_label,
                        version_path=str(app.migrations_dir),
                        depends_on=new.depends_on or None,
                    )
                )
                text = docstring(new, lock_safe_lines(upgrade.ops, not atomic) if split else ())
                template = MigrationTemplate(text, atomic=atomic)
                add_template(self.workspace.config, new.revision, template)
                previous = new
            if previous is not None:
                new_revisions[label] = previous.revision
        directives[:] = scripts if self.write else []

    def _parts(
        self, context: MigrationContext, operations: list[ops.MigrateOperation]
    ) -> list[tuple[list[ops.MigrateOperation], list[ops.MigrateOperation], bool]]:
        """(operations found, the same with the user's answers, atomic) of each migration
        an app's changes make: one, or on PostgreSQL with LOCK_SAFE_MIGRATIONS a second one
        of lock-safe steps (project.autogen.lock_safe) when there are any."""
        from project.autogen.ambiguities import with_not_null_answers
        from project.autogen.lock_safe import split_lock_safe
        from project.autogen.per_app import name_added_constraints

        answered = with_not_null_answers(operations, self.questioner)
        lock_safe = self.workspace.settings.lock_safe_migrations
        if not (lock_safe and context.dialect.name == "postgresql"):
            return [(operations, answered, True)]
        name_added_constraints(operations, sqlite=False)  # a validation names its constraint
        first, second = split_lock_safe(operations)
        first_answered, second_answered = split_lock_safe(answered)
        parts = [(first, first_answered, True), (second, second_answered, False)]
        return [part for part in parts if part[1]] or [(operations, answered, True)]

    def _keep_unnamed_checks(
        self,
        context: MigrationContext,
        upgrade: list[ops.MigrateOperation],
        downgrade: list[ops.MigrateOperation],
    ) -> None:
        """SQLite's batch mode re-creates a table from what it reflects, which leaves out
        unnamed check constraints (Alembic warns); they are handed to it as `table_args`:
        the models' going forward, the database's going back."""
        from alembic.operations import ops
        from sqlalchemy import inspect

        from project.adapter.internals import unnamed_checks
        from project.autogen.per_app import batch_checks

        tables = {
            op.table_name for op in (*upgrade, *downgrade) if isinstance(op, ops.ModifyTableOps)
        }
        after = {
            name: unnamed_checks(table, context.dialect)
            for name in tables
            if (table := self.models.by_name(name)) is not None
        }
        inspector = inspect(context.bind)
        before: dict[str, list[tuple[str, str | None]]] = {
            name: [
                (c["sqltext"], None)
                for c in inspector.get_check_constraints(name)
                if not c.get("name")
            ]
            for name in tables
            if inspector.has_table(name)
        }
        batch_checks(upgrade, after)
        batch_checks(downgrade, before)

    def _with_renames(
        self, context: MigrationContext, operations: list[ops.MigrateOperation]
    ) -> list[ops.MigrateOperation]:
        """Ask about each removed/added pair of the same shape; for the confirmed renames,
        rename in the compared schema and compare again, so indexes and constraints that
        carry the old name follow too."""
        from alembic.autogenerate import produce_migrations

        from project.autogen.ambiguities import rename_candidates

        selected = {app.label for app in self.selected}
        candidates = [
            (candidate, reflected)
            for candidate, reflected in rename_candidates(context, operations, self.owner_of)
            if candidate.app in selected
        ]
        unmatched = self.questioner.unmatched({candidate.key for candidate, _ in candidates})
        if unmatched:
            raise ProjectError(
                f"No removed and added pair matches {', '.join(unmatched)}: check the names."
            )
        confirmed: list[tuple[Rename, Any]] = []
        taken: set[tuple[str, str]] = set()
        for candidate, reflected in candidates:
            ends = {(candidate.table, candidate.old), (candidate.table, candidate.new)}
            if not ends & taken and self.questioner.is_rename(candidate):
                confirmed.append((candidate, reflected))
                taken |= ends
        if not confirmed:
            return operations
        if self.on_renames is None:
            raise ProjectError(
                "makemigrations --from-db cannot write renames (it would have to try them on the live "
                "database); run it without --from-db."
            )
        self.on_renames()
        renames = [
            _apply_rename(context, candidate, reflected) for candidate, reflected in confirmed
        ]
        compared = produce_migrations(context, self.models.target)  # type: ignore[arg-type]
        return renames + list(compared.upgrade_ops.ops)  # type: ignore[union-attr]

    def _apps_to_migrate(
        self, groups: dict[str | None, list[ops.MigrateOperation]]
    ) -> tuple[list[str], dict[str, set[str]]]:
        """The selected apps with changes, plus apps whose new tables they need; in dependency order."""
        from project.autogen.per_app import referenced_tables

        chosen = [app.label for app in self.selected if app.label in groups]
        dependencies: dict[str, set[str]] = {}
        queue = list(chosen)
        while queue:
            label = queue.pop()
            dependencies[label] = set()
            for table in referenced_tables(groups[label]):
                other = self.owner_of(table)
                if other is None or other == label:
                    continue
                dependencies[label].add(other)
                if (
                    other in groups
                    and other not in chosen
                    and table not in self.history.table_owners
                ):
                    chosen.append(other)
                    queue.append(other)
        sorter = graphlib.TopologicalSorter(
            {label: dependencies[label] & set(chosen) for label in chosen}
        )
        try:
            order = list(sorter.static_order())
        except graphlib.CycleError as exc:
            raise ProjectError(
                f"Apps {' and '.join(exc.args[1][:-1])} need each other's new tables. Make the "
                "migration of one app first, without the foreign key, then add it."
            ) from exc
        return order, dependencies

    def _plan(
        self,
        app: AppConfig,
        operations: list[ops.MigrateOperation],
        needs: set[str],
        new_revisions: dict[str, str],
        taken: set[str],
        previous: NewMigration | None = None,
    ) -> NewMigration:
        """`previous`: the migration of the same app this one follows (its lock-safe steps)."""
        from project.autogen.describe import describe_operations, suggest_name

        changes = describe_operations(operations, app.label)
        leaf = self.history.leaf(app.label)
        if previous is not None:
            name = f"{previous.name[5:]}_{CONCURRENT_SUFFIX}"
        else:
            name = self.name or ("initial" if leaf is None else suggest_name(changes))
        new = new_migration(self.history, app, name, changes, taken, previous)
        already = self.history.applied([leaf.revision]) if leaf else set()
        for other in sorted(needs):
            other_leaf = self.history.leaf(other)
            revision = new_revisions.get(other) or (other_leaf.revision if other_leaf else None)
            if revision and revision not in already:
                new.depends_on.append(revision)
        return new


def _scoped_target(models: ModelTables, compared: frozenset[str] | None) -> Any:
    """The models' MetaData showing only the compared apps' tables (adapter.internals)."""
    from project.adapter.internals import scoped_metadata

    scoped = [
        scoped_metadata(
            metadata,
            [
                table
                for key, table in models.tables.items()
                if table.metadata is metadata
                and compared is not None
                and models.origins[key].app in compared
            ],
        )
        for metadata in models.metadatas
    ]
    return scoped[0] if len(scoped) == 1 else scoped


def require_migration_name(name: str) -> None:
    """`makemigrations -n NAME`: an identifier that fits the file-name budget whole, since
    Alembic would cut a longer slug at its last '_' (a 100-letter name became `0009_.py`)."""
    from project.engine.config import MAX_FILE_NAME

    if not name.isidentifier():
        raise UsageError(f"The migration name must be a valid Python identifier, not '{name}'.")
    budget = MAX_FILE_NAME - len("0000_")
    if len(name) > budget:
        raise UsageError(
            f"The migration name '{name[:20]}...' is {len(name)} characters long; file names "
            f"allow at most {budget} after the number (MAX_FILE_NAME {MAX_FILE_NAME}). Choose "
            "a shorter name."
        )


def new_migration(
    history: History,
    app: AppConfig,
    name: str,
    changes: list[Change],
    taken: set[str],
    previous: NewMigration | None = None,
) -> NewMigration:
    """The next migration of `app` (after `previous`, one planned in the same run), named
    as Alembic will name its file: lower case (its slug is), and refused rather than cut
    when too long."""
    from project.autogen.per_app import migration_number, revision_id
    from project.engine.config import MAX_FILE_NAME

    leaf = history.leaf(app.label)
    if previous is not None:
        number = migration_number(previous.name, 0)
    else:
        number = migration_number(leaf.name if leaf else None, len(history.for_app(app.label)))
    stem = f"{number:04d}_{name.lower()}"
    if len(stem) > MAX_FILE_NAME:
        raise UsageError(
            f"The migration file name '{stem[:24]}...' would be {len(stem)} characters long, "
            f"more than MAX_FILE_NAME ({MAX_FILE_NAME}): choose a shorter name."
        )
    revision = revision_id(app.label, stem, taken)
    taken.add(revision)
    return NewMigration(app.label, stem, revision, app.migrations_dir / f"{stem}.py", changes)


def docstring(new: NewMigration, notes: Sequence[str] = ()) -> str:
    """The migration's docstring: its name, its changes, then `notes` (paragraph lines)."""
    lines = [f"{new.app_label}.{new.name}"]
    if new.changes:
        lines.append("")
        for change in new.changes:
            lines.append(change.marked.rstrip() if change.destructive else str(change))
            lines += [f"  {note}" for note in change.notes]  # "rewrites the table"
        if any(change.destructive for change in new.changes):
            lines += [
                "",
                "! marks changes that may lose data. Once reviewed, set allow_destructive = True",
                "below, for makemigrations --lint.",
            ]
        lines.append("")
    if notes:
        lines += [*([] if new.changes else [""]), *notes, ""]
    return "\n".join(lines)


def _apply_rename(
    context: MigrationContext, rename: Rename, reflected: Any
) -> ops.MigrateOperation:
    """Rename in the compared schema; return the operation for the migration."""
    from alembic.operations import Operations, ops

    operations = Operations(context)
    schema = rename.schema
    if rename.is_table:
        operations.rename_table(rename.old, rename.new, schema=schema)
        return ops.RenameTableOp(rename.old, rename.new, schema=schema)
    existing = {
        "existing_type": reflected.type,
        "existing_nullable": reflected.nullable,
        "existing_server_default": reflected.server_default,
    }
    if backend_for(context.dialect.name).alters_by_copy:
        with operations.batch_alter_table(rename.table, schema=schema) as batch:
            batch.alter_column(rename.old, new_column_name=rename.new, **existing)
    else:
        operations.alter_column(
            rename.table, rename.old, new_column_name=rename.new, schema=schema, **existing
        )
    change = ops.AlterColumnOp(
        rename.table, rename.old, modify_name=rename.new, schema=schema, **existing
    )
    return ops.ModifyTableOps(rename.table, [change], schema=schema)
