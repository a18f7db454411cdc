"""Checks of the migration graph that `check` reports and `migrate` runs first.

- conflicts: an app whose migrations diverge (two leaves);
- missing dependencies: a migration whose foreign key points at a table another app's
  migration creates, without depending on that migration (so a fresh database may apply
  them in the wrong order).

Reading every file's operations costs time, so the result is remembered for as long as
the migration files are unchanged (their sizes and modification times).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from project.errors import ProjectError

if TYPE_CHECKING:
    from pathlib import Path

    from project.engine.history import History

MARKER_PREFIX = "graphok-"


def problems(history: History) -> list[str]:
    conflicts = history.conflicts_message()
    return ([conflicts] if conflicts else []) + missing_dependencies(history)


def require_sound_graph(
    history: History, cache: Path | None = None, dependencies: bool = True
) -> None:
    """Raise on the first problem; skip the file reading when nothing changed since a pass.
    Conflicts are always refused (as Django's migrate does, --skip-checks or not);
    `dependencies=False` skips the missing cross-app dependency check."""
    if not dependencies:
        conflicts = history.conflicts_message()
        if conflicts:
            raise ProjectError(conflicts)
        return
    marker = cache / f"{MARKER_PREFIX}{_files_key(history)}" if cache else None
    if marker is not None and marker.exists():
        return
    found = problems(history)
    if found:
        raise ProjectError(found[0])
    if marker is not None:
        marker.parent.mkdir(exist_ok=True)
        for old in marker.parent.glob(f"{MARKER_PREFIX}*"):
            old.unlink(missing_ok=True)
        marker.touch()


def passed_before(history: History, cache: Path) -> bool:
    """Whether a full check passed on these very files (require_sound_graph left its marker):
    a status command may then skip it without reading a file's operations."""
    return (cache / f"{MARKER_PREFIX}{_files_key(history)}").exists()


def missing_dependencies(history: History) -> list[str]:
    from project.engine.migration_files import foreign_key_targets

    creator = history.table_walk.first  # a renamed table: the migration that renamed it
    found = []
    for migration in history.migrations:
        needed = {creator[t] for t in foreign_key_targets(migration.path) if t in creator}
        ancestors = history.applied([migration.revision])
        for other in sorted(needed, key=lambda m: m.key):
            if other.app_label != migration.app_label and other.revision not in ancestors:
                found.append(
                    f"{migration.key} has a foreign key to a table that {other.key} creates, but does "
                    f'not depend on it: add depends_on = "{other.revision}" to {migration.path.name}.'
                )
    return found


def _files_key(history: History) -> str:
    digest = hashlib.sha256()
    for migration in history.migrations:
        stat = migration.path.stat()
        digest.update(f"{migration.path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]
