"""migrate: apply or unapply migrations with Alembic, one transaction per migration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from project.apps import select_apps
from project.errors import ProjectError, UsageError
from project.workspace import Workspace

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext, MigrationInfo
    from sqlalchemy import Connection

    from project.describe import Change
    from project.history import History, Migration
    from project.settings import Settings

ZERO = "zero"


@dataclass(frozen=True)
class Step:
    migration: Migration
    forward: bool  # apply (True) or unapply (False)


@dataclass
class Plan:
    """What `migrate` will do: Django's "Operations to perform", then the steps in order."""

    summary: str  # e.g. "Apply all migrations: owners, pets"
    steps: list[Step]
    alembic_target: str
    dependants: list[Migration] = field(
        default_factory=list
    )  # other apps' migrations unapplied first

    @property
    def forward(self) -> bool:
        return not self.steps or self.steps[0].forward


# progress(event, step): event is "start" before a step runs and "done" after it committed.
Progress = Callable[[str, Step], None]


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
) -> Plan:
    """Bring the database to the target; returns the plan that was carried out."""
    workspace = Workspace(settings)
    with workspace.connect() as connection:
        plan = _plan(workspace, connection, app_label, target)
        if before_run:
            before_run(plan)
        if plan.steps:
            _run(workspace, connection, plan, progress or (lambda event, step: None))
    return plan


def _plan(
    workspace: Workspace, connection: Connection, app_label: str | None, target: str | None
) -> Plan:
    history = workspace.history
    rows = workspace.version_rows(connection)
    applied = history.applied(rows)
    if app_label is None:
        labels = ", ".join(app.label for app in workspace.apps if history.for_app(app.label))
        return _upgrade(
            history, rows, applied, "heads", f"Apply all migrations: {labels or '(none)'}"
        )
    app = select_apps(workspace.apps, [app_label])[0]
    if not history.for_app(app.label):
        raise UsageError(f"App '{app.label}' does not have migrations.")
    if target is None:
        return _upgrade(
            history, rows, applied, f"{app.label}@head", f"Apply all migrations: {app.label}"
        )
    if target == ZERO:
        return _downgrade(
            history,
            rows,
            applied,
            app.label,
            f"{app.label}@base",
            f"Unapply all migrations: {app.label}",
        )
    migration = history.find(app.label, target)
    summary = f"Target specific migration: {migration.name}, from {app.label}"
    if migration.revision in applied:
        return _downgrade(history, rows, applied, app.label, migration.revision, summary)
    return _upgrade(history, rows, applied, migration.revision, summary)


# The plans walk the revisions as Alembic's upgrade and downgrade do, so they show what will run.
def _upgrade(
    history: History, rows: tuple[str, ...], applied: set[str], target: str, summary: str
) -> Plan:
    scripts = reversed(list(history.script.iterate_revisions(target, rows, implicit_base=True)))
    steps = [
        Step(history.by_revision[s.revision], True) for s in scripts if s.revision not in applied
    ]
    return Plan(summary, steps, target)


def _downgrade(
    history: History,
    rows: tuple[str, ...],
    applied: set[str],
    label: str,
    target: str,
    summary: str,
) -> Plan:
    scripts = history.script.iterate_revisions(rows, target, select_for_downgrade=True)
    steps = [Step(history.by_revision[s.revision], False) for s in scripts if s.revision in applied]
    dependants = [step.migration for step in steps if step.migration.app_label != label]
    return Plan(summary, steps, target, dependants)


def _run(workspace: Workspace, connection: Connection, plan: Plan, progress: Progress) -> None:
    from alembic import command

    remaining = list(plan.steps)

    def on_version_apply(
        *, ctx: MigrationContext, step: MigrationInfo, heads: set[str], run_args: Any
    ) -> None:
        migration = workspace.history.by_revision[step.up_revision_id or ""]
        done = next(
            (s for s in remaining if s.migration is migration), Step(migration, plan.forward)
        )
        remaining.remove(done) if done in remaining else None
        progress("done", done)
        if remaining:
            progress("start", remaining[0])

    options = {
        "transaction_per_migration": True,
        "on_version_apply": on_version_apply,
        **_transactional_ddl(connection.dialect.name),
    }
    progress("start", remaining[0])
    run = command.upgrade if plan.forward else command.downgrade
    try:
        workspace.run_alembic(connection, run, plan.alembic_target, configure_options=options)
    except ProjectError:
        raise
    except Exception as exc:
        failed = remaining[0].migration.key if remaining else "a migration"
        verb = "Applying" if plan.forward else "Unapplying"
        raise MigrationFailed(f"{verb} {failed} failed: {_reason(exc)}") from exc


def step_changes(step: Step) -> list[Change]:
    """What a step does, read from its migration file (for `migrate --plan`)."""
    from project.describe import describe_operations
    from project.migration_files import read_operations

    function = "upgrade" if step.forward else "downgrade"
    return describe_operations(
        read_operations(step.migration.path, function), step.migration.app_label
    )


def _transactional_ddl(dialect: str) -> dict[str, Any]:
    # Our SQLite engine emits BEGIN itself (project.database), so its DDL can roll back too.
    return {"transactional_ddl": True} if dialect == "sqlite" else {}


def _reason(exc: Exception) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip().splitlines()
    return f"{type(original or exc).__name__}: {text[0] if text else ''}"


class MigrationFailed(ProjectError):
    pass
