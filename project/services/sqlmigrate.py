"""sqlmigrate: the SQL a migration runs, for review, in the configured database's dialect.

Alembic's offline mode renders it without connecting. What cannot be rendered offline
(SQLite's batch mode re-creates a table by reading it) is run instead against a scratch
database holding the history just before the migration, and rolled back.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from project.apps import select_apps
from project.engine.workspace import Workspace
from project.errors import ProjectError

if TYPE_CHECKING:
    from project.engine.history import Migration
    from project.settings import Settings


def sqlmigrate(settings: Settings, app_label: str, name: str, backwards: bool = False) -> str:
    from project.engine.migration_files import PythonOp, read_operations

    workspace = Workspace(settings)
    app = select_apps(workspace.apps, [app_label])[0]
    migration = workspace.history.find(app.label, name)
    function = "downgrade" if backwards else "upgrade"
    if any(isinstance(op, PythonOp) for op in read_operations(migration.path, function)):
        raise ProjectError(
            f"{migration.key} is a data migration: it runs Python, so it has no SQL to show."
        )
    try:
        sql = _offline(workspace, migration, backwards)
    except Exception:  # noqa: BLE001 - offline rendering is not always possible; do it for real
        sql = _captured(workspace, migration, backwards)
    return _session_settings(workspace) + sql


def _session_settings(workspace: Workspace) -> str:
    """The lock timeout migrate sets before it runs the migration (DDL_LOCK_TIMEOUT), as the
    script's first line: a reviewer, and squawk's require-lock-timeout, see it there."""
    from project.backends import backend_for
    from project.backends.connections import database_url

    waits = backend_for(database_url(workspace.settings).get_backend_name()).lock_waits
    seconds = workspace.settings.ddl_lock_timeout
    if waits is None or not seconds:
        return ""
    return f"{waits.timeout_statements(seconds)[0]};\n\n"


def _offline(workspace: Workspace, migration: Migration, backwards: bool) -> str:
    from alembic.runtime.environment import EnvironmentContext

    from project.backends.connections import database_url

    buffer = io.StringIO()
    config = workspace.config
    config.output_buffer = buffer
    config.attributes["url"] = database_url(workspace.settings)
    config.attributes["configure_options"] = _options(workspace)
    steps = [_step(workspace, migration, backwards)]
    # Offline, Alembic takes the database to be at `starting_rev`.
    before = migration.down_revisions or None
    starting = migration.revision if backwards else before
    with EnvironmentContext(
        config,
        workspace.script,
        fn=lambda heads, context: steps,
        as_sql=True,
        starting_rev=starting,
    ):
        workspace.script.run_env()
    return _without_bookkeeping(buffer.getvalue())


def _captured(workspace: Workspace, migration: Migration, backwards: bool) -> str:
    """Run it on a scratch copy of the history and keep the statements, rolled back."""
    from alembic.runtime.environment import EnvironmentContext
    from sqlalchemy import event

    from project.engine.scratch import history_state

    before = migration.down_revisions + migration.dependencies
    target = (migration.revision,) if backwards else (before or ("base",))
    statements: list[str] = []
    with history_state(workspace, target=tuple(target), cache=False) as state:
        connection = state.connection
        # Before any DDL: a failure or Ctrl+C midway must not leave a half-changed state
        # whose version rows still match its key (dirty: dropped, whatever happens next).
        state.spoil()
        if connection.in_transaction():
            connection.commit()

        def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            text = statement.strip()
            reading = text.upper().startswith(("SELECT", "PRAGMA", "BEGIN", "COMMIT", "SHOW"))
            if "alembic_version" not in text and not reading:  # reflection is not the migration
                statements.append(text + ";")

        config = workspace.config
        config.attributes["connection"] = connection
        config.attributes["configure_options"] = _options(workspace)
        event.listen(connection, "before_cursor_execute", capture)
        steps = [_step(workspace, migration, backwards)]
        with EnvironmentContext(config, workspace.script, fn=lambda heads, context: steps):
            workspace.script.run_env()
    note = (
        "-- Captured by running it on a scratch copy of the history (it reads tables as it goes)."
    )
    return "\n\n".join([note, *statements]) + "\n"


def _step(workspace: Workspace, migration: Migration, backwards: bool) -> Any:
    from project.adapter.scripts import single_step

    return single_step(workspace.script, migration.revision, forward=not backwards)


def _options(workspace: Workspace) -> dict[str, Any]:
    """What Alembic is configured with on this database (SQLite: its DDL is transactional)."""
    from project.backends import backend_for
    from project.backends.connections import database_url

    return dict(backend_for(database_url(workspace.settings).get_backend_name()).alembic_options)


def _without_bookkeeping(sql: str) -> str:
    """Alembic's own version-table statements are not the migration's."""
    chunks = [
        chunk for chunk in sql.split("\n\n") if "alembic_version" not in chunk and chunk.strip()
    ]
    return "\n\n".join(chunks).strip() + "\n"
