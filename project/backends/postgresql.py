"""PostgreSQL: transactional DDL, advisory locks, databases with comments.

migrate's lock is a session advisory lock; a scratch database's lock is an advisory lock
of the two-key form (NAMED_LOCK_NAMESPACE first), which pg_locks shows to a session of any
database of the server. Names are cut silently past 63 bytes, so they are refused before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from project.backends import MIGRATE_LOCK_NAME, Connect, databases_like
from project.backends.locks import poll

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import URL

# Advisory locks of the scratch state use the two-key form: this namespace first.
NAMED_LOCK_NAMESPACE = 0x6D737461  # "msta"


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


def _lock_keys(name: str) -> dict[str, object]:
    return {"space": NAMED_LOCK_NAMESPACE, "key": named_lock_key(name)}
