"""`python manage.py COMMAND`: the process entry point. Errors become one line and an exit code.

Only this module exits the process.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from project import process
from project.backends.event_loop import run_command
from project.cli import output
from project.cli.registry import PROG_NAME, build_app
from project.cli.runtime import Runtime
from project.errors import ProjectError

_VALUED_GLOBALS = ("--settings", "--verbosity", "-v")
_FLAG_GLOBALS = ("--traceback", "--no-color", "--version")


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


def expand_help(args: Sequence[str]) -> list[str]:
    """Django's `manage.py help [COMMAND]`: the same as `manage.py [COMMAND] --help`."""
    items = list(args)
    if command_name(items) != "help":
        return items
    index = items.index("help")
    rest = [arg for arg in items[index + 1 :] if arg not in ("-h", "--help")]
    return items[:index] + rest[:1] + ["--help"]


def command_name(args: Sequence[str]) -> str | None:
    """The command asked for, once global options are in front (None for the main help)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _VALUED_GLOBALS:
            skip = True
        elif arg in ("-h", "--help"):
            return None
        elif not arg.startswith("-"):
            return arg
    return None


def _option_value(args: Sequence[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(f"{name}="):
            return arg.partition("=")[2]
    return None


def execute_from_command_line(prog_name: str = PROG_NAME) -> NoReturn:
    """manage.py's entry point: `main()` on sys.argv, then leave at once (`leave`)."""
    # Alembic imports Mako, whose import loads Pygments (25-40 ms here) to colour HTML error
    # pages we never render; without the plugin it falls back to plain text.
    sys.modules.setdefault("mako.ext.pygmentplugin", None)  # type: ignore[arg-type]
    # A command builds long-lived objects by the hundred thousand (modules, models, reflected
    # tables) and little cyclic garbage: at Python's default thresholds the collector walks
    # them some 1,500 times, a fifth of a 1000-table comparison (2.7 of 11 s measured here).
    # Memory stays the same (218 MB either way); mypy tunes its collector the same way.
    gc.set_threshold(50_000, 20, 100)
    try:
        main(prog_name=prog_name)
    except SystemExit as done:
        leave(done.code)


def leave(code: str | int | None) -> NoReturn:
    """Exit without Python's interpreter teardown: once SQLAlchemy and Alembic are loaded it
    alone takes 0.1-0.2 s (measured here), a fifth of a typical command. What exiting must
    do still happens: engines close their connections, atexit handlers run, output is
    flushed. The normal exit is taken once user code ran (project.process: its objects are
    then finalised, e.g. a file it never closed is flushed), and while other threads run
    (they are waited for). A cut stdout (`| head -1`) exits with BROKEN_PIPE_STATUS."""
    if isinstance(code, str):  # sys.exit("message"): Python prints it and exits with 1
        print(code, file=sys.stderr)
    status = 1 if isinstance(code, str) else code or 0
    cut = _flush_output() or output.stdout_was_cut()
    if (status == 0 and cut) or (status == 1 and _click_saw_a_broken_pipe()):
        status = output.BROKEN_PIPE_STATUS  # a failure's own status stays
    threading = sys.modules.get("threading")
    if process.user_code_ran() or (threading is not None and threading.active_count() > 1):
        sys.exit(status)
    database = sys.modules.get("project.backends.connections")
    if database is not None:
        database.dispose_engines()
    atexit._run_exitfuncs()
    _flush_output()
    os._exit(status)


def _flush_output() -> bool:
    """Flush stdout and stderr; True when stdout's reader had gone (what is left goes nowhere)."""
    cut = False
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            output.cut_stream(stream)
            cut = cut or stream is sys.stdout
        except (OSError, ValueError):  # closed: nothing more can be said
            pass
    return cut


def _click_saw_a_broken_pipe() -> bool:
    """Click (Typer's) ends a command whose output pipe broke (a user's print) with status
    1, having wrapped the streams in its PacifyFlushWrapper (by name: Typer vendors Click)."""
    return type(sys.stdout).__name__ == "PacifyFlushWrapper"


def manage_project() -> NoReturn:
    """The `manage-project` console script (Django's django-admin): startproject, and any
    command of a project named by --settings or MANAGE_SETTINGS_MODULE."""
    execute_from_command_line("manage-project")


def main(argv: Sequence[str] | None = None, prog_name: str = PROG_NAME) -> NoReturn:
    # No command: the help, on stdout, as `manage.py --help` (as Django's manage.py does).
    args = expand_help(hoist_global_options(sys.argv[1:] if argv is None else argv) or ["--help"])
    runtime = Runtime(
        settings_module=_option_value(args, "--settings"), traceback="--traceback" in args
    )
    try:
        run_command(
            lambda: runtime.settings.database_url,
            lambda: build_app(runtime, only=command_name(args))(
                args=args, prog_name=prog_name, obj=runtime
            ),
        )
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
