"""showmigrations: every app's migrations and whether the database has applied them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from project.apps import select_apps
from project.engine.workspace import Workspace

if TYPE_CHECKING:
    from project.engine.history import History, Migration
    from project.engine.recorder import Record
    from project.settings import Settings


@dataclass(frozen=True)
class MigrationStatus:
    migration: Migration
    applied: bool
    dependencies: tuple[Migration, ...]  # what must be applied before it
    record: Record | None = None  # our history's row: when, how long, the checksum
    changed: bool = False  # applied, and its file edited since


@dataclass(frozen=True)
class AppStatus:
    label: str
    migrations: list[MigrationStatus]
    ghosts: list[Record | str] = field(default_factory=list)  # applied, but no file


def showmigrations(settings: Settings, app_labels: Sequence[str] = ()) -> list[AppStatus]:
    """Per app, in settings order; an app without migrations has an empty list."""
    workspace = Workspace(settings)
    apps = select_apps(workspace.apps, app_labels) if app_labels else workspace.apps
    statuses, ghosts = _statuses(workspace)
    return [
        AppStatus(
            app.label,
            [s for s in statuses if s.migration.app_label == app.label],
            [g for g in ghosts if not isinstance(g, str) and g.app == app.label],
        )
        for app in apps
    ] + (
        [AppStatus("(unknown app)", [], [g for g in ghosts if isinstance(g, str)])]
        if any(isinstance(g, str) for g in ghosts)
        else []
    )


def migration_plan(settings: Settings, app_labels: Sequence[str] = ()) -> list[MigrationStatus]:
    """Every migration in an order they can be applied in (Django's `showmigrations --plan`)."""
    workspace = Workspace(settings)
    apps = select_apps(workspace.apps, app_labels) if app_labels else workspace.apps
    wanted = {app.label for app in apps}
    return [s for s in _statuses(workspace)[0] if s.migration.app_label in wanted]


def _statuses(workspace: Workspace) -> tuple[list[MigrationStatus], list[Record | str]]:
    """From the cached graph and a light read of the tables when the situation is plain
    (project.engine.fast_status), else the full way."""
    from project.engine.fast_status import snapshot

    fast = snapshot(workspace.settings, workspace.apps)
    if fast is not None:
        return _statuses_of(fast.history, fast.applied, fast.records), []
    from project.engine.recorder import read

    with workspace.connect() as connection:
        rows = workspace.applied_rows(connection, ghosts_ok=True)
        records = read(connection)
    history = workspace.history  # after the rows: they choose the view of squashed migrations
    return _statuses_of(history, history.applied(rows), records), list(workspace.ghosts)


def _statuses_of(
    history: History, applied: set[str], records: dict[str, Record]
) -> list[MigrationStatus]:
    from project.engine.recorder import checksum

    statuses = []
    for m in history.migrations:
        record = records.get(m.revision) if m.revision in applied else None
        statuses.append(
            MigrationStatus(
                migration=m,
                applied=m.revision in applied,
                dependencies=tuple(
                    history.by_revision[r] for r in m.down_revisions + m.dependencies
                ),
                record=record,
                changed=record is not None and record.checksum != checksum(m.path),
            )
        )
    return statuses
