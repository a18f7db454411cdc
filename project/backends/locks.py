"""Waiting for a lock: what the backends' locks and project.engine.locking's share, and the
DDL lock timeouts of migrate (LockWaits)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

from project.errors import DatabaseError

if TYPE_CHECKING:
    from sqlalchemy import Connection

POLL_SECONDS = 0.2
QUERY_SHOWN = 60  # characters of a blocking session's query in a message


def poll(
    acquire: Callable[[], bool],
    timeout: float,
    on_wait: Callable[[], None],
    on_timeout: Callable[[], DatabaseError] | None = None,
) -> None:
    """Call `acquire` until it says True: `on_wait` once if the first try fails, the error of
    `on_timeout` (by default: migrate's) after `timeout` seconds."""
    if acquire():
        return
    on_wait()
    deadline = time.monotonic() + timeout
    while not acquire():
        if time.monotonic() > deadline:
            raise (on_timeout or (lambda: migrate_lock_timed_out(timeout)))()
        time.sleep(POLL_SECONDS)


def migrate_lock_timed_out(timeout: float) -> DatabaseError:
    return DatabaseError(
        f"Another migrate has held the migration lock for over {timeout:g} s. Wait for it to "
        "finish, or raise MIGRATE_LOCK_TIMEOUT in settings."
    )


def try_flock(handle: IO[Any]) -> bool:
    """Take an exclusive flock on the open file if no other process holds one."""
    import fcntl

    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@dataclass(frozen=True)
class Blocker:
    """A session that holds a lock migrate's statement waits for (or may wait for)."""

    pid: int  # the server's id of the session (PostgreSQL pid, MySQL connection id)
    state: str  # "idle in transaction", "active", ...
    query: str  # its current (or, when idle, last) statement; "" when unknown
    table: str = ""  # the table migrate waits for, when the server says


class LockWaits(Protocol):
    """A server's session lock timeout for DDL, how it reports running out, and who held the
    lock (project.engine.lock_waits retries the migration)."""

    # The blockers are read while the statement waits (pg_blocking_pids is empty once it
    # gave up), by a watcher on a second connection; else only after the failure.
    watch_while_waiting: bool

    def timeout_statements(self, seconds: float) -> tuple[str, str]:
        """The session statement that makes DDL give up after waiting `seconds` for a lock,
        and the one that puts the server's setting back."""
        ...

    def statement_timeout_statements(
        self, connection: Connection, seconds: float
    ) -> tuple[str, str] | None:
        """Like timeout_statements, for any statement's run time; None where it cannot."""
        ...

    def timed_out(self, exc: BaseException) -> bool:
        """Whether `exc` is a statement giving up waiting for a lock (it did not apply)."""
        ...

    def session_id(self, connection: Connection) -> int: ...

    def blockers(self, connection: Connection, session: int) -> list[Blocker]:
        """Who blocks `session` now, seen from `connection` (another session)."""
        ...

    def holders(self, connection: Connection, session: int, table: str) -> list[Blocker]:
        """Who else holds a lock on `table` (or, where the server cannot say, has a
        transaction open): after the statement gave up, blockers() no longer knows."""
        ...


def first_words(query: str, limit: int = QUERY_SHOWN) -> str:
    """A query as a message shows it: on one line, cut after `limit` characters."""
    text = " ".join(query.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
