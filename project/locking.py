"""One `migrate` at a time per database, with the database's own lock.

PostgreSQL: a session advisory lock; MySQL/MariaDB: GET_LOCK; SQLite: an exclusive
flock on `<database>-lock` beside the file. SQLite's own locks cannot be held across the
per-migration commits without locking out our own connection, and a lock on the database
file itself would drop SQLite's locks when we close it (POSIX lock semantics). The lock is taken on a connection of
its own before the plan is read, so a process that waited sees what the other applied.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from project.errors import DatabaseError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from project.workspace import Workspace

POLL_SECONDS = 0.2
LOCK_NAME = "manage.py migrate"


@contextmanager
def migration_lock(
    workspace: Workspace, timeout: float, on_wait: Callable[[], None]
) -> Iterator[None]:
    """Hold the lock for the block; call `on_wait` once if another process holds it."""
    backend = workspace.engine.url.get_backend_name()
    if backend == "postgresql":
        lock = _postgresql_lock
    elif backend in ("mysql", "mariadb"):
        lock = _mysql_lock
    elif backend == "sqlite":
        lock = _sqlite_lock
    else:
        lock = _no_lock
    with lock(workspace, timeout, on_wait):
        yield


@contextmanager
def _postgresql_lock(
    workspace: Workspace, timeout: float, on_wait: Callable[[], None]
) -> Iterator[None]:
    key = int.from_bytes(hashlib.sha1(LOCK_NAME.encode()).digest()[:8], "big", signed=True)
    with _autocommit(workspace) as connection:
        _poll(
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


@contextmanager
def _mysql_lock(
    workspace: Workspace, timeout: float, on_wait: Callable[[], None]
) -> Iterator[None]:
    from sqlalchemy import text

    # GET_LOCK names are server-wide: name the database, so two databases don't wait on each other.
    name = f"{LOCK_NAME} {workspace.engine.url.database}"[:64]
    with _autocommit(workspace) as connection:

        def acquire(wait: float) -> bool:
            query = text("SELECT GET_LOCK(:name, :wait)")
            return connection.execute(query, {"name": name, "wait": wait}).scalar() == 1

        if not acquire(0):
            on_wait()
            if not acquire(timeout):
                raise _timed_out(timeout)
        try:
            yield
        finally:
            connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})


@contextmanager
def _sqlite_lock(
    workspace: Workspace, timeout: float, on_wait: Callable[[], None]
) -> Iterator[None]:
    import fcntl

    path = workspace.engine.url.database
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}-lock", "ab") as handle:

        def acquire() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        _poll(acquire, timeout, on_wait)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _no_lock(workspace: Workspace, timeout: float, on_wait: Callable[[], None]) -> Iterator[None]:
    yield


@contextmanager
def _autocommit(workspace: Workspace) -> Iterator[Connection]:
    with workspace.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


def _poll(acquire: Callable[[], bool], timeout: float, on_wait: Callable[[], None]) -> None:
    if acquire():
        return
    on_wait()
    deadline = time.monotonic() + timeout
    while not acquire():
        if time.monotonic() > deadline:
            raise _timed_out(timeout)
        time.sleep(POLL_SECONDS)


def _timed_out(timeout: float) -> DatabaseError:
    return DatabaseError(
        f"Another migrate has held the migration lock for over {timeout:g} s. Wait for it to "
        "finish, or raise MIGRATE_LOCK_TIMEOUT in settings."
    )
