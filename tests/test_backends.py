"""project.backends: each database's facts and small operations, in process, against the real
database (a SQLite file in tmp_path; the session's PostgreSQL and MariaDB servers)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import _database_url_for

from project.backends import Backend, ServerBackend, backend_for, server_backend_for
from project.errors import DatabaseError

SERVERS = ("postgresql", "mariadb")


@contextmanager
def _autocommit(engine: sa.Engine) -> Iterator[sa.Connection]:
    with engine.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """An engine on a fresh database of each server in turn (mariadb: a mysql:// URL)."""
    engine = sa.create_engine(
        _database_url_for(request, str(request.param)), poolclass=sa.pool.NullPool
    )
    yield engine
    engine.dispose()


def _server_backend(engine: sa.Engine) -> ServerBackend:
    backend = server_backend_for(engine.dialect.name)
    assert backend is not None
    return backend


def test_the_facts_of_each_database() -> None:
    sqlite, postgresql = backend_for("sqlite"), backend_for("postgresql")
    mysql, mariadb = backend_for("mysql"), backend_for("mariadb")
    assert sqlite.transactional_ddl and postgresql.transactional_ddl
    assert not mysql.transactional_ddl and not mariadb.transactional_ddl
    assert [b.identifier_limit for b in (sqlite, postgresql, mysql, mariadb)] == [None, 63, 64, 64]
    assert [b.label for b in (sqlite, postgresql, mysql, mariadb)] == [
        "SQLite",
        "PostgreSQL",
        "MySQL",
        "MariaDB",
    ]
    assert mysql.server_label == "MySQL/MariaDB" and mariadb.server_label == "MariaDB"
    assert postgresql.supports_schemas and not mysql.supports_schemas
    assert not sqlite.supports_schemas
    assert not mariadb.supports_deferrable_foreign_keys and sqlite.supports_deferrable_foreign_keys
    assert sqlite.alters_by_copy and not postgresql.alters_by_copy and not mysql.alters_by_copy
    assert dict(sqlite.alembic_options) == {"transactional_ddl": True}
    assert dict(postgresql.alembic_options) == dict(mysql.alembic_options) == {}
    assert server_backend_for("sqlite") is None
    assert _family("mysql") == _family("mariadb") == "mysql" != _family("postgresql")


def _family(name: str) -> str:
    backend = server_backend_for(name)
    assert backend is not None
    return backend.family


def test_a_database_without_a_module_gets_no_extras() -> None:
    other: Backend = backend_for("mssql")
    assert other.label == other.server_label == "mssql"
    assert not other.transactional_ddl and other.identifier_limit is None
    assert server_backend_for("mssql") is None
    with other.migration_lock(sa.engine.make_url("mssql://h/d"), _no_connection, 0, _never):
        pass


@contextmanager
def _no_connection() -> Iterator[sa.Connection]:
    raise AssertionError("connected")
    yield  # pragma: no cover


def _never() -> None:
    raise AssertionError("waited")


def test_connect_arguments_give_up_in_time() -> None:
    url = sa.engine.make_url
    assert backend_for("postgresql").connect_args(url("postgresql+psycopg://h/d"), 0.4) == {
        "connect_timeout": 2  # libpq: whole seconds, at least 2
    }
    assert backend_for("postgresql").connect_args(url("postgresql+psycopg://h/d"), 7.4) == {
        "connect_timeout": 7
    }
    assert backend_for("postgresql").connect_args(url("postgresql+asyncpg://h/d"), 0.4) == {
        "timeout": 0.4
    }
    assert backend_for("mysql").connect_args(url("mysql+pymysql://h/d"), 3) == {
        "connect_timeout": 3,
        "read_timeout": 3,
    }
    assert backend_for("sqlite").connect_args(url("sqlite:///x.sqlite3"), 3) == {}


def test_schema_comments_are_read_only_where_the_server_has_them() -> None:
    """Review finding 5: MariaDB before 10.5 and MySQL have no schemata.schema_comment."""
    postgresql, mysql = server_backend_for("postgresql"), server_backend_for("mysql")
    assert postgresql is not None and mysql is not None
    assert postgresql.reads_comments(False, (16, 2))
    assert mysql.reads_comments(True, (10, 11, 6)) and mysql.reads_comments(True, (10, 5))
    assert not mysql.reads_comments(True, (10, 4, 34)) and not mysql.reads_comments(True, ())
    assert not mysql.reads_comments(False, (8, 0, 36))
    assert "schema_comment" in mysql.databases_query(True)
    assert "schema_comment" not in mysql.databases_query(False)
    assert "SELECT schema_name, NULL " in mysql.databases_query(False)
    assert "shobj_description" in postgresql.databases_query(True)


# SQLite


def test_sqlite_migrate_lock_is_taken_and_refused(tmp_path: Path) -> None:
    """A flock on `<database>-lock`: a second holder (another open file, as another process
    would have) waits, then is refused with migrate's message."""
    url = sa.engine.make_url(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    backend, waited = backend_for("sqlite"), []
    with backend.migration_lock(url, _no_connection, 5, _never):
        assert (tmp_path / "db.sqlite3-lock").is_file()
        with (
            pytest.raises(DatabaseError, match="Another migrate has held the migration lock"),
            backend.migration_lock(url, _no_connection, 0.3, lambda: waited.append(1)),
        ):
            pass  # pragma: no cover
    assert waited == [1]
    with backend.migration_lock(url, _no_connection, 0.3, _never):
        pass  # free again


def test_sqlite_in_memory_needs_no_lock() -> None:
    with backend_for("sqlite").migration_lock(
        sa.engine.make_url("sqlite://"), _no_connection, 0, _never
    ):
        pass


def test_sqlite_ddl_rolls_back_once_prepared(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    backend_for("sqlite").prepare_engine(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("CREATE TABLE kept (id INTEGER)")
        connection.commit()
        connection.exec_driver_sql("CREATE TABLE undone (id INTEGER)")
        connection.rollback()
    assert sa.inspect(engine).get_table_names() == ["kept"]
    engine.dispose()


# PostgreSQL and MariaDB


def test_server_migrate_lock_is_taken_and_refused(server: sa.Engine) -> None:
    backend, waited = backend_for(server.dialect.name), []

    def connect() -> AbstractContextManager[sa.Connection]:
        return _autocommit(server)

    with (
        backend.migration_lock(server.url, connect, 5, _never),
        pytest.raises(DatabaseError, match="Another migrate has held the migration lock"),
        backend.migration_lock(server.url, connect, 1, lambda: waited.append(1)),
    ):
        pass  # pragma: no cover
    assert waited == [1]
    with backend.migration_lock(server.url, connect, 1, _never):
        pass  # free again


def test_a_named_lock_is_seen_from_another_session(server: sa.Engine) -> None:
    backend = _server_backend(server)
    name = f"manage.py test {uuid.uuid4().hex[:8]}"
    with _autocommit(server) as one, _autocommit(server) as two:
        assert backend.try_named_lock(one, name)
        assert not backend.try_named_lock(two, name)
        assert backend.named_lock_held(two, name) and not backend.named_lock_held(one, name)
        backend.release_named_lock(one, name)
        assert not backend.named_lock_held(two, name)
        assert backend.try_named_lock(two, name)
        backend.release_named_lock(two, name)


def test_a_scratch_database_is_created_listed_commented_and_dropped(server: sa.Engine) -> None:
    backend = _server_backend(server)
    prefix = f"mstate_{uuid.uuid4().hex[:12]}_"
    name = f"{prefix}{uuid.uuid4().hex[:16]}"
    with _autocommit(server) as admin:
        assert backend.list_databases(admin, prefix) == []
        backend.create_database(admin, name)
        try:
            backend.comment_database(admin, name, "manage.py scratch state; last used 1")
            comment = "manage.py scratch state; last used 1"
            expected = comment if backend.reads_comments_of(admin) else None
            assert backend.list_databases(admin, prefix) == [(name, expected)]
            lingering = sa.create_engine(server.url.set(database=name), poolclass=sa.pool.NullPool)
            with lingering.connect():  # a run killed while connected: FORCE drops it anyway
                backend.drop_database(admin, name, force=True)
            lingering.dispose()
        finally:
            backend.drop_database(admin, name)
        assert backend.list_databases(admin, prefix) == []
        backend.drop_database(admin, name)  # IF EXISTS: gone is fine


def test_the_identifier_limit_is_the_servers(server: sa.Engine) -> None:
    """PostgreSQL cuts a longer name (hence refused before makemigrations writes it), MariaDB
    refuses it."""
    limit = backend_for(server.dialect.name).identifier_limit
    assert limit is not None
    with _autocommit(server) as connection:
        connection.exec_driver_sql(f"CREATE TABLE {'t' * limit} (id INTEGER)")
        longer = "u" * (limit + 1)
        if server.dialect.name == "postgresql":
            connection.exec_driver_sql(f"CREATE TABLE {longer} (id INTEGER)")
            assert "u" * limit in sa.inspect(connection).get_table_names()
        else:
            with pytest.raises(sa.exc.DBAPIError, match="Incorrect table name|too long"):
                connection.exec_driver_sql(f"CREATE TABLE {longer} (id INTEGER)")
