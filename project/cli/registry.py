"""The command-line app: built-in commands, the commands installed apps ship, and
calling any command from Python.

An app's commands are the modules of its `commands` package (Django's
`management/commands/`): `apps/pets/commands/importpets.py` is `manage.py importpets`,
and its function `command` (typed parameters, as Typer reads them) does the work.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from project.backends.event_loop import run_command
from project.cli.runtime import Runtime
from project.errors import ProjectError, SettingsError, UsageError

if TYPE_CHECKING:
    from project.settings import Settings

PROG_NAME = "manage.py"
COMMANDS_PACKAGE = "commands"
COMMAND_FUNCTION = "command"


@dataclass(frozen=True)
class AppCommand:
    app_label: str
    name: str
    module: str

    def load(self) -> Callable[..., Any]:
        return _load(self.module)


def discover_app_commands(runtime: Runtime) -> Iterator[AppCommand]:
    """Each installed app's commands, in settings order; a module that fails to import
    becomes a command that explains the failure when run."""
    from project.apps import get_app_configs

    for app in get_app_configs(runtime.settings):
        package = f"{app.name}.{COMMANDS_PACKAGE}"
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for module in pkgutil.iter_modules(spec.submodule_search_locations):
            if not module.name.startswith("_"):
                yield AppCommand(app.label, module.name, f"{package}.{module.name}")


def build_app(runtime: Runtime, only: str | None = None) -> typer.Typer:
    """The command-line app; with `only`, just that command (what a run needs: building
    every command means importing every app's command module and reading its hints)."""
    from project.cli.commands import global_options

    builtins = _builtin_commands()
    app_commands, settings_problem = ([], None) if only in builtins else safe_app_commands(runtime)
    if only in builtins or any(command.name == only for command in app_commands):
        builtins = {name: function for name, function in builtins.items() if name == only}
        app_commands = [command for command in app_commands if command.name == only]
    epilog = f"Only built-in commands are listed: {settings_problem}" if settings_problem else None
    app = typer.Typer(
        name=PROG_NAME,
        cls=_Group,
        help="Manage this project's database schema, Django-style, on Alembic.",
        epilog=epilog,
        no_args_is_help=True,
        add_completion=False,
        # Plain help: rich's rendering costs more start-up time than the rest of --help.
        rich_markup_mode=None,
        pretty_exceptions_enable=False,  # its tracebacks show local variables, passwords included
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(global_options)
    for function in builtins.values():
        app.command(rich_help_panel="Migrations")(function)
    for command in app_commands:
        app.command(name=command.name, rich_help_panel=f"App '{command.app_label}'")(command.load())
    return app


def _builtin_commands() -> dict[str, Callable[..., Any]]:
    from project.cli import commands

    functions = (
        commands.makemigrations,
        commands.migrate,
        commands.showmigrations,
        commands.squashmigrations,
        commands.sqlmigrate,
        commands.startproject,
        commands.startapp,
        commands.inspectdb,
        commands.check,
        commands.flushstate,
    )
    return {function.__name__: function for function in functions}


class _Group(typer.core.TyperGroup):
    """Lists commands under headings, built-ins first, then each app's (as Django's help)."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        commands = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in commands if command and not command.hidden]
        if not shown:
            return
        width = formatter.width - 6 - max(len(name) for name, _ in shown)
        sections: dict[str, list[tuple[str, str]]] = {}
        for name, command in shown:
            heading = getattr(command, "rich_help_panel", None) or "Commands"
            sections.setdefault(heading, []).append((name, command.get_short_help_str(width)))
        for heading, rows in sections.items():
            with formatter.section(heading):
                formatter.write_dl(rows)


def call_command(
    name: str, *args: Any, settings: str | None = None, verbosity: int = 1, **options: Any
) -> Any:
    """Run a command as `manage.py name args...` would, and return what it returns.

    `options` set parameters by name (`call_command("migrate", "pets", "zero", plan=True)`).
    Errors raise `ProjectError`; a command that ends with a non-zero status raises SystemExit.
    """
    runtime = Runtime(settings_module=settings, verbosity=verbosity)
    group = typer.main.get_command(build_app(runtime, only=name))
    command = getattr(group, "commands", {}).get(name)
    if command is None:
        raise UsageError(f"Unknown command: '{name}'.")
    unknown = set(options) - {param.name for param in command.params}
    if unknown:
        raise UsageError(f"Unknown option(s) for '{name}': {', '.join(sorted(unknown))}.")
    parent = typer.Context(group, info_name="manage.py", obj=runtime)
    try:
        with command.make_context(name, [str(arg) for arg in args], parent=parent) as context:
            context.params.update(options)
            return run_command(
                lambda: runtime.settings.database_url, lambda: command.invoke(context)
            )
    except typer.Exit as exit_:
        if exit_.exit_code:
            raise SystemExit(exit_.exit_code) from None
        return None
    except typer.TyperException as exc:
        format_message = getattr(exc, "format_message", None)
        raise UsageError(format_message() if format_message else str(exc)) from exc


def setup(settings_module: str | None = None) -> Settings:
    """Choose this process's settings, as `django.setup()`: the argument, else
    $MANAGE_SETTINGS_MODULE, else `settings` importable from the current folder (as
    manage.py does); then import every app's models, so that model errors show here and
    the models are ready to use. Returns the settings."""
    from project.apps import get_app_configs
    from project.engine.model_tables import load_models
    from project.settings import choose_settings

    settings = choose_settings(settings_module)
    load_models(get_app_configs(settings))
    return settings


def _load(module_name: str) -> Callable[..., Any]:
    try:
        module = importlib.import_module(module_name)
        function = getattr(module, COMMAND_FUNCTION)
    except Exception as exc:  # noqa: BLE001 - reported when the command runs, not at start-up
        from project.tracebacks import where

        problem = f"Cannot load command module '{module_name}' ({where(exc)}): {type(exc).__name__}: {exc}"
        return _failing(problem)
    if not callable(function):
        return _failing(f"'{module_name}.{COMMAND_FUNCTION}' is not a function.")
    return _noted_as_user_code(function)


def _noted_as_user_code(function: Callable[..., Any]) -> Callable[..., Any]:
    """The app's function, which, once run, makes the process leave the normal way
    (project.process): its objects may own files, threads or connections."""
    import functools

    from project.process import note_user_code

    @functools.wraps(function)  # Typer reads the parameters through __wrapped__
    def command(*args: Any, **kwargs: Any) -> Any:
        note_user_code()
        return function(*args, **kwargs)

    return command


def _failing(problem: str) -> Callable[[], None]:
    def command() -> None:
        raise ProjectError(problem)

    command.__doc__ = f"(cannot be loaded: {problem})"
    return command


def safe_app_commands(runtime: Runtime) -> tuple[list[AppCommand], str | None]:
    """The app commands, or none and the reason when the settings cannot be loaded."""
    try:
        return list(discover_app_commands(runtime)), None
    except SettingsError as exc:
        return [], str(exc)
