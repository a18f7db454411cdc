"""makemigrations --update: fold new model changes into each app's latest migration, as
Django 4.2 does, instead of writing another one.

Only a migration no database has run can change: the configured database is asked, and
one that other migrations build on, or that holds code of its own (a data migration,
hand-written statements), is left alone with a clear error.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from project.autogen.questioner import ProbingQuestioner, Questioner
from project.engine.workspace import Workspace
from project.errors import DatabaseError, UsageError
from project.services.makemigrations import MakeMigrationsResult, plan_migrations, writing

if TYPE_CHECKING:
    from pathlib import Path

    from project.engine.history import History, Migration
    from project.settings import Settings

BACKUP_SUFFIX = ".py.update-backup"


def update_latest(
    settings: Settings,
    app_labels: Sequence[str] = (),
    *,
    write: bool = True,
    cache: bool = True,
    questioner: Questioner | None = None,
    on_wait: Callable[[], None] | None = None,
) -> MakeMigrationsResult:
    with writing(settings, write, on_wait):
        probe = plan_migrations(
            settings, app_labels, write=False, cache=cache, questioner=ProbingQuestioner()
        )
        changed = [m.app_label for m in probe.migrations]
        if not changed:
            return probe
        workspace = Workspace(settings)
        history = workspace.history
        leaves = [leaf for label in changed if (leaf := history.leaf(label)) is not None]
        _check_updatable(workspace, history, leaves)
        with _set_aside([leaf.path for leaf in leaves], keep_aside=write):
            return plan_migrations(
                settings, changed, write=write, cache=cache, questioner=questioner
            )


def _check_updatable(workspace: Workspace, history: History, leaves: list[Migration]) -> None:
    try:
        with workspace.connect() as connection:
            applied = history.applied(workspace.applied_rows(connection))
    except DatabaseError as exc:
        raise DatabaseError(
            f"makemigrations --update must know what the database has applied: {exc}"
        ) from exc
    for leaf in leaves:
        if leaf.revision in applied:
            raise UsageError(
                f"{leaf.key} is applied to the database: --update only changes a migration that "
                "has not run. Run makemigrations without --update."
            )
        users = [
            m.key for m in history.migrations if leaf.revision in m.down_revisions + m.dependencies
        ]
        if users:
            raise UsageError(f"{leaf.key} cannot be updated: {', '.join(users)} build(s) on it.")
        if not _only_operations(leaf.path):
            raise UsageError(
                f"{leaf.key} has code of its own (a data migration or hand-written statements); "
                "--update would lose it. Run makemigrations without --update."
            )


def _only_operations(path: Path) -> bool:
    """upgrade() and downgrade() hold nothing but `op.*` calls (as makemigrations writes them)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    if set(functions) & {"upgrade", "downgrade"} != {"upgrade", "downgrade"}:
        return False
    return all(
        _is_operation(statement)
        for name in ("upgrade", "downgrade")
        for statement in functions[name].body
    )


def _is_operation(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.Pass):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        owner = getattr(statement.value.func, "value", None)
        return isinstance(owner, ast.Name) and owner.id in ("op", "batch_op")
    if isinstance(statement, ast.With):
        return all(_is_operation(inner) for inner in statement.body)
    return False


@contextmanager
def _set_aside(paths: list[Path], keep_aside: bool) -> Iterator[None]:
    """Move the files out of Alembic's sight; put them back unless replaced for good."""
    backups = [path.with_name(path.stem + BACKUP_SUFFIX) for path in paths]
    for path, backup in zip(paths, backups):
        path.rename(backup)
    replaced = False
    try:
        yield
        replaced = keep_aside
    finally:
        for path, backup in zip(paths, backups):
            if replaced:
                backup.unlink()
            else:
                backup.rename(path)
