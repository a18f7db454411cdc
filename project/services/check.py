"""check: Django's system checks for this domain, and with `drift`, the live database
against what its applied migrations say it should be.

Errors found: settings that do not load or name a database driver that is not installed,
models or migration files that do not import, conflicts, migrations missing a cross-app
dependency, and models that differ from what the migrations build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from project.engine.graph_checks import problems
from project.engine.model_tables import load_models
from project.engine.workspace import Workspace
from project.errors import ProjectError

if TYPE_CHECKING:
    from project.autogen.describe import Change
    from project.engine.history import Migration
    from project.settings import Settings


@dataclass
class TableDrift:
    table: str
    changes: list[Change]  # what the database would need to match its history


@dataclass
class CheckResult:
    apps: int
    migrations: int
    errors: list[str] = field(default_factory=list)
    drift: list[TableDrift] | None = None  # None: not asked for
    applied: list[Migration] = field(default_factory=list)  # the history compared with

    @property
    def ok(self) -> bool:
        return not self.errors and not self.drift


def check(settings: Settings, drift: bool = False) -> CheckResult:
    """Import everything, then report every problem found (not only the first)."""
    from project.backends.connections import create_engine

    workspace = Workspace(settings)
    errors = []
    try:
        create_engine(settings).dispose()  # the URL parses and its driver is installed
    except ProjectError as exc:
        errors.append(str(exc))
    load_models(workspace.apps)
    history = workspace.history
    result = CheckResult(len(workspace.apps), len(history.migrations), errors)
    graph = problems(history)
    errors.extend(graph)
    if not graph and not errors:
        errors.extend(_unmigrated_changes(settings))
    if not graph:
        errors.extend(_blocking_operations(workspace))
    if drift and not graph:  # drift needs a sound history, not models that match it
        result.drift, result.applied = _drift(workspace)
    return result


def _unmigrated_changes(settings: Settings) -> list[str]:
    from project.autogen.questioner import ProbingQuestioner
    from project.services.makemigrations import makemigrations

    try:
        pending = makemigrations(settings, write=False, questioner=ProbingQuestioner()).migrations
    except ProjectError as exc:
        return [f"Could not compare the models with the migrations: {exc}"]
    return [
        f"The models of app '{m.app_label}' have changes that no migration makes "
        f"({', '.join(str(c) for c in m.changes[:3])}{', ...' if len(m.changes) > 3 else ''}): "
        f"run 'python manage.py makemigrations {m.app_label}'."
        for m in pending
    ]


def _blocking_operations(workspace: Workspace) -> list[str]:
    """makemigrations --lint's lock rule (project.autogen.lint): on PostgreSQL, each
    operation that blocks reads or writes of an existing table for longer than a moment,
    in a migration without allow_blocking = True that the database has not applied yet
    (one applied long ago has done its blocking; --lint still reads every file)."""
    from project.autogen.lint import lint_locks
    from project.backends.connections import database_url

    try:
        dialect = database_url(workspace.settings).get_backend_name()
    except ProjectError:
        return []  # reported already, by the engine check
    labels = [app.label for app in workspace.apps]
    pending = _not_applied(workspace)
    return [
        f"{report.migration}: {change} takes {lock}. Use the lock-safe form, or add "
        "allow_blocking = True to the file once accepted."
        for report in lint_locks(workspace.history, labels, dialect).failures
        if pending is None or report.migration in pending
        for change, lock in report.blocking
    ]


def _not_applied(workspace: Workspace) -> set[str] | None:
    """The migrations the configured database has not run: what the next migrate would run,
    the only ones whose locks still matter. None: the database cannot say (all count)."""
    try:
        with workspace.connect() as connection:
            applied = workspace.history.applied(workspace.applied_rows(connection))
    except ProjectError:
        return None
    return {m.key for m in workspace.history.migrations if m.revision not in applied}


def _drift(workspace: Workspace) -> tuple[list[TableDrift], list[Migration]]:
    """Compare the live schema with the history replayed up to the live version rows."""
    from project.autogen.drift import all_sequences, reflect_schema, schema_differences
    from project.engine.scratch import history_state

    with workspace.connect() as live:
        rows = workspace.applied_rows(live)
    history = workspace.history
    applied = [m for m in history.migrations if m.revision in history.applied(rows)]
    with history_state(workspace, target=rows or ("base",)) as state:
        expected = reflect_schema(state.connection)
        sequences = all_sequences(state.connection)
    with workspace.connect() as live:
        found = group_by_table(schema_differences(live, expected, sequences))
    return found, applied


def group_by_table(changes: list[Change]) -> list[TableDrift]:
    tables: dict[str, list[Change]] = {}
    for change in changes:
        tables.setdefault(change.table or "(database)", []).append(change)
    return [TableDrift(table, tables[table]) for table in sorted(tables)]
