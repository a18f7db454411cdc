"""makemigrations --lint: destructive changes must be reviewed before they ship.

A migration that drops a table or column, narrows a type, or makes a column NOT NULL
without a default fails the lint unless it says `allow_destructive = True` (a module
variable, set by a person once they have checked the change).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from project.autogen.describe import Change
    from project.autogen.planner import NewMigration
    from project.engine.history import History

ALLOW_MARKER = "allow_destructive"


@dataclass(frozen=True)
class Finding:
    migration: str  # app.name
    changes: list[Change]


def lint(
    history: History, labels: Iterable[str], new: Sequence[NewMigration] = ()
) -> list[Finding]:
    """Unreviewed destructive changes in the apps' migration files and in the new ones
    not written (with --check or --dry-run)."""
    from project.autogen.describe import describe_operations
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
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            named = any(isinstance(t, ast.Name) and t.id == ALLOW_MARKER for t in targets)
            if named and isinstance(node.value, ast.Constant) and node.value.value is True:
                return True
    return False
