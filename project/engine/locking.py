"""One `migrate` at a time per database, with the database's own lock (project.backends:
PostgreSQL's advisory lock, MySQL/MariaDB's GET_LOCK, a flock beside a SQLite file). The
lock is taken on a connection of its own before the plan is read, so a process that waited
sees what the other applied.

Also the other locks: a named lock of the server for each scratch database (project.engine.scratch),
and a file lock for makemigrations' plan-and-write (per machine: flock).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from project.backends import backend_for
from project.backends.locks import poll, try_flock
from project.errors import DatabaseError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from project.backends import ServerBackend
    from project.engine.workspace import Workspace


@contextmanager
def migration_lock(
    workspace: Workspace, timeout: float, on_wait: Callable[[], None]
) -> Iterator[None]:
    """Hold the lock for the block; call `on_wait` once if another process holds it."""
    url = workspace.engine.url
    lock = backend_for(url.get_backend_name()).migration_lock
    with lock(url, lambda: _autocommit(workspace), timeout, on_wait):
        yield


@contextmanager
def _autocommit(workspace: Workspace) -> Iterator[Connection]:
    with workspace.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def named_lock(
    backend: ServerBackend,
    connection: Connection,
    name: str,
    timeout: float,
    on_timeout: Callable[[], DatabaseError],
) -> Iterator[None]:
    """Hold the server lock `name` for the block, waiting up to `timeout` seconds for it."""
    poll(lambda: backend.try_named_lock(connection, name), timeout, lambda: None, on_timeout)
    try:
        yield
    finally:
        backend.release_named_lock(connection, name)


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
        poll(lambda: try_flock(handle), timeout, on_wait, on_timeout)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
