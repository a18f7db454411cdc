"""Squashed migrations: which migrations a database sees (as Django's loader decides).

A squashed migration says which revisions it `replaces`. Both it and the replaced files
stay on disk until every database has moved past them (Django's procedure), so the graph
Alembic sees is chosen per database:

- squashed view (new databases, and those that applied all of the range): the replaced
  files are hidden, and what pointed at them points at the squashed one;
- replaced view (a database that applied part of the range): the squashed one is hidden.

This module alone makes that decision: the Workspace asks it which view a database's
version rows need (`settle`), and again once a migrate ran (`after_migrating`); the
ScriptDirectory is built here (`SquashView`), and a database that applied all of a range
has its version rows moved onto the squash here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy import Connection

    from project.engine.workspace import Workspace

REPLACES = "replaces"


def replaced_by(script: Script) -> tuple[str, ...]:
    """The revisions a squashed migration replaces (empty for any other migration)."""
    return tuple(getattr(script.module, REPLACES, ()) or ())


ALL = frozenset({"*"})  # hide every squash: the view of the files as they were before


class SquashView:
    """The migration files as one database sees them: each squashed range as its squashed
    migration, unless listed in `unsquashed` (or ALL), shown as what it replaces."""

    def __init__(self, config: Config, unsquashed: frozenset[str] = frozenset()) -> None:
        from project.adapter.scripts import script_directory

        self.unsquashed = unsquashed
        # Every squash found on disk: {squash revision: revisions it replaces}; filled
        # when Alembic first reads the files (the script's revision map).
        self.squashes: dict[str, tuple[str, ...]] = {}
        self.script: ScriptDirectory = script_directory(config, self._visible)

    def _visible(self, scripts: list[Script]) -> list[Script]:
        self.squashes = {s.revision: replaced_by(s) for s in scripts if replaced_by(s)}
        return squash_view(scripts, self.unsquashed)

    def replaced(self) -> set[str]:
        """Every revision a squash on disk replaces (the script's map must be loaded)."""
        return {r for replaced in self.squashes.values() for r in replaced}


def script_directory(config: Config, unsquashed: frozenset[str] = frozenset()) -> ScriptDirectory:
    """The migration files as Alembic sees them, squashed unless listed in `unsquashed`."""
    return SquashView(config, unsquashed).script


def squash_view(scripts: list[Script], unsquashed: Iterable[str] = ()) -> list[Script]:
    """The scripts Alembic should see: squashes in place of what they replace, except the
    `unsquashed` ones (or all, with ALL), which are hidden instead."""
    from project.adapter.scripts import add_branch_labels

    keep_old = set(unsquashed)
    replacement: dict[str, str] = {}  # replaced revision -> squash
    hidden: set[str] = set()
    for script in scripts:
        replaced = replaced_by(script)
        if not replaced:
            continue
        if script.revision in keep_old or keep_old == ALL:
            hidden.add(script.revision)
        else:
            hidden.update(replaced)
            replacement.update(dict.fromkeys(replaced, script.revision))
    visible = [s for s in scripts if s.revision not in hidden]
    labels: dict[str, set[str]] = {}
    for script in scripts:
        if script.revision in replacement and script.branch_labels:
            labels.setdefault(replacement[script.revision], set()).update(script.branch_labels)
    for script in visible:
        _point_at(script, replacement)
        if script.revision in labels:
            add_branch_labels(script, labels[script.revision])
    return visible


def settle(
    workspace: Workspace, connection: Connection, rows: tuple[str, ...], restamp: bool
) -> tuple[str, ...]:
    """The version rows as the view they need explains them.

    A database that applied part of a squashed range gets the replaced view of it (the
    workspace is switched to it); one that applied all of it sees the squashed migration,
    and with `restamp` its version table says so from now on (Django marks the squashed
    one applied likewise).
    """
    known = workspace.history.by_revision  # reading the files also finds the squashes
    squashes = workspace.view.squashes
    replaced_rows = [
        row for row in rows if row not in known and any(row in r for r in squashes.values())
    ]
    if not replaced_rows:
        return rows
    from project.engine.history import load_history

    unsquashed = load_history(script_directory(workspace.config, ALL), workspace.apps)
    applied = unsquashed.applied([row for row in rows if row in unsquashed.by_revision])
    partial = {
        s for s, replaced in squashes.items() if 0 < len(applied & set(replaced)) < len(replaced)
    }
    renamed = {r: s for s, replaced in squashes.items() if s not in partial for r in replaced}
    if partial:
        workspace.use_view(frozenset(partial))
    new_rows = tuple(dict.fromkeys(renamed.get(row, row) for row in rows))
    if restamp and new_rows != rows:
        from project.adapter import version_table

        version_table.rename(connection, renamed)
        connection.commit()
    return new_rows


def after_migrating(workspace: Workspace, connection: Connection) -> None:
    """A database that ran replaced migrations may have applied all of its range now: it
    then sees the squashed migration, and its version rows say so."""
    if workspace.unsquashed:
        workspace.use_view(frozenset())
        workspace.applied_rows(connection, restamp=True)


def _point_at(script: Script, replacement: dict[str, str]) -> None:
    from alembic.script.revision import tuple_rev_as_scalar

    def mapped(revisions: Any) -> Any:
        values = [replacement.get(r, r) for r in _as_tuple(revisions)]
        return tuple_rev_as_scalar(tuple(dict.fromkeys(values)))

    if any(r in replacement for r in _as_tuple(script.down_revision)):
        script.down_revision = mapped(script.down_revision)
    if any(r in replacement for r in _as_tuple(script.dependencies)):
        script.dependencies = mapped(script.dependencies)


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)
