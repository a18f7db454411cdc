"""Run a list of migration steps through Alembic, one transaction per migration.

What `alembic.command.upgrade` does, with a generator in place of its list of steps, so we
know when each step has committed, can stop between two, and can say exactly what failed.

On MySQL/MariaDB, where DDL commits as it runs, each operation done is recorded too, and a
migration that stopped partway carries on where it stopped (project.engine.resume).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from project.backends import backend_for
from project.engine import recorder, resume
from project.errors import ProjectError

if TYPE_CHECKING:
    from alembic.operations import Operations
    from alembic.operations.ops import MigrateOperation
    from alembic.runtime.migration import MigrationContext, RevisionStep
    from sqlalchemy import Connection

    from project.engine.history import History, Migration
    from project.engine.workspace import Workspace

STATEMENT_SHOWN = 120  # characters of a failing SQL statement shown in an error
# Statements that change nothing a failure message must list (reads, session settings).
READS = ("SELECT", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "SET")
OURS = ("alembic_version", *recorder.TABLES)  # bookkeeping: never listed, never "untracked"


@dataclass(frozen=True)
class Step:
    migration: Migration
    forward: bool  # apply (True) or unapply (False)
    resumed: resume.Resume | None = None  # it stopped partway in an earlier run (MySQL)


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

    from project.adapter.scripts import downgrade_steps, upgrade_steps

    try:
        return (upgrade_steps if forward else downgrade_steps)(history.script, target, rows)
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
        self.backend = backend_for(connection.dialect.name)
        self.target, self.forward = target, forward
        self.progress, self.stop_requested = progress, stop_requested
        self.fake, self.record = fake, record
        self.faked = False  # the current step is only recorded
        self.started = 0.0
        self.current: Step | None = None
        self.completed: Step | None = None
        self.statements: list[str] = []  # SQL run so far by the current step
        self.kept = 0  # of those, how many committed (MySQL/MariaDB: up to the last DDL)
        self.recorded: set[str] = set()  # revisions in our history table
        # Without transactional DDL, each operation done is recorded (project.engine.resume).
        self.autocommits = not self.backend.transactional_ddl  # DDL commits
        self.resumable = record and self.autocommits
        self.rows_committed: list[int] = []  # positions of the step's progress rows, committed
        self.rows_pending: list[int] = []  # and written since the last commit
        self.progress_rows: dict[str, list[recorder.Progress]] = {}
        self.position = 0  # operations invoked so far by the current step
        self.in_operation = False
        self.operation_committed = False  # a statement of the operation in flight committed
        self.outside = False  # SQL ran outside operations since the last one (not recorded yet)
        self.failed_partly = False  # the operation that raised had committed some of itself
        self.checksum = ""  # of the current step's file

    def run(self) -> None:
        from alembic.runtime.environment import EnvironmentContext
        from sqlalchemy import event

        from project.engine.operations import load_dialect_plugins

        load_dialect_plugins(self.connection.dialect.name)
        if self.record:
            recorder.ensure(self.connection)
            self.recorded = recorder.revisions(self.connection)
            self.connection.commit()
        if self.resumable:
            recorder.ensure_progress(self.connection)
            self.progress_rows = recorder.read_progress(self.connection)
        config = self.workspace.config
        config.attributes["connection"] = self.connection
        config.attributes["configure_options"] = {
            "transaction_per_migration": True,
            "on_version_apply": self._applied,
            **self.backend.alembic_options,  # SQLite: its DDL can roll back
        }
        event.listen(self.connection, "before_cursor_execute", self._record)
        event.listen(self.connection, "after_cursor_execute", self._executed)
        try:
            with (
                resume.tracking_operations(self._invoke) if self.resumable else nullcontext(),
                EnvironmentContext(
                    config,
                    self.workspace.script,
                    fn=self._steps,
                    destination_rev=self.target,
                ),
            ):
                self.workspace.script.run_env()
        except ProjectError:
            raise
        except KeyboardInterrupt as exc:  # a second Ctrl+C: stop now
            raise MigrationInterrupted(self._failure("was interrupted", None)) from exc
        except Exception as exc:
            message = self._failure("failed", exc)
            self._mark_failed(exc)
            raise MigrationFailed(message) from exc
        finally:
            event.remove(self.connection, "before_cursor_execute", self._record)
            event.remove(self.connection, "after_cursor_execute", self._executed)
        self._finish_current()

    def _steps(self, heads: tuple[str, ...], context: MigrationContext) -> Iterator[RevisionStep]:
        """Alembic asks for the next step once the previous one has committed."""
        from project.adapter.scripts import faked

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
            migration = self.workspace.history.by_revision[revision_step.revision.revision]
            self.statements, self.kept, self.position = [], 0, 0
            self.outside, self.failed_partly = False, False
            self.faked = self.fake(migration)
            self.current = Step(migration, self.forward, self._begin(migration))
            resumed = self.current.resumed
            skipped = resumed.done if resumed and not resumed.afresh else 0
            self.rows_committed, self.rows_pending = list(range(skipped)), []
            self.progress("start", self.current)
            self.started = time.perf_counter()
            yield faked(revision_step) if self.faked else revision_step

    def _begin(self, migration: Migration) -> resume.Resume | None:
        """MySQL/MariaDB: where the migration carries on if an earlier run stopped inside it,
        and a row that says it started (committed: its first DDL would commit it anyway)."""
        if not (self.resumable and self.forward) or self.faked:
            return None
        self.checksum = recorder.checksum(migration.path)
        rows = self.progress_rows.pop(migration.revision, [])
        resumed = (
            resume.plan_resume(self.connection, migration, rows, self.checksum) if rows else None
        )
        if resumed is None or resumed.afresh or resumed.done == 0:
            # From operation 0, the file as it is now is the one carried on with.
            recorder.clear_progress(self.connection, migration.revision)
            recorder.record_progress(
                self.connection,
                recorder.Progress(
                    migration.revision, recorder.STARTED, "started", "", self.checksum
                ),
            )
            self.connection.commit()
        return resumed

    def _invoke(
        self, operations: Operations, operation: MigrateOperation, run: Callable[[], Any]
    ) -> Any:
        """Each `op.*` call of a migration (MySQL/MariaDB): skipped when an earlier run did
        it, checked in the live schema when it was in flight, else run and recorded."""
        step = self.current
        if step is None or self.faked or not step.forward:
            return run()
        resumed = step.resumed if step.resumed and not step.resumed.afresh else None
        if self.outside:  # its own step, committed with that SQL (see project.engine.resume)
            self._record_row(self._row(self._next(resumed), resume.OUTSIDE, ""), commit=False)
            self.outside = False
        position = self._next(resumed)
        context = operations.migration_context
        if resumed and position < resumed.done:
            return resume.skipped_result(operation, context)
        description = resume.describe(operation)
        if resumed and position == resumed.done and not resumed.failed:
            check = resume.check_of(operation, context)
            done = resume.in_flight_state(self.connection, check)
            if done is None:
                resume.refuse_unknown(step.migration, position, description, resumed)
            if done:  # it completed before the earlier run stopped
                self._record_row(self._row(position, description, check), commit=True)
                return resume.skipped_result(operation, context)
        self.in_operation, self.operation_committed = True, False
        try:
            result = run()
        except BaseException:
            self.failed_partly = self.operation_committed
            raise
        finally:
            self.in_operation = False
        # After DDL, which committed the operation and all before it, the row is committed
        # too, so a kill now leaves nothing in doubt. Row changes commit with their row.
        check = resume.check_of(operation, context, created=result)
        self._record_row(self._row(position, description, check), commit=self.operation_committed)
        return result

    def _next(self, resumed: resume.Resume | None) -> int:
        """The position of the next step; a "failed" row there goes, with whatever commits
        first (the step's first DDL, or its own row)."""
        position, self.position = self.position, self.position + 1
        if resumed and resumed.failed and position == resumed.done and self.current:
            recorder.delete_progress(self.connection, self.current.migration.revision, position)
        return position

    def _row(self, position: int, description: str, check: str) -> recorder.Progress:
        assert self.current is not None
        return recorder.Progress(
            self.current.migration.revision, position, description, check, self.checksum
        )

    def _mark_failed(self, exc: Exception) -> None:
        """After an error: the step after the last committed row did not complete (what was
        not committed rolled back; a statement that fails does not apply), so the next run
        runs it again. Not when the failing operation had committed part of itself, nor when
        the connection was lost (the server may have finished the statement)."""
        from sqlalchemy.exc import DBAPIError

        step = self.current
        if not (self.resumable and step and step.forward) or self.faked or self.failed_partly:
            return
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return
        row = self._row(len(self.rows_committed), "did not complete", resume.FAILED)
        try:
            self.connection.rollback()
            recorder.mark_failed(self.connection, row)
            self.connection.commit()
        except Exception:  # noqa: BLE001 - the connection is unusable: the rows stay as committed
            return

    def _record_row(self, row: recorder.Progress, commit: bool) -> None:
        recorder.record_progress(self.connection, row)
        self.rows_pending.append(row.position)
        if commit:
            self.connection.exec_driver_sql("COMMIT")
            self._committed(len(self.statements))

    def _committed(self, statements: int) -> None:
        """The database committed: the first `statements` of the step stayed, and the rows."""
        self.kept = statements
        self.rows_committed += self.rows_pending
        self.rows_pending = []

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
            if self.resumable:
                recorder.clear_progress(self.connection, migration.revision)
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
        if _bookkeeping(statement):
            return
        step = self.current
        if step and self.resumable and step.forward and not self.faked and not self.in_operation:
            self.outside = True  # a step of its own (see _invoke)
            resumed = step.resumed
            if resumed and not resumed.afresh and self.position <= resumed.done:
                done = self.position < resumed.done
                if done or resume.commits(statement):
                    text = " ".join(statement.split())
                    resume.refuse_replay(step.migration, text, resumed, done)
        self.statements.append(" ".join(statement.split()))
        if self.autocommits and resume.commits(statement):
            self._committed(len(self.statements) - 1)  # what came before it, before it runs

    def _executed(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if self.autocommits and not _bookkeeping(statement) and resume.commits(statement):
            self._committed(len(self.statements))
            self.operation_committed = self.operation_committed or self.in_operation

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
        if self.backend.transactional_ddl and not step.migration.atomic:
            return (
                f"{message}. Its steps run one by one, and those before this one stayed "
                "applied; each step is idempotent, so run migrate again once the cause is fixed."
            )
        if self.backend.transactional_ddl:
            return f"{message}. It was rolled back; the database is as it was before it."
        kept = self.statements[: self.kept]
        stayed = (
            f" These statements of it stayed applied: {'; '.join(map(_shorten, kept))}."
            if kept
            else " None of its statements stayed applied."
        )
        database = self.backend.server_label
        message = (
            f"{message}. {database} cannot roll back DDL.{stayed} The version table still "
            f"records {self._last_completed(step.migration)} as the last migration completed"
        )
        if not self.resumable or not step.forward:
            return f"{message}; undo those by hand (or make the migration skip them), then migrate again."
        done = self._operations_done(step.migration)
        return (
            f"{message}; {done} of {step.migration.key} are recorded as completed. Run migrate "
            "again to carry on after them once the cause is fixed; to change the migration "
            "instead, undo them by hand first (migrate then runs it from the start)."
        )

    def _last_completed(self, migration: Migration) -> str:
        """The migrations this one follows: applied, as the version table says."""
        by_revision = self.workspace.history.by_revision
        keys = [by_revision[r].key if r in by_revision else r for r in migration.down_revisions]
        return " and ".join(keys) if keys else f"no migration of {migration.app_label}"

    def _operations_done(self, migration: Migration) -> str:
        """Which operations of the failed migration are recorded as done (committed)."""
        numbers = [str(position + 1) for position in sorted(self.rows_committed)]
        if not numbers:
            return "no operations"
        return f"operation{'s' if len(numbers) > 1 else ''} {', '.join(numbers)}"


def _bookkeeping(statement: str) -> bool:
    """Reads, Alembic's version table, our tables, our COMMIT: nothing a migration did."""
    text = statement.lstrip()
    first = text.split(None, 1)[0].upper() if text else ""
    lowered = text.lower()
    return first in READS or first == "COMMIT" or any(name in lowered for name in OURS)


def _shorten(statement: str) -> str:
    text = " ".join(statement.split())
    return text if len(text) <= STATEMENT_SHOWN else text[: STATEMENT_SHOWN - 1] + "…"


def _reason(exc: Exception | None) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip().splitlines()
    return f"{type(original or exc).__name__}: {text[0] if text else ''}"
