"""project.adapter.version_table writes the table Alembic keeps (its name, its column), in
the caller's transaction: Alembic then reads what we wrote. On SQLite, in process, with the
version table made by Alembic itself (a stamp on tests/tiny_scripts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from tiny_scripts import tiny_scripts

from project.adapter import version_table


@pytest.fixture
def connection(tmp_path: Path) -> sa.Connection:
    """A SQLite database stamped at c by Alembic."""
    config = tiny_scripts(tmp_path)
    engine = sa.create_engine(config.attributes["url"])
    with engine.begin() as setup:
        MigrationContext.configure(setup).stamp(ScriptDirectory.from_config(config), "c")
    with engine.connect() as connection:
        yield connection  # type: ignore[misc]


def _heads(connection: sa.Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def test_the_table_is_alembics(connection: sa.Connection) -> None:
    assert MigrationContext.configure(connection).version_table == version_table.NAME
    assert _heads(connection) == {"c"}


def test_rename_moves_a_row(connection: sa.Connection) -> None:
    version_table.rename(connection, {"c": "squash", "absent": "other"})
    assert _heads(connection) == {"squash"}


def test_replace_heads_and_remove(connection: sa.Connection) -> None:
    version_table.replace_heads(connection, ["x", "y"])
    assert _heads(connection) == {"x", "y"}
    version_table.remove(connection, ["x", "absent"])
    assert _heads(connection) == {"y"}
    version_table.clear(connection)
    assert _heads(connection) == set()


def test_writes_are_in_the_callers_transaction(connection: sa.Connection) -> None:
    """The caller commits them with its own bookkeeping, or rolls all of it back."""
    connection.rollback()
    transaction = connection.begin()
    version_table.rename(connection, {"c": "squash"})
    version_table.remove(connection, ["squash"])
    assert _heads(connection) == set()
    transaction.rollback()
    assert _heads(connection) == {"c"}
    version_table.replace_heads(connection, ["z"])
    connection.commit()
    assert _heads(connection) == {"z"}
