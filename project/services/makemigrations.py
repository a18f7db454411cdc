"""makemigrations: compare the models with the migration history, one new file per changed app.

By default the history is replayed into a scratch database (project.state) and the models
are compared with that; `from_db=True` compares with the configured database instead, as
plain Alembic does (it must then have every migration applied).
"""

from __future__ import annotations

import graphlib
import importlib.util
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from project.apps import AppConfig, load_models, select_apps
from project.errors import DatabaseError, ProjectError, UsageError
from project.workspace import Workspace

if TYPE_CHECKING:
    from alembic.operations import ops
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import Connection

    from project.describe import Change
    from project.history import History
    from project.settings import Settings

EMPTY_MIGRATION_NAME = "manual"


@dataclass
class NewMigration:
    app_label: str
    name: str  # file stem, e.g. "0002_visit"
    revision: str
    path: Path
    changes: list[Change]
    depends_on: list[str] = field(default_factory=list)


@dataclass
class MakeMigrationsResult:
    migrations: list[NewMigration]
    ignored_tables: list[str]  # tables no installed app owns, left alone
    written: bool
    compared_with: str = ""  # "the configured database", or how the history state was built
    notes: list[str] = field(default_factory=list)


def makemigrations(
    settings: Settings,
    app_labels: Sequence[str] = (),
    *,
    name: str | None = None,
    empty: bool = False,
    write: bool = True,
    from_db: bool | None = None,
    cache: bool = True,
) -> MakeMigrationsResult:
    """Write (or, with `write=False`, only plan) the migrations the models need.

    `from_db` None follows the MAKEMIGRATIONS_FROM_DATABASE setting; `cache=False` rebuilds
    the history state instead of reusing a cached one.
    """
    if name is not None and not name.isidentifier():
        raise UsageError(f"The migration name must be a valid Python identifier, not '{name}'.")
    workspace = Workspace(settings)
    apps = select_apps(workspace.apps, app_labels) if app_labels else workspace.apps
    if empty:
        if not app_labels:
            raise UsageError("You must supply at least one app label when using --empty.")
        return _empty_migrations(workspace, apps, name or EMPTY_MIGRATION_NAME, write)
    if from_db is None:
        from_db = settings.makemigrations_from_database
    return _autogenerate(workspace, apps, name, write, from_db, cache)


def _autogenerate(
    workspace: Workspace,
    selected: list[AppConfig],
    name: str | None,
    write: bool,
    from_db: bool,
    cache: bool,
) -> MakeMigrationsResult:
    from project.state import history_state

    model_owners = load_models(workspace.apps)
    history = workspace.history
    planner = _Planner(workspace, history, model_owners, selected, name, write)
    if from_db:
        with workspace.connect() as connection:
            _require_up_to_date(history, workspace.version_rows(connection))
            scripts = _revision(workspace, connection, planner)
        compared_with, notes = "the configured database", []
    else:
        with history_state(workspace, cache=cache) as state:
            scripts = _revision(workspace, state.connection, planner)
        compared_with, notes = f"the migration history ({state.description})", state.notes
    if write:
        _format([Path(s.path) for s in _as_list(scripts)])
    ignored = sorted(set(planner.ignored))
    return MakeMigrationsResult(
        planner.planned, ignored, write and bool(planner.planned), compared_with, notes
    )


def _revision(workspace: Workspace, connection: Connection, planner: _Planner) -> Any:
    """Alembic's autogenerate on `connection`, shaped by the planner's hooks."""
    from alembic import command

    from project.compare import load_dialect_plugins

    load_dialect_plugins(connection.dialect.name)
    return workspace.run_alembic(
        connection,
        command.revision,
        autogenerate=True,
        process_revision_directives=planner.process,
        configure_options=planner.configure_options(connection.dialect.name),
    )


def _empty_migrations(
    workspace: Workspace, apps: list[AppConfig], name: str, write: bool
) -> MakeMigrationsResult:
    from alembic import command

    history = workspace.history
    planned = []
    for app in apps:
        new = _new_migration(
            history, app, name, changes=[], taken={m.revision for m in history.migrations}
        )
        planned.append(new)
        if write:
            leaf = history.leaf(app.label)
            workspace.config.attributes.setdefault("docstrings", {})[new.revision] = _docstring(new)
            command.revision(
                workspace.config,
                message=new.name,
                head=f"{app.label}@head" if leaf else "base",
                branch_label=None if leaf else app.label,
                version_path=str(app.migrations_dir),
                rev_id=new.revision,
            )
            _format([new.path])
    return MakeMigrationsResult(planned, [], write)


class _Planner:
    """Alembic's hooks for one makemigrations run: what to compare, and how to split it."""

    def __init__(
        self,
        workspace: Workspace,
        history: History,
        model_owners: dict[str, str],
        selected: list[AppConfig],
        name: str | None,
        write: bool,
    ) -> None:
        self.workspace = workspace
        self.history = history
        self.model_owners = model_owners
        self.selected = selected
        self.name = name
        self.write = write
        self.planned: list[NewMigration] = []
        self.ignored: list[str] = []

    def configure_options(self, dialect: str) -> dict[str, Any]:
        from project.compare import compare_server_default
        from project.db import metadata
        from project.render import render_item

        return {
            "target_metadata": metadata,
            "include_object": self.include_object,
            "compare_type": True,
            "compare_server_default": compare_server_default,
            # Alembic's opt-in comparison of check constraints by name; our naming convention
            # names unnamed ones by a hash of their expression, so a changed expression is found.
            "autogenerate_plugins": [
                "alembic.autogenerate.*",
                "alembic.ext.checkconstraint_byname",
            ],
            # SQLite cannot ALTER most things; batch mode re-creates the table, keeping its rows.
            "render_as_batch": dialect == "sqlite",
            "render_item": render_item,
        }

    def owner_of(self, table: str) -> str | None:
        return self.model_owners.get(table) or self.history.table_owners.get(table)

    def include_object(
        self, obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        """Leave alone tables that no installed app owns, unless the setting says otherwise."""
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

        from project.autogen import split_by_app, without_drops_of_dropped_tables
        from project.db import metadata

        generated = directives[0]
        groups = split_by_app(generated.upgrade_ops.ops, self.owner_of, metadata.tables.values())
        unowned = groups.pop(None, [])
        if unowned:  # drops of unowned tables, with PROTECT_UNOWNED_TABLES off
            first = self.selected[0].label
            groups[first] = groups.get(first, []) + unowned
        labels, dependencies = self._apps_to_migrate(groups)
        scripts = []
        taken = {m.revision for m in self.history.migrations}
        new_revisions: dict[str, str] = {}
        by_label = {app.label: app for app in self.workspace.apps}
        for label in labels:
            # The reverse is computed before pruning, so it still re-creates what upgrade drops.
            downgrade = ops.UpgradeOps(ops=groups[label]).reverse()
            downgrade.ops = without_drops_of_dropped_tables(downgrade.ops)
            upgrade = ops.UpgradeOps(ops=without_drops_of_dropped_tables(groups[label]))
            app = by_label[label]
            new = self._plan(app, upgrade.ops, dependencies[label], new_revisions, taken)
            new_revisions[label] = new.revision
            self.planned.append(new)
            leaf = self.history.leaf(label)
            scripts.append(
                ops.MigrationScript(
                    new.revision,
                    upgrade,
                    downgrade,
                    message=new.name,
                    imports=generated.imports,
                    head=f"{label}@head" if leaf else "base",
                    branch_label=None if leaf else label,
                    version_path=str(app.migrations_dir),
                    depends_on=new.depends_on or None,
                )
            )
            self.workspace.config.attributes.setdefault("docstrings", {})[new.revision] = (
                _docstring(new)
            )
        directives[:] = scripts if self.write else []

    def _apps_to_migrate(
        self, groups: dict[str | None, list[ops.MigrateOperation]]
    ) -> tuple[list[str], dict[str, set[str]]]:
        """The selected apps with changes, plus apps whose new tables they need; in dependency order."""
        from project.autogen import referenced_tables

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
    ) -> NewMigration:
        from project.describe import describe_operations, suggest_name

        changes = describe_operations(operations, app.label)
        leaf = self.history.leaf(app.label)
        name = self.name or ("initial" if leaf is None else suggest_name(changes))
        new = _new_migration(self.history, app, name, changes, taken)
        already = self.history.applied([leaf.revision]) if leaf else set()
        for other in sorted(needs):
            other_leaf = self.history.leaf(other)
            revision = new_revisions.get(other) or (other_leaf.revision if other_leaf else None)
            if revision and revision not in already:
                new.depends_on.append(revision)
        return new


def _new_migration(
    history: History, app: AppConfig, name: str, changes: list[Change], taken: set[str]
) -> NewMigration:
    from project.autogen import migration_number, revision_id

    leaf = history.leaf(app.label)
    number = migration_number(leaf.name if leaf else None, len(history.for_app(app.label)))
    stem = f"{number:04d}_{name}"
    revision = revision_id(app.label, stem, taken)
    taken.add(revision)
    return NewMigration(app.label, stem, revision, app.migrations_dir / f"{stem}.py", changes)


def _docstring(new: NewMigration) -> str:
    lines = [f"{new.app_label}.{new.name}"]
    if new.changes:
        lines += ["", *(str(change) for change in new.changes), ""]
    return "\n".join(lines)


def _require_up_to_date(history: History, version_rows: Sequence[str]) -> None:
    applied = history.applied(version_rows)
    missing = [m.key for m in history.migrations if m.revision not in applied]
    if missing:
        raise DatabaseError(
            f"The database is not up to date: {len(missing)} migration(s) not applied "
            f"({', '.join(missing)}). Run 'python manage.py migrate' first."
        )


def _format(paths: list[Path]) -> None:
    """Format new files with ruff, if it is installed, so they read like the rest of the code."""
    if paths and importlib.util.find_spec("ruff") is not None:
        subprocess.run(
            [sys.executable, "-m", "ruff", "format", "--quiet", *map(str, paths)], check=False
        )


def _as_list(scripts: Any) -> list[Any]:
    if scripts is None:
        return []
    return [s for s in (scripts if isinstance(scripts, list) else [scripts]) if s is not None]
