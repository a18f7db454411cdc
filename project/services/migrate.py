"""migrate: apply or unapply migrations with Alembic, one transaction per migration.

The run holds the database's migration lock (project.locking), reads the plan only once
it has the lock, and stops between migrations when asked to (Ctrl+C, SIGTERM), so an
interrupted run leaves a database the next run completes, on MariaDB too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from project.apps import select_apps
from project.errors import ProjectError, UsageError
from project.workspace import Workspace

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext, RevisionStep
    from sqlalchemy import Connection

    from project.describe import Change
    from project.history import History, Migration
    from project.settings import Settings

ZERO = "zero"
# Databases whose DDL rolls back with the transaction (SQLite through project.database).
TRANSACTIONAL_DDL = {"postgresql", "sqlite"}
DATABASE_NAMES = {"mysql": "MySQL/MariaDB", "mariadb": "MariaDB"}
STATEMENT_SHOWN = 120  # characters of a failing SQL statement shown in an error


@dataclass(frozen=True)
class Step:
    migration: Migration
    forward: bool  # apply (True) or unapply (False)


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


# progress(event, step): event is "start" before a step runs and "done" once it committed.
Progress = Callable[[str, Step], None]


class MigrationFailed(ProjectError):
    pass


class MigrationInterrupted(ProjectError):
    exit_code = 130


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
            _Runner(
                workspace, connection, plan, progress or (lambda event, step: None), stop_requested
            ).run()
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
    history = workspace.history
    rows = workspace.version_rows(connection)
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
    plan.dependants = [
        step.migration for step in plan.steps if step.migration.app_label != app.label
    ]
    return plan


def _steps(
    history: History, rows: tuple[str, ...], target: str, forward: bool, summary: str
) -> Plan:
    steps = [
        Step(history.by_revision[s.revision.revision], forward)
        for s in _revision_steps(history, rows, target, forward)
    ]
    return Plan(summary, steps, forward, target)


def _revision_steps(
    history: History, rows: tuple[str, ...], target: str, forward: bool
) -> list[RevisionStep]:
    """Alembic's own list of steps (what `command.upgrade`/`downgrade` run), so plans are exact."""
    from alembic.util import CommandError

    try:
        if forward:
            return history.script._upgrade_revs(target, rows)  # type: ignore[arg-type]
        return history.script._downgrade_revs(target, rows)  # type: ignore[arg-type]
    except CommandError as exc:
        raise ProjectError(f"Cannot plan the migration: {exc}") from exc


class _Runner:
    """One Alembic run whose steps we hand out one at a time (what `command.upgrade` does,
    with a generator in place of its list), so we know when each has committed and can
    stop between two."""

    def __init__(
        self,
        workspace: Workspace,
        connection: Connection,
        plan: Plan,
        progress: Progress,
        stop_requested: Callable[[], bool],
    ) -> None:
        self.workspace, self.connection, self.plan = workspace, connection, plan
        self.progress, self.stop_requested = progress, stop_requested
        self.current: Step | None = None
        self.completed: Step | None = None
        self.statements: list[str] = []  # SQL run so far by the current step

    def run(self) -> None:
        from alembic.runtime.environment import EnvironmentContext
        from sqlalchemy import event

        from project.compare import load_dialect_plugins

        load_dialect_plugins(self.connection.dialect.name)
        config = self.workspace.config
        config.attributes["connection"] = self.connection
        config.attributes["configure_options"] = {
            "transaction_per_migration": True,
            # Our SQLite engine emits BEGIN itself (project.database), so its DDL can roll back.
            **({"transactional_ddl": True} if self.connection.dialect.name == "sqlite" else {}),
        }
        event.listen(self.connection, "before_cursor_execute", self._record)
        try:
            with EnvironmentContext(
                config,
                self.workspace.script,
                fn=self._steps,
                destination_rev=self.plan.alembic_target,
            ):
                self.workspace.script.run_env()
        except ProjectError:
            raise
        except KeyboardInterrupt as exc:  # a second Ctrl+C: stop now
            raise MigrationInterrupted(self._failure("was interrupted", None)) from exc
        except Exception as exc:
            raise MigrationFailed(self._failure("failed", exc)) from exc
        finally:
            event.remove(self.connection, "before_cursor_execute", self._record)
        self._finish_current()

    def _steps(self, heads: tuple[str, ...], context: MigrationContext) -> Iterator[RevisionStep]:
        """Alembic asks for the next step once the previous one has committed."""
        for revision_step in _revision_steps(
            self.workspace.history, heads, self.plan.alembic_target, self.plan.forward
        ):
            self._finish_current()
            if self.stop_requested():
                done = (
                    f"stopped after {self.completed.migration.key}"
                    if self.completed
                    else "stopped before starting"
                )
                raise MigrationInterrupted(f"Interrupted: {done}. Run migrate again to continue.")
            self.current = Step(
                self.workspace.history.by_revision[revision_step.revision.revision],
                self.plan.forward,
            )
            self.statements = []
            self.progress("start", self.current)
            yield revision_step

    def _finish_current(self) -> None:
        if self.current is not None:
            self.progress("done", self.current)
            self.completed, self.current = self.current, None

    def _record(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if (
            not statement.lstrip()
            .upper()
            .startswith(("SELECT", "UPDATE ALEMBIC_VERSION", "INSERT INTO ALEMBIC_VERSION"))
        ):
            self.statements.append(" ".join(statement.split()))

    def _failure(self, what: str, exc: Exception | None) -> str:
        """One line: which migration, which statement, what the database said, what is left."""
        step = self.current
        if step is None:
            return f"Migrate {what}: {_reason(exc)}" if exc else f"Migrate {what}."
        verb = "Applying" if step.forward else "Unapplying"
        statement = getattr(exc, "statement", None)
        at = f" at `{_shorten(statement)}`" if statement else ""
        message = f"{verb} {step.migration.key} {what}{at}" + (f": {_reason(exc)}" if exc else "")
        if self.connection.dialect.name in TRANSACTIONAL_DDL:
            return f"{message}. It was rolled back; the database is as it was before it."
        earlier = [s for s in self.statements if s != " ".join((statement or "").split())]
        before = self.completed.migration.key if self.completed else "the migrations before it"
        kept = (
            f" These statements of it stayed applied: {'; '.join(map(_shorten, earlier))}."
            if earlier
            else ""
        )
        database = DATABASE_NAMES.get(self.connection.dialect.name, self.connection.dialect.name)
        return (
            f"{message}. {database} cannot roll back DDL.{kept} The version table still "
            f"records {before}; undo those by hand (or make the migration skip them), then migrate again."
        )


def _shorten(statement: str) -> str:
    text = " ".join(statement.split())
    return text if len(text) <= STATEMENT_SHOWN else text[: STATEMENT_SHOWN - 1] + "…"


def _reason(exc: Exception | None) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip().splitlines()
    return f"{type(original or exc).__name__}: {text[0] if text else ''}"
