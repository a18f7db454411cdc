"""The only code that writes to the terminal: results to stdout; errors and logs to stderr.

Every line passes through `redact`, so a database password never reaches the screen.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from project.autogen.describe import Change
    from project.autogen.lint import LockLint
    from project.autogen.locks import Lock
    from project.engine.history import Migration
    from project.engine.lock_waits import LockRetry
    from project.engine.recorder import Record
    from project.engine.runner import Step
    from project.engine.scratch import ClearedStates
    from project.services.check import CheckResult
    from project.services.inspectdb import Inspection
    from project.services.makemigrations import MakeMigrationsResult
    from project.services.merge import Merge
    from project.services.migrate import Plan
    from project.services.showmigrations import AppStatus, MigrationStatus
    from project.services.squashmigrations import SquashResult
    from project.services.startapp import NewApp
    from project.services.startproject import NewProject

# Styles, as click.style (typer.style) arguments; colour only on a terminal, never with --no-color.
Style = Mapping[str, Any]
HEADING: Style = {"bold": True}
SUCCESS: Style = {"fg": "green"}
ERROR: Style = {"fg": "red"}
WARNING: Style = {"fg": "yellow"}
MIN_SECRET_LENGTH = 3


# 128 + SIGPIPE: what a shell reports for `cat` or `grep` whose reader went away.
BROKEN_PIPE_STATUS = 141
_cut_streams: set[int] = set()  # file descriptors whose reader went away (process-wide)


def cut_stream(stream: Any) -> None:
    """The reader of `stream` went away (`showmigrations | head -1`): what is still written
    there goes nowhere, and the command carries on to its end (a migrate is never left
    half-done because its output was cut)."""
    try:
        descriptor = stream.fileno()
    except (OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)
    _cut_streams.add(descriptor)


def stdout_was_cut() -> bool:
    return bool(_cut_streams) and sys.stdout is not None and _fileno(sys.stdout) in _cut_streams


def _fileno(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return None


class Terminal:
    def __init__(self, *, no_color: bool = False) -> None:
        self.no_color = no_color or bool(os.environ.get("NO_COLOR"))
        self._secrets: set[str] = set()
        self._open_line: str | None = None  # text of a line not ended yet ("  Applying x...")
        self._broken_line: str | None = None  # such a line, cut by a message on a terminal

    def hide(self, secret: str | None) -> None:
        if secret and len(secret) >= MIN_SECRET_LENGTH:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def out(self, text: str = "", style: Style | None = None, end: str = "\n") -> None:
        if self._broken_line is not None:  # an error message cut the line: start it again
            self._echo(self._broken_line, None, "", err=False)
            self._broken_line = None
        self._echo(text, style, end, err=False)
        self._open_line = None if end.endswith("\n") else (self._open_line or "") + text + end

    def err(self, text: str, style: Style | None = None) -> None:
        if self._open_line is not None and sys.stdout.isatty():  # same screen: don't glue lines
            self._echo("", None, "\n", err=False)
            self._broken_line, self._open_line = self._open_line, None
        self._echo(text, style, "\n", err=True)

    def ask(self, prompt: str) -> str:
        """A question on stderr, the answer from stdin (EOFError when there is none)."""
        self._echo(prompt, None, "", err=True)
        line = sys.stdin.readline()
        if not line:
            self._echo("", None, "\n", err=True)  # the prompt's line, left open
            raise EOFError
        return line.rstrip("\n")

    def close_line(self, text: str, style: Style | None = None) -> None:
        """End a line left open by a progress message ("  Applying x..." + " FAILED")."""
        if self._open_line is not None or self._broken_line is not None:
            self.out(text, style=style)

    def _echo(self, text: str, style: Style | None, end: str, err: bool) -> None:
        import typer

        message = self.redact(text)
        if style:
            message = typer.style(message, **style)
        try:
            typer.echo(message + end, nl=False, err=err, color=False if self.no_color else None)
        except BrokenPipeError:
            cut_stream(sys.stderr if err else sys.stdout)


def configure_logging(term: Terminal, verbosity: int) -> None:
    """Alembic's own log lines (which migration runs, which DDL mode) at verbosity 3,
    through the terminal's redaction like everything else."""
    if verbosity >= 3:
        handler = _TerminalHandler(term)
        handler.setFormatter(logging.Formatter("%(levelname)s [%(name)s] %(message)s"))
        logger = logging.getLogger("alembic")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


class _TerminalHandler(logging.Handler):
    def __init__(self, term: Terminal) -> None:
        super().__init__()
        self.term = term

    def emit(self, record: logging.LogRecord) -> None:
        self.term.err(self.format(record))


# makemigrations


def render_makemigrations(
    term: Terminal, result: MakeMigrationsResult, labels: Iterable[str], verbosity: int
) -> None:
    from project.tracebacks import display_path

    for note in result.notes:
        term.err(f"Note: {note}", style=WARNING)
    if verbosity >= 2 and result.compared_with:
        term.out(f"Compared the models with {result.compared_with}.")
    if verbosity >= 1 and not result.migrations:
        labels = list(labels)
        if len(labels) == 1:
            term.out(f"No changes detected in app '{labels[0]}'")
        elif labels:
            term.out(f"No changes detected in apps {', '.join(repr(label) for label in labels)}")
        else:
            term.out("No changes detected")
    shown_app = None  # an app's migrations under one heading, as Django's
    for migration in result.migrations if verbosity >= 1 else []:
        if migration.app_label != shown_app:
            term.out(f"Migrations for '{migration.app_label}':", style=HEADING)
            shown_app = migration.app_label
        term.out(f"  {display_path(migration.path)}")
        for change in migration.changes:
            term.out(f"  {change.marked}")
            for note in change.notes:
                term.out(f"      {note}")
        for revision in migration.depends_on if verbosity >= 2 else []:
            term.out(f"    (depends on {revision})")
    if result.locks is not None:
        render_lock_lint(term, result.locks)
    if result.lint:
        term.out(
            "Destructive changes not marked as reviewed (add allow_destructive = True to the file):",
            style=ERROR,
        )
        for finding in result.lint:
            term.out(f"  {finding.migration}")
            for change in finding.changes:
                term.out(f"  {change.marked}")
    if verbosity >= 2 and result.ignored_tables:
        term.out(
            f"Ignored {len(result.ignored_tables)} table(s) that no installed app owns "
            f"(PROTECT_UNOWNED_TABLES is on): {', '.join(result.ignored_tables)}"
        )


def render_lock_lint(term: Terminal, lint: LockLint) -> None:
    """The locks of the new migrations and of every failing one, per operation; then the
    verdict and the changes the running release would notice (warnings, on stderr)."""
    for warning in lint.incompatible:
        term.err(
            f"Warning: {warning.migration} {warning.advice} (Set allow_destructive = True once "
            "reviewed.)",
            style=WARNING,
        )
    shown = [r for r in lint.reports if any(lock.shown for _, lock in r.operations)]
    if shown and not any(lock.applies for r in shown for _, lock in r.operations):  # SQLite
        term.out(
            f"Locks taken on {lint.dialect}: n/a (a migration write-locks the database file, "
            "but SQLite is embedded: there is no server traffic to keep waiting)."
        )
        shown = []
    elif shown:
        term.out(f"Locks taken on {lint.dialect}:", style=HEADING)
    for report in shown:
        accepted = " (allow_blocking = True)" if report.accepted and report.blocking else ""
        term.out(f"  {report.migration}{accepted}")
        for change, lock in report.operations:
            if lock.shown:
                term.out(f"    {change}")
                term.out(f"      {'!' if lock.blocking else ' '} lock: {lock}")
    if lint.rewrites:
        count = lint.rewrites
        term.out(
            f"{count} operation{'s' if count > 1 else ''} rewrite{'' if count > 1 else 's'} the table."
        )
    failures = lint.failures
    if failures:
        count = sum(len(r.blocking) for r in failures)
        term.out(
            f"{count} operation{'s' if count > 1 else ''} (marked !) block{'' if count > 1 else 's'} "
            "reads or writes of an existing table for longer than a moment, in "
            f"{', '.join(r.migration for r in failures)}: use the lock-safe form, or add "
            "allow_blocking = True to the file once accepted.",
            style=ERROR,
        )


def render_squash(term: Terminal, result: SquashResult, verbosity: int) -> None:
    from project.tracebacks import display_path

    if verbosity < 1:
        return
    migration = result.migration
    term.out(
        f"Squashed {len(result.replaces)} migrations of '{migration.app_label}' into:",
        style=HEADING,
    )
    term.out(f"  {display_path(migration.path)}")
    for change in migration.changes:
        term.out(f"  {change.marked}")
    term.out(
        "It replaces them: databases that applied them keep working. Once every database has "
        "migrated past them, delete their files."
    )


def render_merge_branches(term: Terminal, merge: Merge) -> None:
    term.out(f"Merging {merge.app_label}", style=HEADING)
    for branch in merge.branches:
        term.out(f"  Branch {branch.leaf.name}")
        for migration, changes in branch.changes:
            for change in changes:
                term.out(f"  {change.marked}  ({migration.name})")


def render_merges(term: Terminal, merges: list[Merge], shown: bool) -> None:
    from project.tracebacks import display_path

    if not merges:
        term.out("No conflicts detected to merge.")
    for merge in merges:
        if not shown:
            render_merge_branches(term, merge)
        if merge.migration is not None:
            term.out(f"Created new merge migration {display_path(merge.migration.path)}")
        elif shown:  # asked, and the answer was no
            term.out(f"Nothing written: app '{merge.app_label}' keeps its diverged migrations.")


# migrate


def render_unapplied(term: Terminal, plan: Plan) -> None:
    """`migrate --check`: what is not applied (Django prints nothing; a list says more)."""
    if not plan.steps:
        term.out("No unapplied migrations.")
        return
    word = "migration" if len(plan.steps) == 1 else "migrations"
    term.out(f"{len(plan.steps)} unapplied {word}:", style=HEADING)
    for step in plan.steps:
        term.out(f"  {step.migration.key}{'' if step.forward else ' (to unapply)'}")


def render_migrate_heading(term: Terminal, plan: Plan) -> None:
    render_changed(term, plan.changed)
    for migration in plan.accepted:
        term.out(f"Accepted the changed file of {migration.key} as applied (--fake).")
    if plan.adopted:
        revisions = ", ".join(f"'{revision}'" for revision in plan.adopted)
        term.out(
            f"Adopted the database of a plain Alembic history at revision {revisions}: its "
            "schema matches the apps' initial migrations, which are recorded in its place "
            "(the old revision is kept in manage_migrations)."
        )
    for migration, done, outcome in plan.partial:
        listed = "; ".join(f"{i}. {d}" for i, d in enumerate(done, 1)) or "none"
        if outcome is None:
            then = "It cannot carry on from there as things are: the reason follows when it is reached."
        elif outcome.afresh:
            then = "The database shows none of them now (undone by hand): it runs from the start."
        elif outcome.failed:
            then = (
                f"Operation {outcome.done + 1} failed without applying: carrying on with it."
                if outcome.done
                else "Its first operation failed without applying: it runs from the start."
            )
        elif outcome.done:
            then = "Carrying on after them (the one in flight is checked in the database)."
        else:
            then = "Carrying on with the first (checked in the database)."
        term.out(
            f"An earlier migrate stopped partway through {migration.key}. Its operations "
            f"completed: {listed}. {then}"
        )
    term.out("Operations to perform:", style=HEADING)
    term.out(f"  {plan.summary}")
    if plan.dependants:
        keys = ", ".join(m.key for m in plan.dependants)
        term.out(
            f"  Also unapplying, first, the migrations of other apps that depend on it: {keys}"
        )
    term.out("Running migrations:", style=HEADING)
    if not plan.steps:
        term.out("  No migrations to apply.")


def render_migrate_progress(term: Terminal, event: str, step: Step) -> None:
    if event == "start":
        verb = "Applying" if step.forward else "Unapplying"
        resumed = step.resumed
        note = ""
        if resumed and resumed.afresh:
            note = " (from the start: what an earlier run did of it was undone)"
        elif resumed:
            note = f" (carrying on after operation {resumed.done})" if resumed.done else ""
        term.out(f"  {verb} {step.migration.key}{note}...", end="")
    else:
        term.out(" FAKED" if event == "faked" else " OK", style=SUCCESS)


def render_lock_retry(term: Terminal, retry: LockRetry) -> None:
    """Ends the migration's open progress line; it starts again on the retry."""
    term.close_line(" lock timeout", style=WARNING)
    term.out(f"  {retry.line()}", style=WARNING)


def render_write_wait(term: Terminal) -> None:
    term.err(
        "Another makemigrations in this folder is writing migrations; waiting for it to finish...",
        style=WARNING,
    )


def render_lock_wait(term: Terminal) -> None:
    term.err(
        "Another migrate is running on this database; waiting for it to finish...", style=WARNING
    )


def render_stopping(term: Terminal) -> None:
    term.err(
        "Stopping after the migration in progress (press Ctrl+C again to stop at once)...",
        style=WARNING,
    )


def render_migrate_plan(
    term: Terminal, steps: list[tuple[Step, list[tuple[Change, Lock]]]]
) -> None:
    """Each operation, with the lock it takes on an existing table (marked ! when it blocks
    reads or writes for longer than a moment)."""
    term.out("Planned operations:", style=HEADING)
    if not steps:
        term.out("  No planned migration operations.")
    for step, changes in steps:
        term.out(step.migration.key if step.forward else f"Undo {step.migration.key}")
        for change, lock in changes:
            term.out(f"  {change.marked}")
            if lock.shown:
                term.out(f"      {'!' if lock.blocking else ' '} lock: {lock}")


# showmigrations


def render_showmigrations(term: Terminal, apps: list[AppStatus], verbosity: int = 1) -> None:
    # Nothing of ours applied, only rows we never recorded: another history (project.autogen.adoption).
    foreign = not any(s.applied for app in apps for s in app.migrations)
    for app in apps:
        term.out(app.label, style=HEADING)
        if not app.migrations and not app.ghosts:
            term.out(" (no migrations)")
        for status in app.migrations:
            replaces = len(status.migration.replaces)
            notes = [f"{replaces} squashed migrations"] if replaces else []
            if status.changed:
                notes.append("changed since it was applied")
            if verbosity >= 2 and status.record is not None:
                notes.append(_when(status.record))
            suffix = f" ({'; '.join(notes)})" if notes else ""
            term.out(f" [{'X' if status.applied else ' '}] {status.migration.name}{suffix}")
        for ghost in app.ghosts:
            if isinstance(ghost, str) and foreign:
                term.out(
                    f" [?] {ghost} (in the version table, but no app has it: another git "
                    "branch, or a plain Alembic history to adopt with 'migrate --fake-initial'?)"
                )
            else:
                name = ghost if isinstance(ghost, str) else ghost.name
                term.out(f" [?] {name} (applied, but its file is missing: another git branch?)")
    render_changed(term, [s.migration for app in apps for s in app.migrations if s.changed])


def render_changed(term: Terminal, migrations: Iterable[Migration]) -> None:
    for migration in migrations:
        term.err(
            f"Warning: {migration.key} changed after it was applied (its checksum differs from the "
            "file then). Restore it, or accept it with 'migrate --fake'; STRICT_MIGRATION_CHECKSUMS "
            "makes this an error.",
            style=WARNING,
        )


def _when(record: Record) -> str:
    if record.applied_at is None:
        return "applied before the history was kept"
    faked = ", faked" if record.faked else ""
    return f"applied {record.applied_at:%Y-%m-%d %H:%M:%S}, {record.duration or 0:.2f} s{faked}"


def render_migration_plan(term: Terminal, statuses: list[MigrationStatus]) -> None:
    for status in statuses:
        deps = ", ".join(d.key for d in status.dependencies)
        term.out(
            f"[{'X' if status.applied else ' '}]  {status.migration.key}"
            + (f" ... ({deps})" if deps else "")
        )


def render_pruned(term: Terminal, pruned: list[str]) -> None:
    term.out("Pruning migrations:", style=HEADING)  # Django's output
    if not pruned:
        term.out("  No migrations to prune.")
    for name in pruned:
        term.out(f"  Pruned {name}")


def render_flushstate(term: Terminal, cleared: ClearedStates) -> None:
    if cleared.note:
        term.err(f"Note: {cleared.note}")
    if not (cleared.files or cleared.dropped or cleared.in_use):
        term.out("No cached migration-history state to drop.")
    if cleared.files:
        term.out(f"Removed {len(cleared.files)} cached file(s) from .manage_cache/.")
    for name in cleared.dropped:
        term.out(f"Dropped the scratch database {name}.")
    for name in cleared.in_use:
        term.out(f"Kept the scratch database {name}: in use by another run (or not yours to drop).")


def render_startapp(term: Terminal, app: NewApp) -> None:
    from project.tracebacks import display_path

    term.out(f"Created app '{app.name}' in {display_path(app.path)}.")
    if app.settings_file is not None:
        term.out(f'Added "apps.{app.name}" to INSTALLED_APPS in {display_path(app.settings_file)}.')
    else:
        term.out(f'Add "apps.{app.name}" to INSTALLED_APPS in your settings.')
    term.out(
        f"Next: write models in {display_path(app.path / 'models.py')}, then run makemigrations {app.name}."
    )


def render_startproject(term: Terminal, project: NewProject) -> None:
    from project.tracebacks import display_path

    term.out(f"Created project '{project.name}' in {display_path(project.path)}.")
    term.out(
        f"Next: cd {display_path(project.path)}, then python manage.py startapp NAME, "
        "write its models, and run makemigrations and migrate."
    )


# inspectdb


def render_inspectdb(term: Terminal, result: Inspection) -> None:
    """The module on stdout (to redirect into a file); notes on stderr."""
    for table, app in sorted(result.owned.items()):
        term.err(
            f"Note: table {table} belongs to app '{app}' already; a second model of it in "
            "another app would define it twice.",
            style=WARNING,
        )
    for table, targets in sorted(result.unwritten.items()):
        term.err(
            f"Note: table {table} refers to {', '.join(targets)}, which no app owns and this "
            "module does not describe: name it too, or its foreign key will not resolve.",
            style=WARNING,
        )
    if not result.tables:
        term.err("Note: no tables to describe (every table belongs to an installed app).")
    term.out(result.code, end="")


# check


def render_check(term: Terminal, result: CheckResult) -> None:
    if result.drift:
        applied = ", ".join(m.key for m in result.applied) or "no migrations"
        term.out(f"The database differs from its migration history ({applied}).", style=ERROR)
        term.out("To match the history, it would need:")
        for table in result.drift:
            term.out(f"  {table.table}", style=HEADING)
            for change in table.changes:
                term.out(f"    {change}")
    elif result.drift is not None:
        term.out("The database matches its migration history.")
    if result.errors:
        term.out("System check identified some issues:", style=ERROR)
        for error in result.errors:
            term.out(f"  - {error}")
        count = len(result.errors)
        term.out(f"System check identified {count} issue{'s' if count > 1 else ''}.")
    elif not result.drift:
        term.out(
            f"System check identified no issues ({result.apps} apps, {result.migrations} migrations)."
        )


def render_error(term: Terminal, message: str) -> None:
    term.close_line(" FAILED", style=ERROR)
    term.err(f"Error: {message}", style=ERROR)


def render_traceback(term: Terminal, exc: BaseException) -> None:
    import traceback

    term.err("".join(traceback.format_exception(exc)).rstrip())
