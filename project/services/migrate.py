"""migrate: apply or unapply migrations with Alembic, one transaction per migration.

The run holds the database's migration lock (project.engine.locking), reads the plan only once
it has the lock, and stops between migrations when asked to (Ctrl+C, SIGTERM), so an
interrupted run leaves a database the next run completes, on MariaDB too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from project.apps import select_apps
from project.engine.graph_checks import require_sound_graph
from project.engine.runner import OnLockRetry, Progress, Step, revision_steps, run_steps
from project.engine.workspace import Workspace
from project.errors import DatabaseError, ProjectError, UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy import Connection

    from project.autogen.describe import Change
    from project.autogen.locks import Lock
    from project.engine.history import History, Migration
    from project.engine.resume import Resume
    from project.settings import Settings

ZERO = "zero"
# A migration an earlier run stopped inside, the operations it completed, and what this run
# does with it (None: it refuses to carry on, saying why when it gets there).
Partial = tuple["Migration", list[str], "Resume | None"]


@dataclass
class Plan:
    """What `migrate` will do: Django's "Operations to perform", then the steps in order."""

    summary: str  # e.g. "Apply all migrations: owners, pets"
    steps: list[Step]
    forward: bool
    alembic_target: str
    dependants: list[Migration] = field(
        default_factory=list
    )  # other apps' migrations, unapplied first
    changed: list[Migration] = field(default_factory=list)  # applied, and edited since
    accepted: list[Migration] = field(default_factory=list)  # edited, and accepted by --fake
    adopted: list[str] = field(default_factory=list)  # a plain Alembic history's heads replaced
    # MySQL/MariaDB: migrations an earlier run stopped inside (project.engine.resume)
    partial: list[Partial] = field(default_factory=list)


def plan_migrate(
    settings: Settings,
    app_label: str | None = None,
    target: str | None = None,
    checks: bool = True,
) -> Plan:
    """What `migrate` would do, changing nothing (`checks`: all the graph's, else only
    conflicts)."""
    nothing_to_do = _nothing_to_do(settings, app_label, target, checks, migrating=False)
    if nothing_to_do is not None:
        return nothing_to_do
    workspace = Workspace(settings)
    require_sound_graph(workspace.history, _cache(settings), dependencies=checks)
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
    on_lock_retry: OnLockRetry | None = None,
    stop_requested: Callable[[], bool] = lambda: False,
    fake: bool = False,
    fake_initial: bool = False,
    checks: bool = True,
) -> Plan:
    """Bring the database to the target; returns the plan that was carried out.

    `stop_requested` is asked before each migration: when it says yes, the run ends
    cleanly after the migration in progress (MigrationInterrupted). `fake` records the
    migrations as applied (or unapplied) without running them; `fake_initial` does so for
    an app's initial migration whose tables all exist already (Django's rule); on a
    database of a plain Alembic history, it first adopts it (project.autogen.adoption). `checks`:
    the graph's (missing cross-app dependencies) first; conflicts, and a migration file that
    cannot be imported, are errors either way. `on_lock_retry` is told before a migration
    that gave up waiting for a table's lock (DDL_LOCK_TIMEOUT) runs again.
    """
    if not (fake or fake_initial):
        nothing_to_do = _nothing_to_do(settings, app_label, target, checks, migrating=True)
        if nothing_to_do is not None:
            if before_run:
                before_run(nothing_to_do)
            return nothing_to_do
    from project.engine import recorder
    from project.engine.locking import migration_lock
    from project.engine.squash_view import after_migrating

    _defer_unused_alembic_support(settings)
    workspace = Workspace(settings)
    if app_label is not None:
        select_apps(workspace.apps, [app_label])  # bad input fails before any waiting
    require_sound_graph(workspace.history, _cache(settings), dependencies=checks)
    workspace.history  # noqa: B018 - a file that cannot be imported fails before any waiting
    with (
        migration_lock(workspace, settings.migrate_lock_timeout, on_lock_wait or (lambda: None)),
        workspace.connect() as connection,
    ):
        adopted = _adopt(workspace, connection, app_label, fake_initial)
        plan = _plan(workspace, connection, app_label, target)
        plan.adopted = adopted
        plan.changed = changed_since_applied(workspace, connection, backfill=True)
        if plan.changed and fake:  # Flyway's repair: the files as they are now were applied
            recorder.accept(connection, plan.changed)
            plan.accepted, plan.changed = plan.changed, []
        if plan.changed and settings.strict_migration_checksums:
            raise ProjectError(
                f"{', '.join(m.key for m in plan.changed)} changed after it was applied (its checksum "
                "differs). Restore the file as it was, or, if the change is intended, make it on the "
                "database by hand and accept it with 'migrate --fake'; STRICT_MIGRATION_CHECKSUMS is on."
            )
        existing = _existing_initials(connection, plan) if fake_initial else set()
        plan.partial = [] if fake else _partial(connection, plan)
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
                fake=lambda migration: fake or migration.revision in existing,
                on_lock_retry=on_lock_retry or (lambda retry: None),
            )
            after_migrating(workspace, connection)  # replaced migrations ran: maybe all now
    return plan


def _defer_unused_alembic_support(settings: Settings) -> None:
    """Alembic's PostgreSQL support is not imported for another database (a fifth of a small
    migrate on SQLite): project.adapter.deferred_impls. A URL that does not parse is left to
    fail where it always does."""
    from sqlalchemy.engine import make_url

    from project.adapter.deferred_impls import defer_unused

    try:
        backend = make_url(settings.database_url).get_backend_name()
    except Exception:  # noqa: BLE001 - reported when the database is opened
        return
    defer_unused(backend)


def _nothing_to_do(
    settings: Settings, app_label: str | None, target: str | None, checks: bool, migrating: bool
) -> Plan | None:
    """The plan of a migrate that has nothing to do, read the light way (project.engine.fast_status:
    the cached graph, sqlite3), without the lock, Alembic or the migration files' imports.
    None when there is something to do, or anything else the full path must decide or say:
    a graph not checked since its files changed (checks) or with a conflict, a bad argument,
    an applied migration our history table has yet to record (`migrating`: migrate records
    it), one edited since it was applied under STRICT_MIGRATION_CHECKSUMS. SQLite and
    PostgreSQL, whose DDL is transactional: no migration can have stopped partway but one
    marked atomic = False, which is then not applied: work to do (project.engine.resume)."""
    from project.engine import recorder
    from project.engine.fast_status import snapshot
    from project.engine.graph_checks import passed_before

    workspace = Workspace(settings)
    try:
        fast = snapshot(settings, workspace.apps)
        if fast is None:
            return None
        history, applied, records = fast.history, fast.applied, fast.records
        if history.conflicts() or (checks and not passed_before(history, _cache(settings))):
            return None
        plan = _plan_if_done(workspace, history, applied, app_label, target)
    except ProjectError:
        return None  # the full path says it
    if plan is None or not migrating:
        return plan
    if any(revision not in records for revision in applied):
        return None
    plan.changed = [
        m
        for m in history.migrations
        if m.revision in records
        and m.revision in applied
        and records[m.revision].checksum != recorder.checksum(m.path)
    ]
    return None if plan.changed and settings.strict_migration_checksums else plan


def _plan_if_done(
    workspace: Workspace,
    history: History,
    applied: set[str],
    app_label: str | None,
    target: str | None,
) -> Plan | None:
    """_plan's answer when it has no steps (as Alembic would find none), else None."""
    if app_label is None:
        if any(m.revision not in applied for m in history.migrations):
            return None
        labels = ", ".join(app.label for app in workspace.apps if history.for_app(app.label))
        return Plan(f"Apply all migrations: {labels or '(none)'}", [], True, "heads")
    app = select_apps(workspace.apps, [app_label])[0]
    migrations = history.for_app(app.label)
    if not migrations:
        return None
    if target is None:
        if any(m.revision not in applied for m in migrations):
            return None
        return Plan(f"Apply all migrations: {app.label}", [], True, f"{app.label}@head")
    if target == ZERO:
        if any(m.revision in applied for m in migrations):
            return None
        return Plan(f"Unapply all migrations: {app.label}", [], False, f"{app.label}@base")
    migration = history.find(app.label, target)
    if migration.revision not in applied:
        return None
    if _followers(history, migration.revision) & applied:  # they would be unapplied
        return None
    summary = f"Target specific migration: {migration.name}, from {app.label}"
    return Plan(summary, [], False, migration.revision)


def _followers(history: History, revision: str) -> set[str]:
    """Every migration that needs `revision`, directly or not (depends_on included)."""
    children: dict[str, list[str]] = {}
    for m in history.migrations:
        for parent in m.down_revisions + m.dependencies:
            children.setdefault(parent, []).append(m.revision)
    found: set[str] = set()
    todo = list(children.get(revision, []))
    while todo:
        child = todo.pop()
        if child not in found:
            found.add(child)
            todo.extend(children.get(child, []))
    return found


def _adopt(
    workspace: Workspace, connection: Connection, app_label: str | None, fake_initial: bool
) -> list[str]:
    """A database of a plain Alembic history: adopted with --fake-initial, else refused."""
    from project.autogen.adoption import adopt, foreign_revisions
    from project.engine.history import ForeignHistoryError

    foreign = foreign_revisions(workspace, connection)
    if not foreign:
        return []
    if not fake_initial:
        raise ForeignHistoryError(foreign)
    if app_label is not None:
        raise UsageError(
            "Adopting a database of a plain Alembic history takes every app at once: run "
            "'migrate --fake-initial' without an app label."
        )
    adopt(workspace, connection, foreign)
    return foreign


def _partial(connection: Connection, plan: Plan) -> list[Partial]:
    """What project.engine.resume will do with each migration an earlier run stopped inside, so the
    heading says it before the run (the runner plans it again when it gets there)."""
    from project.backends import backend_for
    from project.engine import recorder
    from project.engine.resume import FAILED, ResumeRefused, plan_resume

    if not plan.forward or backend_for(connection.dialect.name).transactional_ddl:
        return []
    rows = recorder.read_progress(connection)
    partial = []
    for step in plan.steps:
        migration = step.migration
        if migration.revision not in rows:
            continue
        mine = rows[migration.revision]
        done = [r.description for r in mine if r.position != recorder.STARTED and r.check != FAILED]
        try:
            outcome = plan_resume(connection, migration, mine, recorder.checksum(migration.path))
        except ResumeRefused:
            outcome = None
        partial.append((migration, done, outcome))
    return partial


def _cache(settings: Settings) -> Path:
    from project.engine.scratch import CACHE_FOLDER

    return settings.base_dir / CACHE_FOLDER


def changed_since_applied(
    workspace: Workspace, connection: Connection, backfill: bool = False
) -> list[Migration]:
    """Applied migrations whose file differs from the one applied (by our history table's
    checksum). With `backfill`, applied migrations the history does not know yet (applied
    before it was kept) are recorded as they are now."""
    from project.engine import recorder

    records = recorder.read(connection)
    history = workspace.history
    applied = history.applied(workspace.applied_rows(connection, ghosts_ok=True))
    missing = [m for m in history.migrations if m.revision in applied and m.revision not in records]
    if backfill and missing:
        recorder.ensure(connection)
        for migration in missing:
            recorder.applied(connection, migration, None, faked=False, backfill=True)
        connection.commit()
    return [
        m
        for m in history.migrations
        if m.revision in records
        and m.revision in applied
        and records[m.revision].checksum != recorder.checksum(m.path)
    ]


def prune(settings: Settings, on_lock_wait: Callable[[], None] | None = None) -> list[str]:
    """Forget applied migrations whose files are gone: version table rows become what they
    followed, history rows go. Returns the migrations forgotten (app.name, or revision)."""
    from project.adapter import version_table
    from project.engine import recorder
    from project.engine.locking import migration_lock

    workspace = Workspace(settings)
    with (
        migration_lock(workspace, settings.migrate_lock_timeout, on_lock_wait or (lambda: None)),
        workspace.connect() as connection,
    ):
        rows = workspace.applied_rows(connection, ghosts_ok=True)
        records = recorder.read(connection)
        history = workspace.history
        gone = {
            revision: record
            for revision, record in records.items()
            if revision not in history.by_revision and record.app != recorder.ADOPTED
        }
        unrecorded = [ghost for ghost in workspace.ghosts if isinstance(ghost, str)]
        if unrecorded:
            raise DatabaseError(
                f"Revision '{unrecorded[0]}' in the version table has no file and no history: "
                "what it followed is unknown, so it cannot be pruned safely. Restore its file, "
                "or delete its row from the alembic_version table by hand."
            )
        ghosts = [ghost.revision for ghost in workspace.ghosts]
        if ghosts:
            applied = history.applied(rows)
            below = {
                r
                for m in history.migrations
                if m.revision in applied
                for r in m.down_revisions + m.dependencies
            }
            heads = [
                m.revision
                for m in history.migrations
                if m.revision in applied and m.revision not in below
            ]
            version_table.replace_heads(connection, heads)
        if gone:
            recorder.forget(connection, gone)
        connection.commit()
    named = {revision: f"{record.app}.{record.name}" for revision, record in gone.items()}
    return sorted({named.get(revision, revision) for revision in [*ghosts, *gone]})


def _existing_initials(connection: Connection, plan: Plan) -> set[str]:
    """Initial migrations of the plan whose tables (and their columns) all exist: they are
    faked. Some of them existing, or missing columns, is an error that says which."""
    import sqlalchemy as sa
    from alembic.operations import ops

    from project.engine.migration_files import read_operations

    inspector = sa.inspect(connection)
    existing = set(inspector.get_table_names())
    found = set()
    for step in plan.steps:
        migration = step.migration
        if not step.forward or migration.down_revisions:
            continue
        creates = [
            op for op in read_operations(migration.path) if isinstance(op, ops.CreateTableOp)
        ]
        present = [op for op in creates if op.table_name in existing]
        if not creates or not present:
            continue
        missing = [op.table_name for op in creates if op.table_name not in existing]
        if missing:
            raise ProjectError(
                f"Cannot fake {migration.key}: tables {', '.join(missing)} do not exist, while "
                f"{', '.join(op.table_name for op in present)} do. Create or drop them to match it."
            )
        for op in present:
            columns = {column["name"] for column in inspector.get_columns(op.table_name)}
            lacking = [
                c.name for c in op.columns if isinstance(c, sa.Column) and c.name not in columns
            ]
            if lacking:
                raise ProjectError(
                    f"Cannot fake {migration.key}: table {op.table_name} exists but has no column "
                    f"{', '.join(lacking)}. Alter the table to match the migration, then try again."
                )
        found.add(migration.revision)
    connection.commit()
    return found


def step_changes(step: Step) -> list[Change]:
    """What a step does, read from its migration file (for `migrate --plan`)."""
    from project.autogen.describe import describe_operations
    from project.engine.migration_files import read_operations

    function = "upgrade" if step.forward else "downgrade"
    return describe_operations(
        read_operations(step.migration.path, function), step.migration.app_label
    )


def marked_steps(
    settings: Settings, steps: list[Step]
) -> list[tuple[Step, list[tuple[Change, Lock]]]]:
    """Each step's changes with the lock each takes on the configured database (for
    `migrate --plan`; project.autogen.locks)."""
    from project.autogen.lint import ATOMIC_MARKER, marked, module_flag
    from project.backends.connections import database_url

    dialect = database_url(settings).get_backend_name()
    return [
        (
            step,
            marked(
                step_changes(step),
                dialect,
                module_flag(step.migration.path, ATOMIC_MARKER) is not False,
            ),
        )
        for step in steps
    ]


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
