"""makemigrations: compare the models with the migration history, one new file per changed app.

By default the history is replayed into a scratch database (project.engine.scratch) and the models
are compared with that; `from_db=True` compares with the configured database instead, as
plain Alembic does (it must then have every migration applied).

A run that writes holds an exclusive file lock of the project folder from before it reads
the migration files until its files are written: a second run waits, then sees the first
one's files, and writes nothing twice. flock is per machine (two machines writing into one
network folder are not kept apart: they would not be with git either).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from project.apps import AppConfig, select_apps
from project.autogen.formatting import format_files
from project.autogen.planner import (
    NewMigration,
    Planner,
    docstring,
    new_migration,
    require_migration_name,
)
from project.autogen.questioner import Questioner
from project.engine.fingerprint import (
    Sources,
    fingerprint,
    known_unchanged,
    remember_unchanged,
    source_digests,
)
from project.engine.workspace import Workspace
from project.errors import DatabaseError, UsageError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from project.autogen.lint import Finding, LockLint
    from project.engine.history import History
    from project.settings import Settings

EMPTY_MIGRATION_NAME = "manual"
WRITE_LOCK = "makemigrations.lock"  # in .manage_cache/


@dataclass
class MakeMigrationsResult:
    migrations: list[NewMigration]
    ignored_tables: list[str]  # tables no installed app owns, left alone
    written: bool
    compared_with: str = ""  # "the configured database", or how the history state was built
    notes: list[str] = field(default_factory=list)
    lint: list[Finding] | None = None  # None: not asked for
    locks: LockLint | None = None  # the lock lint, with `lint`


def makemigrations(
    settings: Settings,
    app_labels: Sequence[str] = (),
    *,
    name: str | None = None,
    empty: bool = False,
    write: bool = True,
    from_db: bool | None = None,
    cache: bool = True,
    questioner: Questioner | None = None,
    lint: bool = False,
    on_wait: Callable[[], None] | None = None,
) -> MakeMigrationsResult:
    """Write (or, with `write=False`, only plan) the migrations the models need.

    `from_db` None follows the MAKEMIGRATIONS_FROM_DATABASE setting; `cache=False` rebuilds
    the history state instead of reusing a cached one. Without a `questioner`, nothing is
    asked: an ambiguous change (a rename? a default for existing rows?) is an error.
    """
    with writing(settings, write, on_wait):
        return plan_migrations(
            settings,
            app_labels,
            name=name,
            empty=empty,
            write=write,
            from_db=from_db,
            cache=cache,
            questioner=questioner,
            lint=lint,
        )


@contextmanager
def writing(
    settings: Settings, write: bool, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold the project's makemigrations lock for the block if it writes (see above);
    `on_wait` is called once if another run holds it. Every command that writes migration
    files takes it: makemigrations (--update, --merge) and squashmigrations."""
    if not write:
        yield
        return
    from project.engine.locking import file_lock
    from project.engine.scratch import CACHE_FOLDER

    timeout = settings.migrate_lock_timeout

    def timed_out() -> DatabaseError:
        return DatabaseError(
            f"Another makemigrations in this folder has been writing for over {timeout:g} s. "
            "Wait for it to finish, or raise MIGRATE_LOCK_TIMEOUT in settings."
        )

    lock = settings.base_dir / CACHE_FOLDER / WRITE_LOCK
    with file_lock(lock, timeout, timed_out, on_wait or (lambda: None)):
        yield


def plan_migrations(
    settings: Settings,
    app_labels: Sequence[str] = (),
    *,
    name: str | None = None,
    empty: bool = False,
    write: bool = True,
    from_db: bool | None = None,
    cache: bool = True,
    questioner: Questioner | None = None,
    lint: bool = False,
) -> MakeMigrationsResult:
    """makemigrations for a caller that holds the write lock (`writing`) already: flock is
    per open file, so taking it twice in one process would wait forever."""
    if name is not None:
        require_migration_name(name)
    workspace = Workspace(settings)
    apps = select_apps(workspace.apps, app_labels) if app_labels else workspace.apps
    if empty:
        if not app_labels:
            raise UsageError("You must supply at least one app label when using --empty.")
        return _empty_migrations(workspace, apps, name or EMPTY_MIGRATION_NAME, write)
    if from_db is None:
        from_db = settings.makemigrations_from_database
    labels = [app.label for app in apps]
    # The fingerprint covers the migration files: a cached "no changes" also means that
    # no conflict has appeared since, so the history need not even be read.
    sources = None if from_db else source_digests(settings, workspace.apps)
    key = fingerprint(sources, labels) if cache and sources else None
    if key and not lint and known_unchanged(settings, key):
        return _unchanged()
    workspace.history.require_no_conflicts()
    result = _autogenerate(workspace, apps, name, write, sources, cache, questioner or Questioner())
    if key and not result.migrations:
        remember_unchanged(settings, key)
    if lint:
        from project.autogen.lint import lint as find_unreviewed
        from project.autogen.lint import lint_locks
        from project.backends.connections import database_url
        from project.engine.history import load_history
        from project.engine.squash_view import script_directory

        history = workspace.history
        if result.written:  # files just written are read again, and linted too
            history = load_history(script_directory(workspace.config), workspace.apps)
        labels = [app.label for app in apps]
        result.lint = find_unreviewed(history, labels, result.migrations)
        dialect = database_url(settings).get_backend_name()
        result.locks = lint_locks(history, labels, dialect, result.migrations)
    return result


def _unchanged() -> MakeMigrationsResult:
    return MakeMigrationsResult(
        [], [], False, "the migration history (unchanged since the last check)"
    )


def _autogenerate(
    workspace: Workspace,
    selected: list[AppConfig],
    name: str | None,
    write: bool,
    sources: Sources | None,
    cache: bool,
    questioner: Questioner,
) -> MakeMigrationsResult:
    """Compare the models with the history (`sources`: the digests of its files), or with
    the configured database (`sources` None: --from-db). With the cache, only the apps whose
    files changed and those they reach are compared (project.autogen.scope)."""
    from project.autogen import scope as scopes
    from project.backends.connections import database_url
    from project.engine.model_tables import require_migratable
    from project.engine.scratch import history_state

    settings = workspace.settings  # one history for all DATABASE_TARGETS, unless per dialect
    dialect = database_url(settings).get_backend_name()
    history = workspace.history
    record: scopes.Record | None = None
    facts: dict[str, scopes.AppRecord] = {}
    scope = scopes.everything("makemigrations --no-cache")
    if sources is not None and cache:
        record = scopes.read_record(settings)
        scope, facts = scopes.first_scope(record, sources, workspace.apps, _whole(workspace))
    if scope.compared is not None and not scope.compared:
        return _unchanged()  # the project's files changed, but nothing any app depends on
    models, scope = scopes.load_compared_models(workspace.apps, scope, record, dialect)
    targets = () if settings.migrations_per_dialect else settings.database_targets
    require_migratable(models, dialect, targets)
    planner = Planner(workspace, history, models, selected, name, write, questioner, scope=scope)
    if sources is None:
        with workspace.connect() as connection:
            _require_up_to_date(history, workspace.applied_rows(connection))
            scripts = _revision(workspace, connection, planner)
        compared_with, notes = "the configured database", []
    else:
        with history_state(workspace, cache=cache) as state:
            planner.on_renames = state.spoil
            scripts = _revision(workspace, state.connection, planner)
        compared_with, notes = f"the migration history ({state.description})", state.notes
        if planner.changed_apps is not None:
            scopes.write_record(
                settings,
                scopes.recorded(
                    record,
                    sources,
                    scope,
                    models,
                    planner.changed_apps,
                    facts,
                    workspace.apps,
                    dialect,
                ),
            )
    if write:
        format_files([Path(s.path) for s in scripts])
    ignored = sorted(set(planner.ignored))
    return MakeMigrationsResult(
        planner.planned, ignored, write and bool(planner.planned), compared_with, notes
    )


def _whole(workspace: Workspace) -> str | None:
    """A reason to compare every app that the files give: PROTECT_UNOWNED_TABLES off (what
    no app owns is compared too), or sequences in the history (compared database-wide)."""
    if not workspace.settings.protect_unowned_tables:
        return "PROTECT_UNOWNED_TABLES is off"
    if workspace.history.sequences():
        return "the history has sequences, compared database-wide"
    return None


def _revision(workspace: Workspace, connection: Connection, planner: Planner) -> Any:
    """Alembic's autogenerate on `connection`, shaped by the planner's hooks."""
    from project.autogen import writer as revisions

    options = planner.configure_options(connection.dialect.name)
    return revisions.autogenerate(workspace, connection, planner.process, options)


def _empty_migrations(
    workspace: Workspace, apps: list[AppConfig], name: str, write: bool
) -> MakeMigrationsResult:
    from project.autogen import writer as revisions

    history = workspace.history
    planned = []
    for app in apps:
        new = new_migration(
            history, app, name, changes=[], taken={m.revision for m in history.migrations}
        )
        planned.append(new)
        if write:
            leaf = history.leaf(app.label)
            revisions.empty(
                workspace,
                new.revision,
                revisions.MigrationTemplate(docstring(new), data=True),
                message=new.name,
                head=f"{app.label}@head" if leaf else "base",
                branch_label=None if leaf else app.label,
                version_path=str(app.migrations_dir),
            )
            format_files([new.path])
    return MakeMigrationsResult(planned, [], write)


def _require_up_to_date(history: History, version_rows: Sequence[str]) -> None:
    applied = history.applied(version_rows)
    missing = [m.key for m in history.migrations if m.revision not in applied]
    if missing:
        raise DatabaseError(
            f"The database is not up to date: {len(missing)} migration(s) not applied "
            f"({', '.join(missing)}). Run 'python manage.py migrate' first."
        )
