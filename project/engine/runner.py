"""Run a list of migration steps through Alembic, one transaction per migration.

What `alembic.command.upgrade` does, with a generator in place of its list of steps, so we
know when each step has committed, can stop between two, and can say exactly what failed.

On MySQL/MariaDB, where DDL commits as it runs, each operation done is recorded too, and a
migration that stopped partway carries on where it stopped (project.engine.resume).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from project.backends import backend_for
from project.backends.online_ddl import NotOnline
from project.engine import recorder, resume
from project.engine.lock_waits import LockRetry
from project.errors import ProjectError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.operations import Operations
    from alembic.operations.ops import MigrateOperation
    from alembic.runtime.migration import MigrationContext, RevisionStep
    from sqlalchemy import Connection

    from project.backends.locks import Blocker
    from project.engine.history import History, Migration
    from project.engine.lock_waits import BlockerWatcher
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
# Told before a migration that gave up waiting for a lock runs again (project.engine.lock_waits).
OnLockRetry = Callable[[LockRetry | NotOnline], None]


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
    on_lock_retry: OnLockRetry | None = None,
) -> None:
    """Apply (or unapply) migrations on `connection` up (or down) to `target`.

    `fake` says which ones to only record as applied (or unapplied) without running them;
    progress then reports "faked" instead of "done". `record` keeps our history table.
    `on_lock_retry`: the database has traffic; DDL runs under DDL_LOCK_TIMEOUT, a migration
    that gives up waiting for a lock is retried (and this is told), data migrations run under
    DATA_MIGRATION_STATEMENT_TIMEOUT. None: none of that (a scratch database).
    """
    _Runner(
        workspace,
        connection,
        target,
        forward,
        progress,
        stop_requested,
        fake,
        record,
        on_lock_retry,
    ).run()


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
        on_lock_retry: OnLockRetry | None,
    ) -> None:
        self.workspace, self.connection = workspace, connection
        self.backend = backend_for(connection.dialect.name)
        self.on_lock_retry = on_lock_retry
        self.waits = self.backend.lock_waits if on_lock_retry else None
        self.session = 0  # the server's id of our session, for naming who blocks it
        self.watcher: BlockerWatcher | None = None
        self.reset_statements: list[str] = []  # put the session's timeouts back at the end
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
        # MySQL/MariaDB: DDL asks to run online (project.backends.online_ddl); what could not
        # is run as written and told through on_lock_retry once its migration is done.
        self.online = self.resumable and self.waits is not None
        self.not_online: list[NotOnline] = []
        self.online_attempt = 0  # which online form of the operation's statements is asked
        self.rows_committed: list[int] = []  # positions of the step's progress rows, committed
        self.rows_pending: list[int] = []  # and written since the last commit
        self.progress_rows: dict[str, list[recorder.Progress]] = {}
        self.position = 0  # operations invoked so far by the current step
        self.in_operation = False
        self.operation_committed = False  # a statement of the operation in flight committed
        self.outside = False  # SQL ran outside operations since the last one (not recorded yet)
        self.failed_partly = False  # the operation that raised had committed some of itself
        # Transactional DDL: the step committed part of itself before its version row (an
        # autocommit_block), so a failure leaves that part applied.
        self.committed_partly = False
        self.version_applied = False
        self.checksum = ""  # of the current step's file

    def run(self) -> None:
        from sqlalchemy import event

        from project.engine.operations import load_dialect_plugins

        load_dialect_plugins(self.connection.dialect.name)
        if self.record:
            recorder.ensure(self.connection)
            self.recorded = recorder.revisions(self.connection)
        self._set_timeouts()
        if self.record or self.reset_statements:
            self.connection.commit()  # idle before Alembic begins: its autocommit_block asserts it
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
        if self.online:  # after _record, which keeps the statements as the migration wrote them
            event.listen(self.connection, "before_cursor_execute", self._ask_online, retval=True)
        event.listen(self.connection, "after_cursor_execute", self._executed)
        event.listen(self.connection, "commit", self._commit_seen)
        try:
            with self._watching():
                self._run_with_retries(config)
        finally:
            if self.online:
                event.remove(self.connection, "before_cursor_execute", self._ask_online)
            event.remove(self.connection, "before_cursor_execute", self._record)
            event.remove(self.connection, "after_cursor_execute", self._executed)
            event.remove(self.connection, "commit", self._commit_seen)
            self._reset_timeouts()
        self._finish_current()

    def _run_with_retries(self, config: Config) -> None:
        """Alembic's run, again from the version table after a migration that gave up waiting
        for a lock (rolled back; MySQL/MariaDB: carried on after its operations done)."""
        from project.engine.lock_waits import retry_delays

        settings = self.workspace.settings
        delays = retry_delays(settings.ddl_lock_retries, settings.ddl_retry_delay)
        for attempt in range(len(delays) + 1):
            try:
                self._run_env(config)
                return
            except ProjectError:
                raise
            except KeyboardInterrupt as exc:  # a second Ctrl+C: stop now
                raise MigrationInterrupted(self._failure("was interrupted", None)) from exc
            except Exception as exc:
                timed_out = self.waits is not None and self.waits.timed_out(exc)
                blockers = self._blockers(exc) if timed_out else ()
                # Run again from the start only what a rerun cannot harm: a migration rolled
                # back whole, or one of idempotent steps (atomic = False).
                rerunnable = not self.committed_partly or bool(
                    self.current and not self.current.migration.atomic
                )
                if timed_out and rerunnable and attempt < len(delays) and self.current:
                    self._retry_later(exc, blockers, attempt + 1, delays)
                    continue
                message = self._failure(
                    "failed",
                    exc,
                    self._lock_reason(exc, blockers, attempt + 1) if timed_out else None,
                )
                self._mark_failed(exc)
                raise MigrationFailed(message) from exc

    def _commit_seen(self, conn: Any) -> None:
        if self.current is not None and not self.version_applied:
            self.committed_partly = True

    def _run_env(self, config: Config) -> None:
        from alembic.runtime.environment import EnvironmentContext

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

    def _set_timeouts(self) -> None:
        """Session settings, not SET LOCAL: they hold across the migrations' transactions and
        autocommit blocks, until _reset_timeouts."""
        from project.data import STATEMENT_TIMEOUT_KEY

        settings = self.workspace.settings
        if self.waits is None:
            return
        if settings.ddl_lock_timeout:
            set_timeout, reset = self.waits.timeout_statements(settings.ddl_lock_timeout)
            self.connection.exec_driver_sql(set_timeout)
            self.reset_statements.append(reset)
        data_timeout = settings.data_migration_statement_timeout
        statements = (
            self.waits.statement_timeout_statements(self.connection, data_timeout)
            if data_timeout
            else None
        )
        if statements:
            self.connection.info[STATEMENT_TIMEOUT_KEY] = statements
            self.reset_statements.append(statements[1])
        self.session = self.waits.session_id(self.connection)

    def _reset_timeouts(self) -> None:
        from project.data import STATEMENT_TIMEOUT_KEY

        self.connection.info.pop(STATEMENT_TIMEOUT_KEY, None)
        if not self.reset_statements:
            return
        try:
            if self.connection.in_transaction():
                self.connection.rollback()  # what is left of a failure; committed work stayed
            for statement in self.reset_statements:
                self.connection.exec_driver_sql(statement)
            self.connection.commit()
        except Exception:  # noqa: BLE001 - the connection is unusable: it closes with its settings
            return

    @contextmanager
    def _watching(self) -> Iterator[None]:
        """A watcher of who blocks our statements, where the server can only say so while they
        wait; its connection is opened only once a statement waits, not for every migrate."""
        from project.engine.lock_waits import BlockerWatcher

        waits = self.waits
        # asyncio drivers: a second connection would need the event loop's greenlet.
        if waits is None or not waits.watch_while_waiting or self.connection.dialect.is_async:
            yield
            return
        engine = self.connection.engine

        @contextmanager
        def open_connection() -> Iterator[Connection]:
            with engine.connect() as connection:
                yield connection.execution_options(isolation_level="AUTOCOMMIT")

        self.watcher = BlockerWatcher(waits, self.session, open_connection)
        with self.watcher.watching():
            yield
        self.watcher = None

    def _blockers(self, exc: Exception) -> tuple[Blocker, ...]:
        """Who blocked the statement that gave up: as the watcher saw it while it waited,
        else who holds locks on its table now."""
        from project.engine.lock_waits import table_of

        if self.watcher:
            self.watcher.statement_ended()
            seen = self.watcher.last_blockers()
            if seen:
                return seen
        assert self.waits is not None
        table = table_of(getattr(exc, "statement", None))
        try:
            if self.connection.in_transaction():
                self.connection.rollback()
            found = tuple(self.waits.holders(self.connection, self.session, table))
            self.connection.rollback()
        except Exception:  # noqa: BLE001 - who it was is a detail: the failure is still reported
            return ()
        return found

    def _retry_later(
        self, exc: Exception, blockers: tuple[Blocker, ...], attempt: int, delays: list[float]
    ) -> None:
        """The migration rolled back (on MySQL/MariaDB: its operations done stay recorded, the
        one that timed out did not apply): say so, wait, and have the next run start it again."""
        from project.engine.lock_waits import wait_to_retry

        step = self.current
        assert step is not None and self.on_lock_retry is not None
        self._mark_failed(exc)
        if self.connection.in_transaction():
            self.connection.rollback()
        delay = delays[attempt - 1]
        table = _waited_table(exc, blockers)
        self.on_lock_retry(
            LockRetry(step.migration.key, table, blockers, delay, attempt, len(delays))
        )
        if not wait_to_retry(delay, self.stop_requested):
            raise MigrationInterrupted(
                f"Interrupted while waiting to retry {step.migration.key} after a lock timeout"
                f"{self._rolled_back_note()}. Run migrate again to continue."
            ) from exc
        self.current = None  # not done: the next run starts it again
        if self.resumable:
            self.progress_rows = recorder.read_progress(self.connection)
            self.connection.commit()

    def _rolled_back_note(self) -> str:
        if self.backend.transactional_ddl:
            return " (it was rolled back)"
        return " (its operations done are recorded; migrate carries on after them)"

    def _lock_reason(self, exc: Exception, blockers: tuple[Blocker, ...], attempts: int) -> str:
        from project.engine.lock_waits import gave_up

        timeout = self.workspace.settings.ddl_lock_timeout
        return gave_up(_waited_table(exc, blockers), attempts, blockers, timeout)

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
            self.committed_partly = self.version_applied = False
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
            result = self._run_online(run, step)
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

    def _ask_online(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> tuple[str, Any]:
        from project.backends.online_ddl import online_forms

        forms = online_forms(statement) if self.online and self.in_operation else []
        chosen = forms[self.online_attempt] if self.online_attempt < len(forms) else statement
        return chosen, parameters

    def _run_online(self, run: Callable[[], Any], step: Step) -> Any:
        """Run the operation with its DDL asking to run online, in the forms of
        project.backends.online_ddl in turn: a form the server refuses did not apply, so the
        next is tried, and last the statement as written (then said)."""
        from project.backends.online_ddl import as_written, online_forms, refused_online

        refusal: tuple[str, str] | None = None  # (statement as written, the server's reason)
        self.online_attempt = 0
        try:
            while True:
                try:
                    result = run()
                    break
                except Exception as exc:
                    reason = refused_online(exc) if self.online else None
                    if reason is None or self.operation_committed:
                        raise
                    refusal = (as_written(str(getattr(exc, "statement", ""))), reason)
                    self.online_attempt += 1
            as_is = refusal is not None and self.online_attempt >= len(online_forms(refusal[0]))
        finally:
            self.online_attempt = 0
        if refusal is not None and as_is:
            self.not_online.append(NotOnline(step.migration.key, *refusal))
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
        self.version_applied = True
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
        notices, self.not_online = self.not_online, []
        tell = self.on_lock_retry
        if tell is not None:
            for notice in notices:
                tell(notice)

    def _record(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if self.watcher:
            self.watcher.statement_started()
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
        if self.watcher:
            self.watcher.statement_ended()
        if self.autocommits and not _bookkeeping(statement) and resume.commits(statement):
            self._committed(len(self.statements))
            self.operation_committed = self.operation_committed or self.in_operation

    def _failure(self, what: str, exc: Exception | None, reason: str | None = None) -> str:
        """One line: which migration, which statement, what the database said (or `reason`),
        what is left."""
        step = self.current
        reason = reason or (_reason(exc) if exc else None)
        if step is None:
            return f"Migrate {what}: {reason}" if reason else f"Migrate {what}."
        verb = "Applying" if step.forward else "Unapplying"
        statement = getattr(exc, "statement", None)
        at = f" at `{_shorten(statement)}`" if statement else ""
        message = f"{verb} {step.migration.key} {what}{at}" + (f": {reason}" if reason else "")
        if step.forward and not step.migration.down_revisions and "exists" in str(exc):
            message += " (if the database had these tables before, run 'migrate --fake-initial')"
        if self.backend.transactional_ddl and step.migration.atomic and self.committed_partly:
            return (
                f"{message}. It committed part of itself before (an autocommit_block), and that "
                "part stayed applied: undo it, or make the migration's steps idempotent and "
                "mark it atomic = False, then migrate again."
            )
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


def _waited_table(exc: Exception, blockers: tuple[Blocker, ...]) -> str:
    """The table a statement that gave up waited for: as the server said, else as it names."""
    from project.engine.lock_waits import table_of

    return (blockers[0].table if blockers else "") or table_of(getattr(exc, "statement", None))


def _shorten(statement: str) -> str:
    text = " ".join(statement.split())
    return text if len(text) <= STATEMENT_SHOWN else text[: STATEMENT_SHOWN - 1] + "…"


def _reason(exc: Exception | None) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip().splitlines()
    return f"{type(original or exc).__name__}: {text[0] if text else ''}"
