"""What differs per database, one module each: sqlite, postgresql, mysql (MySQL and MariaDB);
besides, connecting (connections) and running a command on an asyncio driver (event_loop).

Engine modules ask `backend_for(dialect_name)` for a fact (is DDL transactional, how long
may a name be) or a small operation (take the migrate lock, create a scratch database)
instead of branching on the dialect's name: what a new database needs is then one module.

Imports only the adapter and the top level; the backend modules are imported when first
asked for, so that importing `project.backends.connections` stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import URL

    from project.backends.locks import LockWaits

# Opens an autocommit connection to the configured database (a lock is held on it).
Connect = Callable[[], AbstractContextManager["Connection"]]

MIGRATE_LOCK_NAME = "manage.py migrate"  # the server lock one migrate at a time holds


class Backend(Protocol):
    """The facts and small operations that differ per database."""

    name: str  # the dialect's name: "postgresql", "mysql", "mariadb", "sqlite"
    label: str  # how messages name the database: "PostgreSQL", "MySQL"
    # What a connection of this dialect may be talking to: a mysql:// URL reaches MySQL or
    # MariaDB, so "MySQL/MariaDB".
    server_label: str
    # DDL rolls back with its transaction (on SQLite through the BEGIN prepare_engine adds);
    # without it each operation of a migration is recorded as it commits (engine.resume).
    transactional_ddl: bool
    identifier_limit: int | None  # longest table, column, index or constraint name
    supports_schemas: bool  # a table may name a schema (elsewhere a schema is another file/db)
    supports_deferrable_foreign_keys: bool
    # ALTER TABLE can do little: migrations re-create the table, keeping its rows (Alembic's
    # batch mode, render_as_batch).
    alters_by_copy: bool
    # What Alembic's context is configured with on this database, beyond our own options.
    alembic_options: Mapping[str, Any]
    # migrate's DDL lock timeout and its retries (project.engine.lock_waits); None: none here.
    lock_waits: LockWaits | None

    def migration_lock(
        self, url: URL, connect: Connect, timeout: float, on_wait: Callable[[], None]
    ) -> AbstractContextManager[None]:
        """One migrate at a time on the database `url`: held for the block; `on_wait` is
        called once if another process holds it; DatabaseError after `timeout` seconds."""
        ...

    def connect_args(self, url: URL, timeout: float) -> dict[str, Any]:
        """The driver's arguments that make connecting give up after `timeout` seconds."""
        ...

    def prepare_engine(self, engine: Engine) -> None:
        """Session settings every connection of the engine gets."""
        ...

    def load_plugins(self) -> None:
        """Register what this database needs beyond Alembic, before comparing or migrating."""
        ...


@runtime_checkable
class ServerBackend(Backend, Protocol):
    """A database on a server: the scratch state is a database there (project.engine.scratch),
    built under a named server lock."""

    family: str  # the server kind, "mysql" for MySQL and MariaDB alike
    create_privilege: str  # what a user needs to create databases, as a GRANT names it

    def reads_comments_of(self, admin: Connection) -> bool:
        """Whether the server `admin` is connected to keeps database comments we can read."""
        ...

    def list_databases(self, admin: Connection, prefix: str) -> list[tuple[str, str | None]]:
        """(name, comment) of the databases whose names start with `prefix`."""
        ...

    def create_database(self, admin: Connection, name: str) -> None: ...

    def drop_database(self, admin: Connection, name: str, force: bool = False) -> None:
        """Drop `name` if it exists; `force`: also when a connection lingers on it."""
        ...

    def comment_database(self, admin: Connection, name: str, comment: str) -> None:
        """Set the database's comment, where the server keeps one (else nothing)."""
        ...

    def try_named_lock(self, connection: Connection, name: str) -> bool:
        """Take the server lock `name` on this (autocommit) connection if nobody holds it."""
        ...

    def release_named_lock(self, connection: Connection, name: str) -> None: ...

    def named_lock_held(self, connection: Connection, name: str) -> bool:
        """Whether another session holds `name`, connected to any database of the server."""
        ...


@cache
def backend_for(dialect_name: str) -> Backend:
    """The backend of a dialect (`connection.dialect.name`, `url.get_backend_name()`); one
    we have no module for gets none of our extras: no lock, DDL taken as non-transactional."""
    from project.backends.mysql import MariaDB, MySQL
    from project.backends.postgresql import PostgreSQL
    from project.backends.sqlite import SQLite

    known: dict[str, Backend] = {
        "sqlite": SQLite(),
        "postgresql": PostgreSQL(),
        "mysql": MySQL(),
        "mariadb": MariaDB(),
    }
    return known.get(dialect_name) or Unlisted(dialect_name)


def server_backend_for(dialect_name: str) -> ServerBackend | None:
    """The backend if its databases live on a server (the scratch state is one there)."""
    backend = backend_for(dialect_name)
    return backend if isinstance(backend, ServerBackend) else None


def databases_like(admin: Connection, query: str, prefix: str) -> list[tuple[str, str | None]]:
    """(name, comment) from a ServerBackend's databases_query, bound through SQLAlchemy: each
    driver has its own parameter style (asyncpg's is $1)."""
    from sqlalchemy import text

    rows = admin.execute(text(query), {"prefix": f"{prefix}%"})
    return [(str(found), None if comment is None else str(comment)) for found, comment in rows]


class Unlisted:
    """A database SQLAlchemy knows and we have no module for (e.g. mssql)."""

    transactional_ddl = False
    identifier_limit: int | None = None
    supports_schemas = False
    supports_deferrable_foreign_keys = True
    alters_by_copy = False
    alembic_options: Mapping[str, Any] = {}
    lock_waits: LockWaits | None = None

    def __init__(self, name: str) -> None:
        self.name = self.label = self.server_label = name

    @contextmanager
    def migration_lock(
        self, url: URL, connect: Connect, timeout: float, on_wait: Callable[[], None]
    ) -> Iterator[None]:
        yield

    def connect_args(self, url: URL, timeout: float) -> dict[str, Any]:
        return {}

    def prepare_engine(self, engine: Engine) -> None:
        pass

    def load_plugins(self) -> None:
        pass
