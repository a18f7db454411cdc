"""Squashed migrations: one file standing for a range of an app's migrations.

A squashed migration says which revisions it `replaces`. Both it and the replaced files
stay on disk until every database has moved past them (Django's procedure), so the graph
Alembic sees is chosen per database:

- squashed view (new databases, and those that applied all of the range): the replaced
  files are hidden, and what pointed at them points at the squashed one;
- replaced view (a database that applied part of the range): the squashed one is hidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from alembic.script import ScriptDirectory
from alembic.script.revision import tuple_rev_as_scalar

if TYPE_CHECKING:
    from alembic.script import Script

REPLACES = "replaces"


def replaced_by(script: Script) -> tuple[str, ...]:
    """The revisions a squashed migration replaces (empty for any other migration)."""
    return tuple(getattr(script.module, REPLACES, ()) or ())


ALL = frozenset({"*"})  # hide every squash: the view of the files as they were before


class ProjectScriptDirectory(ScriptDirectory):
    """Alembic's ScriptDirectory, showing one view of each squashed range."""

    # Squashes (by revision) to hide, showing what they replace instead.
    unsquashed: frozenset[str] = frozenset()
    # Every squash found on disk: {squash revision: revisions it replaces}.
    squashes: dict[str, tuple[str, ...]]

    def _load_revisions(self) -> Iterator[Script]:
        scripts = list(super()._load_revisions())
        self.squashes = {s.revision: replaced_by(s) for s in scripts if replaced_by(s)}
        return iter(squash_view(scripts, self.unsquashed))


def squash_view(scripts: list[Script], unsquashed: Iterable[str] = ()) -> list[Script]:
    """The scripts Alembic should see: squashes in place of what they replace, except the
    `unsquashed` ones (or all, with ALL), which are hidden instead."""
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
            script.branch_labels = set(script.branch_labels) | labels[script.revision]
            script._orig_branch_labels = tuple(sorted(script.branch_labels))
    return visible


def _point_at(script: Script, replacement: dict[str, str]) -> None:
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
