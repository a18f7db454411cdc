"""Writes to Alembic's version table that Alembic has no command for.

`MigrationContext.stamp` (and `command.stamp`) move heads the ScriptDirectory knows; the
rows these functions change are ones it does not know: a replaced revision hidden behind
its squash, a ghost whose file is gone, a foreign history's revision. Each runs on the
caller's connection, in its transaction: the caller commits (or rolls back) with its own
bookkeeping. Tests in tests/test_adapter_version_table.py.

Imports only the top level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection

NAME = "alembic_version"  # MigrationContext's default version_table, which env.py keeps


def _table() -> Any:
    import sqlalchemy as sa

    return sa.table(NAME, sa.column("version_num", sa.String))


def rename(connection: Connection, renamed: Mapping[str, str]) -> None:
    """Each row `old` becomes `new` (a squash's replaced revision becomes the squash)."""
    table = _table()
    for old, new in renamed.items():
        connection.execute(table.update().where(table.c.version_num == old).values(version_num=new))


def remove(connection: Connection, revisions: Iterable[str]) -> None:
    """Delete these rows (a foreign history's revisions, adopted)."""
    table = _table()
    for revision in revisions:
        connection.execute(table.delete().where(table.c.version_num == revision))


def replace_heads(connection: Connection, heads: Iterable[str]) -> None:
    """Make the rows exactly `heads` (after ghosts are pruned)."""
    table = _table()
    clear(connection)
    for head in heads:
        connection.execute(table.insert().values(version_num=head))


def clear(connection: Connection) -> None:
    """Delete every row: no revision is applied (a scratch database about to be changed)."""
    connection.execute(_table().delete())
