"""check: the project loads (settings, apps, models, migration files), and with `drift`,
the live database matches what its applied migrations say it should be."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from project.apps import load_models
from project.recorder import TABLE as HISTORY_TABLE
from project.workspace import Workspace

if TYPE_CHECKING:
    from sqlalchemy import Connection, MetaData

    from project.describe import Change
    from project.history import Migration
    from project.settings import Settings


BOOKKEEPING = {"alembic_version", HISTORY_TABLE}  # the tables that record migrations


@dataclass
class TableDrift:
    table: str
    changes: list[Change]  # what the database would need to match its history


@dataclass
class CheckResult:
    apps: int
    migrations: int
    drift: list[TableDrift] | None = None  # None: not asked for
    applied: list[Migration] = field(default_factory=list)  # the history compared with

    @property
    def ok(self) -> bool:
        return not self.drift


def check(settings: Settings, drift: bool = False) -> CheckResult:
    workspace = Workspace(settings)
    load_models(workspace.apps)
    history = workspace.history
    result = CheckResult(len(workspace.apps), len(history.migrations))
    if drift:
        result.drift, result.applied = _drift(workspace)
    return result


def _drift(workspace: Workspace) -> tuple[list[TableDrift], list[Migration]]:
    """Compare the live schema with the history replayed up to the live version rows."""
    from project.state import history_state

    with workspace.connect() as live:
        rows = workspace.applied_rows(live)
    history = workspace.history
    applied = [m for m in history.migrations if m.revision in history.applied(rows)]
    with history_state(workspace, target=rows or ("base",)) as state:
        expected = _reflect(state.connection)
    with workspace.connect() as live:
        return _differences(live, expected), applied


def _reflect(connection: Connection) -> MetaData:
    from sqlalchemy import MetaData

    metadata = MetaData()
    metadata.reflect(connection, only=lambda name, _: name not in BOOKKEEPING)
    return metadata


def _differences(live: Connection, expected: MetaData) -> list[TableDrift]:
    from alembic.autogenerate import produce_migrations
    from alembic.runtime.migration import MigrationContext

    from project.compare import compare_server_default, load_dialect_plugins
    from project.describe import describe_operations

    load_dialect_plugins(live.dialect.name)
    context = MigrationContext.configure(
        live,
        opts={
            "compare_type": True,
            "compare_server_default": compare_server_default,
            "autogenerate_plugins": [
                "alembic.autogenerate.*",
                "alembic.ext.checkconstraint_byname",
            ],
            "include_object": lambda obj, name, type_, *_: (
                not (type_ == "table" and name in BOOKKEEPING)
            ),
        },
    )
    changes = describe_operations(produce_migrations(context, expected).upgrade_ops.ops)  # type: ignore[union-attr]
    tables: dict[str, list[Change]] = {}
    for change in changes:
        tables.setdefault(change.table or "(database)", []).append(change)
    return [TableDrift(table, tables[table]) for table in sorted(tables)]
