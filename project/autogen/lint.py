"""makemigrations --lint: destructive changes must be reviewed before they ship, and
blocking ones accepted.

A migration that drops a table or column, narrows a type, or makes a column NOT NULL
without a default fails the lint unless it says `allow_destructive = True` (a module
variable, set by a person once they have checked the change).

On PostgreSQL, an operation that keeps reads or writes of an existing table waiting while
it scans, rewrites or indexes the table (project.autogen.locks) fails it too, unless the
migration says `allow_blocking = True`. A change the running release notices (a column or
table dropped or renamed) is a warning, with the expand/contract way to do it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from project.autogen.describe import describe_operations
from project.autogen.locks import (
    NO_LOCK,
    POSTGRESQL,
    Lock,
    atomic_of,
    breaks_running_code,
    operation_locks,
)

if TYPE_CHECKING:
    from pathlib import Path

    from project.autogen.describe import Change
    from project.autogen.planner import NewMigration
    from project.engine.history import History

ALLOW_MARKER = "allow_destructive"
BLOCKING_MARKER = "allow_blocking"
ATOMIC_MARKER = "atomic"


@dataclass(frozen=True)
class Finding:
    migration: str  # app.name
    changes: list[Change]


def lint(
    history: History, labels: Iterable[str], new: Sequence[NewMigration] = ()
) -> list[Finding]:
    """Unreviewed destructive changes in the apps' migration files and in the new ones
    not written (with --check or --dry-run)."""
    from project.engine.migration_files import read_operations

    wanted = set(labels)
    findings = []
    for migration in history.migrations:
        if migration.app_label in wanted and not allows_destructive(migration.path):
            changes = describe_operations(read_operations(migration.path), migration.app_label)
            if any(change.destructive for change in changes):
                findings.append(Finding(migration.key, [c for c in changes if c.destructive]))
    for planned in new:
        if planned.app_label in wanted and not planned.path.exists():
            destructive = [c for c in planned.changes if c.destructive]
            if destructive:
                findings.append(
                    Finding(f"{planned.app_label}.{planned.name} (not written)", destructive)
                )
    return findings


def allows_destructive(path: Path) -> bool:
    """`allow_destructive = True` at the top level of the file."""
    return module_flag(path, ALLOW_MARKER) is True


def module_flag(path: Path, name: str) -> object:
    """The literal a top-level `name = ...` of the file sets (None if it sets none)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            named = any(isinstance(t, ast.Name) and t.id == name for t in targets)
            if named and isinstance(node.value, ast.Constant):
                return node.value.value
    return None


# Locks


@dataclass(frozen=True)
class LockReport:
    """One migration's operations, each with the lock it takes on the linted database."""

    migration: str  # app.name, "(not written)" for a planned one
    operations: list[tuple[Change, Lock]]
    accepted: bool = False  # allow_blocking = True

    @property
    def blocking(self) -> list[tuple[Change, Lock]]:
        return [(change, lock) for change, lock in self.operations if lock.blocking]

    @property
    def rewrites(self) -> int:
        return sum(1 for change, _ in self.operations if change.rewrites)


@dataclass(frozen=True)
class Incompatible:
    migration: str
    change: Change
    advice: str  # what it takes from the running release, and the expand/contract way


@dataclass(frozen=True)
class LockLint:
    dialect: str
    reports: list[LockReport]  # the new migrations', and every one that fails
    incompatible: list[Incompatible]

    @property
    def failures(self) -> list[LockReport]:
        """Blocking, not accepted, on PostgreSQL (elsewhere the marks only inform)."""
        if self.dialect != POSTGRESQL:
            return []
        return [r for r in self.reports if r.blocking and not r.accepted]

    @property
    def rewrites(self) -> int:
        return sum(report.rewrites for report in self.reports if not report.accepted)


def lint_locks(
    history: History, labels: Iterable[str], dialect: str, new: Sequence[NewMigration] = ()
) -> LockLint:
    """The lock lint of the apps' migration files and of the new ones (written by this run,
    or not written, with --check or --dry-run)."""
    from project.engine.migration_files import read_operations

    wanted = set(labels)
    fresh = {(m.app_label, m.name) for m in new}
    reports, incompatible = [], []
    for migration in history.migrations:
        if migration.app_label not in wanted:
            continue
        path = migration.path
        changes = describe_operations(read_operations(path), migration.app_label)
        atomic = module_flag(path, ATOMIC_MARKER) is not False
        report = LockReport(
            migration.key,
            marked(changes, dialect, atomic),
            module_flag(path, BLOCKING_MARKER) is True,
        )
        is_new = (migration.app_label, migration.name) in fresh
        if is_new or (report.blocking and not report.accepted):
            reports.append(report)
        if not allows_destructive(path):
            incompatible += _incompatible(migration.key, changes)
    for planned in new:
        if planned.app_label in wanted and not planned.path.exists():
            key = f"{planned.app_label}.{planned.name} (not written)"
            operations = [c.operation for c in planned.changes if c.operation is not None]
            reports.append(LockReport(key, marked(planned.changes, dialect, atomic_of(operations))))
            incompatible += _incompatible(key, planned.changes)
    return LockLint(dialect, reports, incompatible)


def marked(
    changes: Sequence[Change], dialect: str, atomic: bool = True
) -> list[tuple[Change, Lock]]:
    """Each change with the lock its operation takes (changes described by
    describe_operations, which keeps their operation)."""
    operations = [change.operation for change in changes]
    if any(op is None for op in operations):
        return [(change, NO_LOCK) for change in changes]
    locks = operation_locks([op for op in operations if op is not None], dialect, atomic)
    return list(zip(changes, locks, strict=True))


def _incompatible(key: str, changes: Sequence[Change]) -> list[Incompatible]:
    found = []
    for change in changes:
        advice = breaks_running_code(change.operation) if change.operation else None
        if advice:
            found.append(Incompatible(key, change, advice))
    return found
