"""`python manage.py COMMAND`: parse, call a service, render; errors become one line.

Only this module exits the process. Heavy modules (SQLAlchemy, Alembic, the models) are
imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, NoReturn

import typer

from project import output
from project.errors import ProjectError
from project.management import safe_app_commands
from project.runtime import Runtime
from project.settings import SETTINGS_ENV_VAR

PROG_NAME = "manage.py"
_VALUED_GLOBALS = ("--settings", "--verbosity", "-v")
_FLAG_GLOBALS = ("--traceback", "--no-color")


def build_app(runtime: Runtime) -> typer.Typer:
    commands, settings_problem = safe_app_commands(runtime)
    epilog = f"Only built-in commands are listed: {settings_problem}" if settings_problem else None
    app = typer.Typer(
        name=PROG_NAME,
        help="Manage this project's database schema, Django-style, on Alembic.",
        epilog=epilog,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,  # its tracebacks show local variables, passwords included
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(global_options)
    for builtin in (makemigrations, migrate, showmigrations):
        app.command(rich_help_panel="Migrations")(builtin)
    for command in commands:
        app.command(name=command.name, rich_help_panel=f"App '{command.app_label}'")(
            command.function
        )
    return app


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
) -> None:
    """Options that every command takes, before or after its name (as in Django)."""
    runtime: Runtime = ctx.obj
    runtime.verbosity = verbosity
    runtime.traceback = traceback or verbosity >= 3
    runtime.terminal.no_color = no_color
    output.configure_logging(verbosity)


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
) -> object:
    """Create new migrations from the changes in the models: one file per changed app."""
    # Return types are `object`: Typer resolves every annotation at run time.
    from project.services.makemigrations import makemigrations as make

    runtime: Runtime = ctx.obj
    labels = app_labels or []
    result = make(runtime.settings, labels, name=name, empty=empty, write=not (check or dry_run))
    output.render_makemigrations(runtime.terminal, result, labels, runtime.verbosity)
    if check and result.migrations:
        raise typer.Exit(1)
    return result


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
) -> object:
    """Apply (or unapply) migrations, one transaction per migration."""
    from project.services import migrate as service

    runtime: Runtime = ctx.obj
    term = runtime.terminal
    if plan:
        planned = service.plan_migrate(runtime.settings, app_label, migration_name)
        output.render_migrate_plan(term, planned)
        return planned
    quiet = runtime.verbosity == 0
    return service.migrate(
        runtime.settings,
        app_label,
        migration_name,
        before_run=None if quiet else lambda p: output.render_migrate_heading(term, p),
        progress=None
        if quiet
        else lambda event, step: output.render_migrate_progress(term, event, step),
    )


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
) -> object:
    """Show each app's migrations: [X] applied, [ ] not applied."""
    from project.services import showmigrations as service

    runtime: Runtime = ctx.obj
    if plan:
        statuses = service.migration_plan(runtime.settings, app_labels or [])
        output.render_migration_plan(runtime.terminal, statuses)
        return statuses
    apps = service.showmigrations(runtime.settings, app_labels or [])
    output.render_showmigrations(runtime.terminal, apps)
    return apps


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """Move the global options found after the command name to the front, so that
    `manage.py migrate --settings=x -v 2` works as in Django."""
    hoisted: list[str] = []
    rest: list[str] = []
    items = list(args)
    index = 0
    while index < len(items):
        arg = items[index]
        if arg == "--":
            rest.extend(items[index:])
            break
        if arg in _FLAG_GLOBALS or arg.startswith(tuple(f"{o}=" for o in _VALUED_GLOBALS[:2])):
            hoisted.append(arg)
        elif arg in _VALUED_GLOBALS and index + 1 < len(items):
            hoisted.extend(items[index : index + 2])
            index += 1
        elif arg.startswith("-v") and arg[2:].isdigit():
            hoisted.append(arg)
        else:
            rest.append(arg)
        index += 1
    return hoisted + rest


def _option_value(args: Sequence[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(f"{name}="):
            return arg.partition("=")[2]
    return None


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args = hoist_global_options(sys.argv[1:] if argv is None else argv)
    runtime = Runtime(
        settings_module=_option_value(args, "--settings"), traceback="--traceback" in args
    )
    try:
        build_app(runtime)(args=args, prog_name=PROG_NAME, obj=runtime)
    except ProjectError as exc:
        _fail(runtime, exc, str(exc), exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - a bug or an unexpected failure: still one line
        _fail(
            runtime, exc, f"{type(exc).__name__}: {exc} (run again with --traceback for details)", 1
        )
    sys.exit(0)


def _fail(runtime: Runtime, exc: BaseException, message: str, code: int) -> NoReturn:
    if runtime.traceback:
        output.render_traceback(runtime.terminal, exc)
    output.render_error(
        runtime.terminal, message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    )
    sys.exit(code)
