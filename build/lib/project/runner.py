"""Run a list of migration steps through Alembic, one transaction per migration.

What `alembic.command.upgrade` does, with a generator in place of its list of steps, so we
know when each step has committed, can stop between two, and can say exactly what failed.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from project import recorder
from project.errors import ProjectError

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext, RevisionStep
    from sqlalchemy import Connection

    from project.history import History, Migration
    from project.workspace import Workspace

# Databases whose DDL rolls back with the transaction (SQLite through project.database).
TRANSACTIONAL_DDL = {"postgresql", "sqlite"}
DATABASE_NAMES = {"mysql": "MySQL/MariaDB", "mariadb": "MariaDB"}
STATEMENT_SHOWN = 120  # characters of a failing SQL statement shown in an error


@dataclass(frozen=True)
class Step:
    migration: Migration
    forward: bool  # apply (True) or unapply (False)


# A revision, a symbol ("heads", "pets@head", "pets@base"), or several revisions.
Target = str | tuple[str, ...]

# progress(event, step): event is "start" before a step runs and "done" once it committed.
Progress = Callable[[str, Step], None]


class MigrationFailed(ProjectError):
    pass


class MigrationInterrupted(ProjectError):
    exit_code = 130


def revision_steps(
    history: History, rows: tuple[str, ...], target: Target, forward: bool
) -> list[RevisionStep]:
    """Alembic's own list of steps (what `command.upgrade`/`downgrade` run), so plans are exact."""
    from alembic.util import CommandError

    try:
        if forward:
            return history.script._upgrade_revs(target, rows)  # type: ignore[arg-type]
        return history.script._downgrade_revs(target, rows)  # type: ignore[arg-type]
    except CommandError as exc:
        raise ProjectError(f"Cannot plan the migration: {exc}") from exc


def run_steps(
    workspace: Workspace,
    connection: Connection,
    target: Target,
    forward: bool,
    progress: Progress = lambda event, step: None,
    stop_requested: Callable[[], bool] = lambda: False,
    fake: Callable[[Migration], bool] = lambda migration: False,
    record: bool = True,
) -> None:
    """Apply (or unapply) migrations on `connection` up (or down) to `target`.

    `fake` says which ones to only record as applied (or unapplied) without running them;
    progress then reports "faked" instead of "done". `record` keeps our history table.
    """
    _Runner(workspace, connection, target, forward, progress, stop_requested, fake, record).run()


class _Runner:
    def __init__(
        self,
        workspace: Workspace,
        connection: Connection,
        target: Target,
        forward: bool,
        progress: Progress,
        stop_requested: Callable[[], bool],
        fake: Callable[[Migration], bool],
        record: bool,
    ) -> None:
        self.workspace, self.connection = workspace, connection
        self.target, self.forward = target, forward
        self.progress, self.stop_requested = progress, stop_requested
        self.fake, self.record = fake, record
        self.faked = False  # the current step is only recorded
        self.started = 0.0
        self.current: Step | None = None
        self.completed: Step | None = None
        self.statements: list[str] = []  # SQL run so far by the current step
        self.recorded: set[str] = set()  # revisions in our history table

    def run(self) -> None:
        from alembic.runtime.environment import EnvironmentContext
        from sqlalchemy import event

        from project.compare import load_dialect_plugins

        load_dialect_plugins(self.connection.dialect.name)
        if self.record:
            recorder.ensure(self.connection)
            self.recorded = recorder.revisions(self.connection)
            self.connection.commit()
        config = self.workspace.config
        config.attributes["connection"] = self.connection
        config.attributes["configure_options"] = {
            "transaction_per_migration": True,
            "on_version_apply": self._applied,
            # Our SQLite engine emits BEGIN itself (project.database), so its DDL can roll back.
            **({"transactional_ddl": True} if self.connection.dialect.name == "sqlite" else {}),
        }
        event.listen(self.connection, "before_cursor_execute", self._record)
        try:
            with EnvironmentContext(
                config,
                self.workspace.script,
                fn=self._steps,
                destination_rev=self.target,
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
        for revision_step in revision_steps(
            self.workspace.history, heads, self.target, self.forward
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
                self.forward,
            )
            self.statements = []
            self.faked = self.fake(self.current.migration)
            self.progress("start", self.current)
            self.started = time.perf_counter()
            yield _faked(revision_step) if self.faked else revision_step

    def _applied(self, *, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        """Alembic's hook, inside the step's transaction: keep our history in step with it."""
        if not self.record or self.current is None:
            return
        if self.forward:
            duration = 0.0 if self.faked else time.perf_counter() - self.started
            migration = self.current.migration
            replace = migration.revision in self.recorded
            recorder.applied(self.connection, migration, duration, self.faked, replace=replace)
            self.recorded.add(migration.revision)
        else:
            recorder.unapplied(self.connection, self.current.migration.revision)
            self.recorded.discard(self.current.migration.revision)

    def _finish_current(self) -> None:
        if self.current is not None:
            self.progress("faked" if self.faked else "done", self.current)
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
        if step.forward and not step.migration.down_revisions and "exists" in str(exc):
            message += " (if the database had these tables before, run 'migrate --fake-initial')"
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


def _faked(step: RevisionStep) -> RevisionStep:
    """The step, with a migration function that does nothing: Alembic still records it."""
    faked = copy.copy(step)
    faked.__class__ = type(
        "FakedStep", (type(step),), {"migration_fn": property(lambda self: _nothing)}
    )
    return faked


def _nothing(**kwargs: Any) -> None:
    pass


def _shorten(statement: str) -> str:
    text = " ".join(statement.split())
    return text if len(text) <= STATEMENT_SHOWN else text[: STATEMENT_SHOWN - 1] + "…"


def _reason(exc: Exception | None) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip().splitlines()
    return f"{type(original or exc).__name__}: {text[0] if text else ''}"
