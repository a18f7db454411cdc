"""Waiting for a lock: what the backends' locks and project.engine.locking's share."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, Any

from project.errors import DatabaseError

POLL_SECONDS = 0.2


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
