"""SQLite: a file, no server.

DDL is transactional once pysqlite leaves transactions to us (prepare_engine). There is no
server lock: migrate's lock is an exclusive flock on `<database>-lock` beside the file.
SQLite's own locks cannot be held across the per-migration commits without locking out
our own connection, and a lock on the database file itself would drop SQLite's locks when
we close it (POSIX lock semantics). Names have no length limit. The scratch state is a
file in the project's cache folder (project.engine.scratch), not a database of a server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from project.backends import Connect
from project.backends.locks import LockWaits, poll, try_flock

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import URL


class SQLite:
    name = "sqlite"
    label = server_label = "SQLite"
    transactional_ddl = True
    identifier_limit: int | None = None
    supports_schemas = False  # a schema is an attached file
    supports_deferrable_foreign_keys = True
    alters_by_copy = True  # SQLite cannot ALTER most things
    # Our engine emits BEGIN itself (prepare_engine), so Alembic may run DDL in a transaction.
    alembic_options: Mapping[str, Any] = {"transactional_ddl": True}
    lock_waits: LockWaits | None = None  # one writer at a time: no lock queue to hold up

    @contextmanager
    def migration_lock(
        self, url: URL, connect: Connect, timeout: float, on_wait: Callable[[], None]
    ) -> Iterator[None]:
        path = url.database
        if not path or path == ":memory:":
            yield
            return
        with open(f"{path}-lock", "ab") as handle:
            import fcntl

            poll(lambda: try_flock(handle), timeout, on_wait)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def connect_args(self, url: URL, timeout: float) -> dict[str, Any]:
        return {}

    def prepare_engine(self, engine: Engine) -> None:
        """pysqlite commits DDL on its own; SQLAlchemy's recipe makes BEGIN ours, so DDL
        rolls back."""
        from sqlalchemy import event

        def no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        def begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN")

        event.listen(engine, "connect", no_driver_transactions)
        event.listen(engine, "begin", begin)

    def load_plugins(self) -> None:
        """Alembic's batch copy would copy a generated column's values (project.adapter)."""
        from project.adapter.internals import fix_batch_copies

        fix_batch_copies()
