"""makemigrations --merge: join an app's diverged branches with a merge migration.

Two people each added a migration after the same one: the app has two leaves. The merge
migration follows both (Alembic's merge revision); it has no operations of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from project.apps import select_apps
from project.engine.workspace import Workspace
from project.errors import ProjectError

if TYPE_CHECKING:
    from project.autogen.describe import Change
    from project.autogen.planner import NewMigration
    from project.engine.history import History, Migration
    from project.settings import Settings

MAX_NAME = 52


@dataclass
class Branch:
    leaf: Migration
    migrations: list[Migration]  # from the common ancestor (excluded) to the leaf
    changes: list[tuple[Migration, list[Change]]] = field(default_factory=list)


@dataclass
class Merge:
    app_label: str
    branches: list[Branch]
    migration: NewMigration | None = None  # None: not written (declined, or a dry run)


def merge(
    settings: Settings,
    app_labels: Sequence[str] = (),
    *,
    write: bool = True,
    confirm: Callable[[Merge], bool] | None = None,
    on_wait: Callable[[], None] | None = None,
) -> list[Merge]:
    """A merge migration for each conflicted app; `confirm` sees each merge first and may
    decline it (None: merge without asking, as with --noinput). Holds makemigrations'
    write lock (`writing`)."""
    from project.services.makemigrations import writing

    with writing(settings, write, on_wait):
        return _merge(settings, app_labels, write, confirm)


def _merge(
    settings: Settings,
    app_labels: Sequence[str],
    write: bool,
    confirm: Callable[[Merge], bool] | None,
) -> list[Merge]:
    workspace = Workspace(settings)
    wanted = {
        app.label
        for app in (select_apps(workspace.apps, app_labels) if app_labels else workspace.apps)
    }
    history = workspace.history
    merges = [
        Merge(label, _branches(history, sorted(leaves, key=lambda m: m.name)))
        for label, leaves in history.conflicts().items()
        if label in wanted
    ]
    for merge in merges:
        if write and (confirm is None or confirm(merge)):
            merge.migration = _write(workspace, history, merge)
    return merges


def _branches(history: History, leaves: list[Migration]) -> list[Branch]:
    from project.autogen.describe import describe_operations
    from project.engine.migration_files import read_operations

    label = leaves[0].app_label
    ancestry = {leaf.revision: history.applied([leaf.revision]) for leaf in leaves}
    common = set.intersection(*ancestry.values())
    branches = []
    for leaf in leaves:
        own = [m for m in history.for_app(label) if m.revision in ancestry[leaf.revision] - common]
        branch = Branch(leaf, own)
        branch.changes = [(m, describe_operations(read_operations(m.path), label)) for m in own]
        branches.append(branch)
    return branches


def _write(workspace: Workspace, history: History, merge: Merge) -> NewMigration:
    from project.autogen import writer as revisions
    from project.autogen.formatting import format_files
    from project.autogen.per_app import revision_id
    from project.autogen.planner import NewMigration

    app = next(a for a in workspace.apps if a.label == merge.app_label)
    leaves = [branch.leaf for branch in merge.branches]
    number = max(int(leaf.name[:4]) if leaf.name[:4].isdigit() else 0 for leaf in leaves) + 1
    name = "merge_" + "_".join(leaf.name for leaf in leaves)
    stem = f"{number:04d}_{name[:MAX_NAME]}".rstrip("_")
    revision = revision_id(app.label, stem, set(history.by_revision))
    keys = " and ".join(leaf.key for leaf in leaves)
    scripts = revisions.empty(
        workspace,
        revision,
        revisions.MigrationTemplate(f"{app.label}.{stem}\n\nMerges {keys}.\n"),
        message=stem,
        head=tuple(leaf.revision for leaf in leaves),
        version_path=str(app.migrations_dir),
    )
    if not scripts:
        raise ProjectError(f"Alembic wrote no merge migration for app '{app.label}'.")
    format_files([app.migrations_dir / f"{stem}.py"])
    return NewMigration(app.label, stem, revision, app.migrations_dir / f"{stem}.py", [])
