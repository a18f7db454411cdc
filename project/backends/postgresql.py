"""PostgreSQL: transactional DDL, advisory locks, databases with comments.

migrate's lock is a session advisory lock; a scratch database's lock is an advisory lock
of the two-key form (NAMED_LOCK_NAMESPACE first), which pg_locks shows to a session of any
database of the server. Names are cut silently past 63 bytes, so they are refused before.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from project.backends import MIGRATE_LOCK_NAME, Connect, databases_like
from project.backends.locks import Blocker, LockWaits, poll

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import URL

# Advisory locks of the scratch state use the two-key form: this namespace first.
NAMED_LOCK_NAMESPACE = 0x6D737461  # "msta"
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of lock_timeout running out (and of NOWAIT)
# Who blocks a session while it waits: pg_blocking_pids, with the table it waits for.
BLOCKERS_QUERY = (
    "SELECT (SELECT w.relation::regclass::text FROM pg_locks w WHERE w.pid = :pid "
    "AND NOT w.granted AND w.relation IS NOT NULL LIMIT 1), a.pid, a.state, a.query "
    "FROM pg_stat_activity a WHERE a.pid = ANY(pg_blocking_pids(:pid)) ORDER BY a.xact_start"
)
# Once it gave up, pg_blocking_pids is empty: who holds a lock on the table it named.
HOLDERS_QUERY = (
    "SELECT DISTINCT a.pid, a.state, a.query, a.xact_start FROM pg_locks l "
    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.relation = to_regclass(:table) "
    "AND l.granted AND l.pid <> :pid ORDER BY a.xact_start"
)


def named_lock_key(name: str) -> int:
    """The second key of `name`'s advisory lock: non-negative, so pg_locks.objid (an oid)
    shows it as it is."""
    return int.from_bytes(hashlib.sha1(name.encode()).digest()[:4], "big") & 0x7FFFFFFF


def migrate_lock_key() -> int:
    return int.from_bytes(hashlib.sha1(MIGRATE_LOCK_NAME.encode()).digest()[:8], "big", signed=True)


class PostgreSQL:
    name = "postgresql"
    label = server_label = "PostgreSQL"
    family = "postgresql"
    transactional_ddl = True
    identifier_limit: int | None = 63  # bytes
    supports_schemas = True
    supports_deferrable_foreign_keys = True
    alters_by_copy = False
    alembic_options: Mapping[str, Any] = {}
    create_privilege = "CREATEDB (ALTER ROLE ... CREATEDB)"
    lock_waits: LockWaits | None

    def __init__(self) -> None:
        self.lock_waits = PostgreSQLLockWaits()

    @contextmanager
    def migration_lock(
        self, url: URL, connect: Connect, timeout: float, on_wait: Callable[[], None]
    ) -> Iterator[None]:
        key = migrate_lock_key()
        with connect() as connection:
            poll(
                lambda: bool(
                    connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar()
                ),
                timeout,
                on_wait,
            )
            try:
                yield
            finally:
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")

    def connect_args(self, url: URL, timeout: float) -> dict[str, Any]:
        if url.get_driver_name() == "asyncpg":
            return {"timeout": timeout}  # asyncpg's deadline for the whole connect, handshake too
        return {"connect_timeout": max(2, round(timeout))}  # libpq's unit: whole seconds, ≥ 2

    def prepare_engine(self, engine: Engine) -> None:
        pass

    def load_plugins(self) -> None:
        """alembic-postgresql-enum (the `postgresql` extra) creates, alters and drops native
        enum types, which Alembic alone does not. Imported only here: it registers itself
        globally and would warn on every other database."""
        try:
            import alembic_postgresql_enum  # noqa: F401
        except ImportError:
            pass

    def reads_comments(self, mariadb: bool, version: Sequence[object]) -> bool:
        return True

    def reads_comments_of(self, admin: Connection) -> bool:
        return True

    def databases_query(self, comments: bool) -> str:
        return (
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname LIKE :prefix"
        )

    def list_databases(self, admin: Connection, prefix: str) -> list[tuple[str, str | None]]:
        return databases_like(admin, self.databases_query(True), prefix)

    def create_database(self, admin: Connection, name: str) -> None:
        admin.exec_driver_sql(f"CREATE DATABASE {name}")

    def drop_database(self, admin: Connection, name: str, force: bool = False) -> None:
        admin.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{' WITH (FORCE)' if force else ''}")

    def comment_database(self, admin: Connection, name: str, comment: str) -> None:
        admin.exec_driver_sql(f"COMMENT ON DATABASE {name} IS '{comment}'")

    def try_named_lock(self, connection: Connection, name: str) -> bool:
        from sqlalchemy import text

        query = text("SELECT pg_try_advisory_lock(:space, :key)")
        return bool(connection.execute(query, _lock_keys(name)).scalar())

    def release_named_lock(self, connection: Connection, name: str) -> None:
        from sqlalchemy import text

        connection.execute(text("SELECT pg_advisory_unlock(:space, :key)"), _lock_keys(name))

    def named_lock_held(self, connection: Connection, name: str) -> bool:
        """Advisory locks belong to the database the session is connected to, so
        try_named_lock from another project's database would not see them; pg_locks does."""
        from sqlalchemy import text

        query = text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :space "
            "AND objid = :key AND objsubid = 2 AND granted AND pid <> pg_backend_pid()"
        )
        return bool(connection.execute(query, _lock_keys(name)).scalar())


class PostgreSQLLockWaits:
    """lock_timeout: DDL waiting for a table's lock gives up (55P03), so the queries queued
    behind it in the lock queue are not held up for longer. Session SET, not SET LOCAL: an
    autocommit block (CREATE INDEX CONCURRENTLY) ends the transaction SET LOCAL lives in."""

    watch_while_waiting = True

    def timeout_statements(self, seconds: float) -> tuple[str, str]:
        return f"SET lock_timeout = '{_milliseconds(seconds)}ms'", "RESET lock_timeout"

    def statement_timeout_statements(
        self, connection: Connection, seconds: float
    ) -> tuple[str, str] | None:
        return f"SET statement_timeout = '{_milliseconds(seconds)}ms'", "RESET statement_timeout"

    def timed_out(self, exc: BaseException) -> bool:
        """psycopg's LockNotAvailable, asyncpg's LockNotAvailableError (SQLAlchemy's adapter
        copies its sqlstate), each wrapped in SQLAlchemy's OperationalError."""
        original = getattr(exc, "orig", None)
        code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
        return code == LOCK_NOT_AVAILABLE

    def session_id(self, connection: Connection) -> int:
        return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())

    def blockers(self, connection: Connection, session: int) -> list[Blocker]:
        from sqlalchemy import text

        rows = connection.execute(text(BLOCKERS_QUERY), {"pid": session})
        return [
            Blocker(pid, state or "", query or "", table or "") for table, pid, state, query in rows
        ]

    def holders(self, connection: Connection, session: int, table: str) -> list[Blocker]:
        from sqlalchemy import text

        rows = connection.execute(text(HOLDERS_QUERY), {"table": table, "pid": session})
        return [Blocker(pid, state or "", query or "", table) for pid, state, query, _ in rows]


def _milliseconds(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _lock_keys(name: str) -> dict[str, object]:
    return {"space": NAMED_LOCK_NAMESPACE, "key": named_lock_key(name)}
