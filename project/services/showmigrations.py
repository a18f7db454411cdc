"""showmigrations: every app's migrations and whether the database has applied them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from project.apps import select_apps
from project.workspace import Workspace

if TYPE_CHECKING:
    from project.history import Migration
    from project.settings import Settings


@dataclass(frozen=True)
class MigrationStatus:
    migration: Migration
    applied: bool
    dependencies: tuple[Migration, ...]  # what must be applied before it


@dataclass(frozen=True)
class AppStatus:
    label: str
    migrations: list[MigrationStatus]


def showmigrations(settings: Settings, app_labels: Sequence[str] = ()) -> list[AppStatus]:
    """Per app, in settings order; an app without migrations has an empty list."""
    workspace = Workspace(settings)
    apps = select_apps(workspace.apps, app_labels) if app_labels else workspace.apps
    statuses = _statuses(workspace)
    return [
        AppStatus(app.label, [s for s in statuses if s.migration.app_label == app.label])
        for app in apps
    ]


def migration_plan(settings: Settings, app_labels: Sequence[str] = ()) -> list[MigrationStatus]:
    """Every migration in an order they can be applied in (Django's `showmigrations --plan`)."""
    workspace = Workspace(settings)
    apps = select_apps(workspace.apps, app_labels) if app_labels else workspace.apps
    wanted = {app.label for app in apps}
    return [s for s in _statuses(workspace) if s.migration.app_label in wanted]


def _statuses(workspace: Workspace) -> list[MigrationStatus]:
    with workspace.connect() as connection:
        rows = workspace.applied_rows(connection)
    history = workspace.history  # after the rows: they choose the view of squashed migrations
    applied = history.applied(rows)
    return [
        MigrationStatus(
            migration=m,
            applied=m.revision in applied,
            dependencies=tuple(history.by_revision[r] for r in m.down_revisions + m.dependencies),
        )
        for m in history.migrations
    ]
