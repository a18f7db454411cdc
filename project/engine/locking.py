"""One `migrate` at a time per database, with the database's own lock.

PostgreSQL: a session advisory lock; MySQL/MariaDB: GET_LOCK; SQLite: an exclusive
flock on `<database>-lock` beside the file. SQLite's own locks cannot be held across the
per-migration commits without locking out our own connection, and a lock on the database
file itself would drop SQLite's locks when we close it (POSIX lock semantics). The lock is taken on a connection of
its own before the plan is read, so a process that waited sees what the other applied.

Also the other locks: a named lock of the server for each scratch database (project.engine.scratch),
and a file lock for makemigrations' plan-and-write (per machine: flock).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from project.errors import DatabaseError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from project.engine.workspace import Workspace

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


def _poll(
    acquire: Callable[[], bool],
    timeout: float,
    on_wait: Callable[[], None],
    on_timeout: Callable[[], DatabaseError] | None = None,
) -> None:
    if acquire():
        return
    on_wait()
    deadline = time.monotonic() + timeout
    while not acquire():
        if time.monotonic() > deadline:
            raise (on_timeout or (lambda: _timed_out(timeout)))()
        time.sleep(POLL_SECONDS)


def _timed_out(timeout: float) -> DatabaseError:
    return DatabaseError(
        f"Another migrate has held the migration lock for over {timeout:g} s. Wait for it to "
        "finish, or raise MIGRATE_LOCK_TIMEOUT in settings."
    )


# PostgreSQL advisory locks of the scratch state use the two-key form: this namespace first.
NAMED_LOCK_NAMESPACE = 0x6D737461  # "msta"


def named_lock_key(name: str) -> int:
    """The second key of `name`'s advisory lock: non-negative, so pg_locks.objid (an oid) shows it
    as it is."""
    return int.from_bytes(hashlib.sha1(name.encode()).digest()[:4], "big") & 0x7FFFFFFF


def try_named_lock(connection: Connection, name: str) -> bool:
    """Take the server lock `name` on this (autocommit) connection if nobody holds it."""
    from sqlalchemy import text

    if connection.dialect.name == "postgresql":
        query = text("SELECT pg_try_advisory_lock(:space, :key)")
        params: dict[str, object] = {"space": NAMED_LOCK_NAMESPACE, "key": named_lock_key(name)}
    else:
        query, params = text("SELECT GET_LOCK(:name, 0)"), {"name": name}
    return bool(connection.execute(query, params).scalar())


def release_named_lock(connection: Connection, name: str) -> None:
    from sqlalchemy import text

    if connection.dialect.name == "postgresql":
        query = text("SELECT pg_advisory_unlock(:space, :key)")
        params: dict[str, object] = {"space": NAMED_LOCK_NAMESPACE, "key": named_lock_key(name)}
    else:
        query, params = text("SELECT RELEASE_LOCK(:name)"), {"name": name}
    connection.execute(query, params)


def named_lock_held(connection: Connection, name: str) -> bool:
    """Whether another session holds `name`, connected to any database of the server.

    PostgreSQL's advisory locks belong to the database the session is connected to, so
    try_named_lock from another project's database would not see them; pg_locks does."""
    from sqlalchemy import text

    if connection.dialect.name == "postgresql":
        query = text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :space "
            "AND objid = :key AND objsubid = 2 AND granted AND pid <> pg_backend_pid()"
        )
        params: dict[str, object] = {"space": NAMED_LOCK_NAMESPACE, "key": named_lock_key(name)}
        return bool(connection.execute(query, params).scalar())
    query = text(
        "SELECT IS_USED_LOCK(:name) IS NOT NULL AND IS_USED_LOCK(:name) <> CONNECTION_ID()"
    )
    return bool(connection.execute(query, {"name": name}).scalar())


@contextmanager
def named_lock(
    connection: Connection, name: str, timeout: float, on_timeout: Callable[[], DatabaseError]
) -> Iterator[None]:
    """Hold the server lock `name` for the block, waiting up to `timeout` seconds for it."""
    _poll(lambda: try_named_lock(connection, name), timeout, lambda: None, on_timeout)
    try:
        yield
    finally:
        release_named_lock(connection, name)


@contextmanager
def file_lock(
    path: Path,
    timeout: float,
    on_timeout: Callable[[], DatabaseError],
    on_wait: Callable[[], None] = lambda: None,
) -> Iterator[bool]:
    """An exclusive flock on `path` for the block. flock is per machine (and unreliable on
    some network file systems): processes on one machine take turns, others are not seen.

    Yields False, unlocked, if the file cannot be created or opened (a read-only checkout:
    a run there writes nothing, so needs no lock). Opened read-only: flock needs no more,
    and another user's lock file works too."""
    import fcntl

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
    except OSError:
        yield False
        return
    with open(descriptor, "rb") as handle:

        def acquire() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        _poll(acquire, timeout, on_wait, on_timeout)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
