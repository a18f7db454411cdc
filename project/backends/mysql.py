"""MySQL and MariaDB: DDL commits as it runs, GET_LOCK, databases with comments on MariaDB.

Each DDL statement commits, so a failed migration leaves what it did: the runner records
each operation as it commits (project.engine.resume). Locks are GET_LOCK names, server-wide
(at most 64 characters), so migrate's names the database. Database comments exist on
MariaDB from 10.5 only (information_schema.schemata.schema_comment); without them a
scratch database's age is unknown. A mysql:// URL may reach either server.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from project.backends import MIGRATE_LOCK_NAME, Connect, databases_like
from project.backends.locks import Blocker, LockWaits, migrate_lock_timed_out

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import URL

LOCK_NAME_LIMIT = 64  # GET_LOCK's
LOCK_WAIT_TIMEOUT = 1205  # ER_LOCK_WAIT_TIMEOUT: a metadata lock (lock_wait_timeout) or a row lock
# Sessions with a transaction open: one of them holds the metadata lock DDL waits for (the
# server does not say which without the metadata_lock_info plugin). An idle one shows no query.
OPEN_TRANSACTIONS_QUERY = (
    "SELECT t.trx_mysql_thread_id, p.COMMAND, COALESCE(t.trx_query, p.INFO, '') "
    "FROM information_schema.INNODB_TRX t "
    "JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "
    "WHERE t.trx_mysql_thread_id <> :session ORDER BY t.trx_started"
)


class MySQL:
    name = "mysql"
    label = "MySQL"
    server_label = "MySQL/MariaDB"
    family = "mysql"
    transactional_ddl = False
    identifier_limit: int | None = 64  # refused at migrate past it
    supports_schemas = False  # a schema is another database
    supports_deferrable_foreign_keys = False  # create_all() fails too
    alters_by_copy = False
    alembic_options: Mapping[str, Any] = {}
    create_privilege = "CREATE on *.*"
    lock_waits: LockWaits | None

    def __init__(self) -> None:
        self.lock_waits = MySQLLockWaits()

    @contextmanager
    def migration_lock(
        self, url: URL, connect: Connect, timeout: float, on_wait: Callable[[], None]
    ) -> Iterator[None]:
        """GET_LOCK waits on the server, not in a loop of ours."""
        from sqlalchemy import text

        # Names are server-wide: name the database, so two databases don't wait on each other.
        name = f"{MIGRATE_LOCK_NAME} {url.database}"[:LOCK_NAME_LIMIT]
        with connect() as connection:

            def acquire(wait: float) -> bool:
                query = text("SELECT GET_LOCK(:name, :wait)")
                return connection.execute(query, {"name": name, "wait": wait}).scalar() == 1

            if not acquire(0):
                on_wait()
                if not acquire(timeout):
                    raise migrate_lock_timed_out(timeout)
            try:
                yield
            finally:
                connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})

    def connect_args(self, url: URL, timeout: float) -> dict[str, Any]:
        driver = url.get_driver_name()
        if driver in ("aiomysql", "asyncmy"):
            from project.adapter.internals import connect_within

            # Their connect_timeout ends when TCP connects, and they have no read timeout: a
            # server that never sends its greeting would hang us. So the whole connect has one.
            return {"connect_timeout": timeout, **connect_within(driver, timeout)}
        # PyMySQL's connect_timeout ends when TCP connects; a server that never sends its
        # greeting would hang us, so reads time out too until the connection is up.
        return {"connect_timeout": timeout, "read_timeout": timeout}

    def prepare_engine(self, engine: Engine) -> None:
        pass

    def load_plugins(self) -> None:
        pass

    def reads_comments(self, mariadb: bool, version: Sequence[object]) -> bool:
        """MariaDB from 10.5; not MySQL, nor older MariaDB."""
        numbers = tuple(v for v in version if isinstance(v, int))
        return mariadb and numbers[:2] >= (10, 5)

    def databases_query(self, comments: bool) -> str:
        """Selecting schema_comment where the server has none fails: NULL then."""
        comment = "schema_comment" if comments else "NULL"
        return (
            f"SELECT schema_name, {comment} FROM information_schema.schemata "
            "WHERE schema_name LIKE :prefix"
        )

    def list_databases(self, admin: Connection, prefix: str) -> list[tuple[str, str | None]]:
        query = self.databases_query(self.reads_comments_of(admin))
        return databases_like(admin, query, prefix)

    def reads_comments_of(self, admin: Connection) -> bool:
        """reads_comments for the server `admin` is connected to."""
        dialect = admin.dialect
        mariadb = bool(getattr(dialect, "is_mariadb", False))
        return self.reads_comments(mariadb, dialect.server_version_info or ())

    def create_database(self, admin: Connection, name: str) -> None:
        admin.exec_driver_sql(f"CREATE DATABASE {name}")

    def drop_database(self, admin: Connection, name: str, force: bool = False) -> None:
        """`force` changes nothing: the server drops a database others are connected to."""
        admin.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")

    def comment_database(self, admin: Connection, name: str, comment: str) -> None:
        """MariaDB only; before 10.5 it refuses, and the age is then unknown."""
        from sqlalchemy.exc import DBAPIError

        if getattr(admin.dialect, "is_mariadb", False):
            try:
                admin.exec_driver_sql(f"ALTER DATABASE {name} COMMENT = '{comment}'")
            except DBAPIError:
                pass

    def try_named_lock(self, connection: Connection, name: str) -> bool:
        from sqlalchemy import text

        query = text("SELECT GET_LOCK(:name, 0)")
        return bool(connection.execute(query, {"name": name}).scalar())

    def release_named_lock(self, connection: Connection, name: str) -> None:
        from sqlalchemy import text

        connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})

    def named_lock_held(self, connection: Connection, name: str) -> bool:
        from sqlalchemy import text

        query = text(
            "SELECT IS_USED_LOCK(:name) IS NOT NULL AND IS_USED_LOCK(:name) <> CONNECTION_ID()"
        )
        return bool(connection.execute(query, {"name": name}).scalar())


class MySQLLockWaits:
    """lock_wait_timeout (whole seconds) bounds DDL's wait for a table's metadata lock."""

    watch_while_waiting = False

    def timeout_statements(self, seconds: float) -> tuple[str, str]:
        return (
            f"SET SESSION lock_wait_timeout = {max(1, math.ceil(seconds))}",
            "SET SESSION lock_wait_timeout = DEFAULT",
        )

    def statement_timeout_statements(
        self, connection: Connection, seconds: float
    ) -> tuple[str, str] | None:
        """MariaDB's max_statement_time (seconds); MySQL's max_execution_time bounds only
        SELECTs, so there is none."""
        if not getattr(connection.dialect, "is_mariadb", False):
            return None
        return (
            f"SET SESSION max_statement_time = {seconds:.3f}",
            "SET SESSION max_statement_time = DEFAULT",
        )

    def timed_out(self, exc: BaseException) -> bool:
        arguments: tuple[object, ...] = tuple(getattr(getattr(exc, "orig", None), "args", ()))
        return bool(arguments) and arguments[0] == LOCK_WAIT_TIMEOUT

    def session_id(self, connection: Connection) -> int:
        return int(connection.exec_driver_sql("SELECT CONNECTION_ID()").scalar_one())

    def blockers(self, connection: Connection, session: int) -> list[Blocker]:
        return self.holders(connection, session, "")

    def holders(self, connection: Connection, session: int, table: str) -> list[Blocker]:
        from sqlalchemy import text

        rows = connection.execute(text(OPEN_TRANSACTIONS_QUERY), {"session": session})
        return [
            Blocker(
                int(pid),
                "idle in transaction" if command == "Sleep" else str(command).lower(),
                str(query or ""),
                table,
            )
            for pid, command, query in rows
        ]


class MariaDB(MySQL):
    """A mariadb:// URL: the server is MariaDB."""

    name = "mariadb"
    label = server_label = "MariaDB"
