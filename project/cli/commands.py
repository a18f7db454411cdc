"""The built-in commands as Typer reads them: parse, call a service, render.

Heavy modules (SQLAlchemy, Alembic, the models) are imported inside the commands, so
`--help` stays fast. Return types are `object`: Typer resolves every annotation at run time.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from project.cli import output
from project.cli.runtime import Runtime
from project.errors import ProjectError, UsageError
from project.settings import SETTINGS_ENV_VAR


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed

        try:
            typer.echo(installed("manage-project"))
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("unknown (not installed)")
        raise typer.Exit


def global_options(
    ctx: typer.Context,
    settings: Annotated[
        str | None,
        typer.Option(
            "--settings",
            metavar="MODULE",
            help=f"Settings module, e.g. 'settings'. Default: ${SETTINGS_ENV_VAR}.",
        ),
    ] = None,
    verbosity: Annotated[
        int,
        typer.Option(
            "--verbosity", "-v", min=0, max=3, help="0 silent, 1 normal, 2 verbose, 3 very verbose."
        ),
    ] = 1,
    traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the full traceback of an error.")
    ] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Don't colour the output.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Options that every command takes, before or after its name (as in Django)."""
    runtime: Runtime = ctx.obj
    runtime.verbosity = verbosity
    runtime.traceback = traceback or verbosity >= 3
    runtime.terminal.no_color = no_color
    output.configure_logging(runtime.terminal, verbosity)


def makemigrations(
    ctx: typer.Context,
    app_labels: Annotated[
        list[str] | None,
        typer.Argument(metavar="[APP_LABEL]...", help="Only these apps (and what they need)."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", "-n", help="Name the migration instead of naming it from its operations."
        ),
    ] = None,
    empty: Annotated[
        bool,
        typer.Option("--empty", help="Write an empty migration, for operations written by hand."),
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit with status 1 if model changes are missing migrations; write nothing.",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show the migrations that would be made; write nothing."),
    ] = False,
    from_db: Annotated[
        bool,
        typer.Option(
            "--from-db",
            help="Compare the models with the configured database (which must be up to date), "
            "not with the migration history.",
        ),
    ] = False,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Replay the migration history anew, ignoring the cache."),
    ] = False,
    noinput: Annotated[
        bool,
        typer.Option(
            "--noinput", "--no-input", help="Ask nothing: an ambiguous change is an error."
        ),
    ] = False,
    rename: Annotated[
        list[str] | None,
        typer.Option(
            "--rename",
            metavar="APP.MODEL[.COLUMN]=NEW",
            help="Answer a rename question: pets.pet.sex=gender (column) or pets.pet=animal (table).",
        ),
    ] = None,
    no_rename: Annotated[
        list[str] | None,
        typer.Option(
            "--no-rename",
            metavar="APP.MODEL[.COLUMN]",
            help="Answer no: the column (or table) was removed, another one added.",
        ),
    ] = None,
    merge: Annotated[
        bool,
        typer.Option("--merge", help="Join diverged migrations of an app (two people's 0003s)."),
    ] = False,
    update: Annotated[
        bool,
        typer.Option(
            "--update",
            help="Fold the changes into each app's latest migration, if no database ran it.",
        ),
    ] = False,
    lint: Annotated[
        bool,
        typer.Option(
            "--lint",
            help="Exit with status 1 if a migration has destructive changes (marked !) and no "
            "allow_destructive = True, or, on PostgreSQL, an operation that blocks reads or "
            "writes of an existing table while it scans, rewrites or indexes it and no "
            "allow_blocking = True.",
        ),
    ] = False,
) -> object:
    """Create new migrations from the changes in the models: one file per changed app."""
    from project.services.makemigrations import makemigrations as make

    runtime: Runtime = ctx.obj
    labels = app_labels or []
    from project.autogen.questioner import Questioner, parse_renames

    questioner = Questioner(
        ask=None if noinput else runtime.terminal.ask,
        renames=parse_renames(rename or []),
        not_renames=set(no_rename or []),
    )
    if merge:
        return _merge(runtime, labels, write=not (check or dry_run), ask=not noinput)
    if update:
        from project.services.update import update_latest

        if empty or from_db or name:
            raise ProjectError("--update cannot be combined with --empty, --from-db or --name.", 2)
        result = update_latest(
            runtime.settings,
            labels,
            write=not (check or dry_run),
            cache=not no_cache,
            questioner=questioner,
            on_wait=lambda: output.render_write_wait(runtime.terminal),
        )
    else:
        result = make(
            runtime.settings,
            labels,
            name=name,
            empty=empty,
            write=not (check or dry_run),
            from_db=True if from_db else None,
            cache=not no_cache,
            questioner=questioner,
            lint=lint,
            on_wait=lambda: output.render_write_wait(runtime.terminal),
        )
    output.render_makemigrations(runtime.terminal, result, labels, runtime.verbosity)
    blocking = result.locks is not None and result.locks.failures
    if (check and result.migrations) or result.lint or blocking:
        raise typer.Exit(1)
    return result


def _merge(runtime: Runtime, labels: list[str], write: bool, ask: bool) -> object:
    from project.services.merge import Merge, merge

    term = runtime.terminal

    def confirm(proposed: Merge) -> bool:
        output.render_merge_branches(term, proposed)
        try:
            answer = term.ask("Do you want to merge these migration branches? [y/N] ")
        except EOFError:
            raise ProjectError(
                "makemigrations --merge asks before it writes, and there is no input to answer "
                "from: run 'makemigrations --merge --noinput' to merge without asking."
            ) from None
        return answer.strip().lower() in ("y", "yes")

    merges = merge(
        runtime.settings,
        labels,
        write=write,
        confirm=confirm if ask else None,
        on_wait=lambda: output.render_write_wait(term),
    )
    output.render_merges(term, merges, shown=ask and write)  # asked: the branches were shown
    return merges


def migrate(
    ctx: typer.Context,
    app_label: Annotated[
        str | None, typer.Argument(help="Only this app (and what it depends on).")
    ] = None,
    migration_name: Annotated[
        str | None,
        typer.Argument(
            help="Go forward or back to this migration (a unique prefix will do), or 'zero' to unapply all."
        ),
    ] = None,
    plan: Annotated[
        bool, typer.Option("--plan", help="Show what would be done, and change nothing.")
    ] = False,
    fake: Annotated[
        bool,
        typer.Option(
            "--fake", help="Record the migrations as applied (or unapplied) without running them."
        ),
    ] = False,
    fake_initial: Annotated[
        bool,
        typer.Option(
            "--fake-initial",
            help="Record an app's initial migration as applied when all its tables exist already "
            "(adopting an existing database).",
        ),
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Forget applied migrations whose files are gone (in the version table and the history).",
        ),
    ] = False,
    check_unapplied: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit with status 1 if there are unapplied migrations (listed); apply nothing.",
        ),
    ] = False,
    skip_checks: Annotated[
        bool,
        typer.Option(
            "--skip-checks",
            help="Skip the check for missing cross-app dependencies (conflicts are still refused).",
        ),
    ] = False,
    noinput: Annotated[
        bool,
        typer.Option(
            "--noinput",
            "--no-input",
            help="Ask nothing (migrate never asks; for Django's scripts).",
        ),
    ] = False,
) -> object:
    """Apply (or unapply) migrations, one transaction per migration."""
    from project.services import migrate as service

    runtime: Runtime = ctx.obj
    term = runtime.terminal
    if check_unapplied:
        planned = service.plan_migrate(
            runtime.settings, app_label, migration_name, checks=not skip_checks
        )
        output.render_unapplied(term, planned)
        if planned.steps:
            raise typer.Exit(1)
        return planned
    if prune:
        pruned = service.prune(runtime.settings, on_lock_wait=lambda: output.render_lock_wait(term))
        output.render_pruned(term, pruned)
        return pruned
    if plan:
        planned = service.plan_migrate(
            runtime.settings, app_label, migration_name, checks=not skip_checks
        )
        output.render_migrate_plan(term, service.marked_steps(runtime.settings, planned.steps))
        return planned
    quiet = runtime.verbosity == 0
    with _stop_between_migrations(lambda: output.render_stopping(term)) as stop_requested:
        return service.migrate(
            runtime.settings,
            app_label,
            migration_name,
            before_run=None if quiet else lambda p: output.render_migrate_heading(term, p),
            progress=None
            if quiet
            else lambda event, step: output.render_migrate_progress(term, event, step),
            on_lock_wait=lambda: output.render_lock_wait(term),
            on_lock_retry=None if quiet else lambda retry: output.render_lock_retry(term, retry),
            stop_requested=stop_requested,
            fake=fake,
            fake_initial=fake_initial,
            checks=not skip_checks,
        )


@contextmanager
def _stop_between_migrations(on_first: Callable[[], None]) -> Iterator[Callable[[], bool]]:
    """The first Ctrl+C or SIGTERM asks migrate to stop after the migration in progress;
    a second one stops at once (KeyboardInterrupt)."""
    requested = False

    def handle(signum: int, frame: object) -> None:
        nonlocal requested
        if requested:
            raise KeyboardInterrupt
        requested = True
        on_first()

    if threading.current_thread() is not threading.main_thread():
        yield lambda: False  # signals reach only the main thread
        return
    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: requested
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def showmigrations(
    ctx: typer.Context,
    app_labels: Annotated[
        list[str] | None, typer.Argument(metavar="[APP_LABEL]...", help="Only these apps.")
    ] = None,
    plan: Annotated[
        bool,
        typer.Option(
            "--plan", "-p", help="All migrations in the order they apply, with their dependencies."
        ),
    ] = False,
    as_list: Annotated[
        bool, typer.Option("--list", "-l", help="Each app's migrations (the default).")
    ] = False,
) -> object:
    """Show each app's migrations: [X] applied, [ ] not applied."""
    from project.services import showmigrations as service

    runtime: Runtime = ctx.obj
    if plan and as_list:
        raise UsageError("--list and --plan show different things: choose one.")
    if plan:
        statuses = service.migration_plan(runtime.settings, app_labels or [])
        output.render_migration_plan(runtime.terminal, statuses)
        return statuses
    apps = service.showmigrations(runtime.settings, app_labels or [])
    output.render_showmigrations(runtime.terminal, apps, runtime.verbosity)
    return apps


def check(
    ctx: typer.Context,
    drift: Annotated[
        bool,
        typer.Option(
            "--drift",
            help="Also compare the live database with what its applied migrations say it should be.",
        ),
    ] = False,
) -> object:
    """Check the project: settings, models and migrations load, no conflicts, no missing
    cross-app dependencies, no model changes without a migration (and, with --drift, the
    live database)."""
    from project.services.check import check as run_check

    runtime: Runtime = ctx.obj
    result = run_check(runtime.settings, drift=drift)
    output.render_check(runtime.terminal, result)
    if not result.ok:
        raise typer.Exit(1)
    return result


def squashmigrations(
    ctx: typer.Context,
    app_label: Annotated[str, typer.Argument(help="The app whose migrations to squash.")],
    start_migration_name: Annotated[
        str,
        typer.Argument(help="The first migration of the range, or the last if END is not given."),
    ],
    end_migration_name: Annotated[
        str | None,
        typer.Argument(help="The last migration of the range (default: the app's first to START)."),
    ] = None,
    squashed_name: Annotated[
        str | None,
        typer.Option("--squashed-name", help="Name the squashed migration (after its number)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show it; write nothing.")] = False,
    noinput: Annotated[
        bool,
        typer.Option(
            "--noinput",
            "--no-input",
            help="Ask nothing (squashmigrations never asks; for Django's scripts).",
        ),
    ] = False,
) -> object:
    """Squash a range of an app's migrations into one, which replaces them."""
    from project.services.squashmigrations import squashmigrations as squash

    runtime: Runtime = ctx.obj
    if end_migration_name is None:
        start, end = None, start_migration_name
    else:
        start, end = start_migration_name, end_migration_name
    result = squash(
        runtime.settings,
        app_label,
        start,
        end,
        name=squashed_name,
        write=not dry_run,
        on_wait=lambda: output.render_write_wait(runtime.terminal),
    )
    output.render_squash(runtime.terminal, result, runtime.verbosity)
    return result


def sqlmigrate(
    ctx: typer.Context,
    app_label: Annotated[str, typer.Argument(help="The migration's app.")],
    migration_name: Annotated[str, typer.Argument(help="The migration (a unique prefix will do).")],
    backwards: Annotated[
        bool, typer.Option("--backwards", help="The SQL that unapplies it.")
    ] = False,
) -> object:
    """Print the SQL a migration runs, in the configured database's dialect."""
    from project.services.sqlmigrate import sqlmigrate as render

    runtime: Runtime = ctx.obj
    sql = render(runtime.settings, app_label, migration_name, backwards)
    runtime.terminal.out(sql, end="")
    return sql


def startproject(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The project's name: a Python identifier.")],
    directory: Annotated[
        Path | None,
        typer.Argument(help="Where to write it (created, or empty). Default: ./NAME."),
    ] = None,
) -> object:
    """Create a new project: manage.py, settings.py, migrations/ and apps/."""
    from project.services.startproject import startproject as create

    runtime: Runtime = ctx.obj
    created = create(name, directory)
    output.render_startproject(runtime.terminal, created)
    return created


def inspectdb(
    ctx: typer.Context,
    tables: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[TABLE]...",
            help="Only these tables (default: every table no installed app owns).",
        ),
    ] = None,
) -> object:
    """Print models for the database's tables that no app owns, to paste into an app's
    models.py (adopting a legacy database)."""
    from project.services.inspectdb import inspectdb as inspect

    runtime: Runtime = ctx.obj
    result = inspect(runtime.settings, tables or [])
    output.render_inspectdb(runtime.terminal, result)
    return result


def flushstate(ctx: typer.Context) -> object:
    """Drop the cached migration-history states: .manage_cache/ and, on a server, every
    scratch database mstate_* no run is using (copies of migration histories, not data)."""
    from project.services.flushstate import flushstate as flush

    runtime: Runtime = ctx.obj
    cleared = flush(runtime.settings)
    output.render_flushstate(runtime.terminal, cleared)
    return cleared


def startapp(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="The app's name (and label): a lower-case identifier.")
    ],
) -> object:
    """Create a new app in apps/NAME: models, migrations and commands."""
    from project.services.startapp import startapp as create

    runtime: Runtime = ctx.obj
    app = create(runtime.settings, name)
    output.render_startapp(runtime.terminal, app)
    return app
