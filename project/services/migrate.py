"""migrate: apply or unapply migrations with Alembic, one transaction per migration.

The run holds the database's migration lock (project.locking), reads the plan only once
it has the lock, and stops between migrations when asked to (Ctrl+C, SIGTERM), so an
interrupted run leaves a database the next run completes, on MariaDB too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from project.apps import select_apps
from project.errors import ProjectError, UsageError
from project.runner import Progress, Step, revision_steps, run_steps
from project.workspace import Workspace

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from project.describe import Change
    from project.history import History, Migration
    from project.settings import Settings

ZERO = "zero"


@dataclass
class Plan:
    """What `migrate` will do: Django's "Operations to perform", then the steps in order."""

    summary: str  # e.g. "Apply all migrations: owners, pets"
    steps: list[Step]
    forward: bool
    alembic_target: str
    dependants: list[Migration] = field(
        default_factory=list
    )  # other apps' migrations unapplied first


def plan_migrate(
    settings: Settings, app_label: str | None = None, target: str | None = None
) -> Plan:
    workspace = Workspace(settings)
    with workspace.connect() as connection:
        return _plan(workspace, connection, app_label, target)


def migrate(
    settings: Settings,
    app_label: str | None = None,
    target: str | None = None,
    *,
    progress: Progress | None = None,
    before_run: Callable[[Plan], None] | None = None,
    on_lock_wait: Callable[[], None] | None = None,
    stop_requested: Callable[[], bool] = lambda: False,
) -> Plan:
    """Bring the database to the target; returns the plan that was carried out.

    `stop_requested` is asked before each migration: when it says yes, the run ends
    cleanly after the migration in progress (MigrationInterrupted).
    """
    from project.locking import migration_lock

    workspace = Workspace(settings)
    if app_label is not None:
        select_apps(workspace.apps, [app_label])  # bad input fails before any waiting
    workspace.history  # noqa: B018 - and so does a migration file that cannot be imported
    with (
        migration_lock(workspace, settings.migrate_lock_timeout, on_lock_wait or (lambda: None)),
        workspace.connect() as connection,
    ):
        plan = _plan(workspace, connection, app_label, target)
        if before_run:
            before_run(plan)
        if plan.steps:
            run_steps(
                workspace,
                connection,
                plan.alembic_target,
                plan.forward,
                progress or (lambda event, step: None),
                stop_requested,
            )
            if workspace.unsquashed:  # it ran the replaced migrations: maybe all of them now
                workspace.use_view(frozenset())
                workspace.applied_rows(connection, restamp=True)
    return plan


def step_changes(step: Step) -> list[Change]:
    """What a step does, read from its migration file (for `migrate --plan`)."""
    from project.describe import describe_operations
    from project.migration_files import read_operations

    function = "upgrade" if step.forward else "downgrade"
    return describe_operations(
        read_operations(step.migration.path, function), step.migration.app_label
    )


def _plan(
    workspace: Workspace, connection: Connection, app_label: str | None, target: str | None
) -> Plan:
    rows = workspace.applied_rows(connection, restamp=True)
    history = workspace.history  # after the rows: they choose the view of squashed migrations
    applied = history.applied(rows)
    if app_label is None:
        labels = ", ".join(app.label for app in workspace.apps if history.for_app(app.label))
        return _steps(history, rows, "heads", True, f"Apply all migrations: {labels or '(none)'}")
    app = select_apps(workspace.apps, [app_label])[0]
    if not history.for_app(app.label):
        raise UsageError(f"App '{app.label}' does not have migrations.")
    if target is None:
        return _steps(
            history, rows, f"{app.label}@head", True, f"Apply all migrations: {app.label}"
        )
    if target == ZERO:
        plan = _steps(
            history, rows, f"{app.label}@base", False, f"Unapply all migrations: {app.label}"
        )
    else:
        migration = history.find(app.label, target)
        summary = f"Target specific migration: {migration.name}, from {app.label}"
        plan = _steps(history, rows, migration.revision, migration.revision not in applied, summary)
    irreversible = [
        step.migration.key
        for step in plan.steps
        if not step.forward and not step.migration.reversible
    ]
    if irreversible:
        raise ProjectError(
            f"Cannot unapply {irreversible[0]}: it is irreversible (a data migration without a "
            "backward function). Nothing was unapplied."
        )
    plan.dependants = [
        step.migration for step in plan.steps if step.migration.app_label != app.label
    ]
    return plan


def _steps(
    history: History, rows: tuple[str, ...], target: str, forward: bool, summary: str
) -> Plan:
    steps = [
        Step(history.by_revision[s.revision.revision], forward)
        for s in revision_steps(history, rows, target, forward)
    ]
    return Plan(summary, steps, forward, target)
