"""migrate under traffic: DDL gives up waiting for a table's lock, and the migration is retried.

A migration's ALTER TABLE waits in the table's lock queue for the sessions that hold a lock on
it, and every query that comes after waits behind the ALTER: one long transaction then stops
all traffic on the table. With a short lock timeout (DDL_LOCK_TIMEOUT) the ALTER gives up
instead, its migration rolls back, and the runner runs it again after a pause that doubles
each time (DDL_RETRY_DELAY, DDL_LOCK_RETRIES). The migrations before it stay committed.

Which session blocked it is asked while the statement waits, from a second connection
(PostgreSQL's pg_blocking_pids is empty once it gave up); where that is not possible, after
it, from the locks held on the table.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from project.backends.locks import Blocker, first_words

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from project.backends.locks import LockWaits

WATCH_AFTER = 0.05  # seconds a statement runs before the watcher starts asking who blocks it
WATCH_EVERY = 0.05  # seconds between two questions while it waits
RETRY_POLL = 0.1  # seconds between two looks at stop_requested while waiting to retry
# The table a DDL statement locks, for naming it when the server did not say.
TABLE_OF_STATEMENT = re.compile(
    r"^\s*(?:ALTER\s+TABLE|LOCK\s+TABLE|DROP\s+TABLE|TRUNCATE(?:\s+TABLE)?|"
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?\S+\s+ON)"
    r"\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?([`\"\w.]+)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LockRetry:
    """A migration gave up waiting for a lock and runs again after `delay` seconds."""

    migration: str  # its key, app.name
    table: str  # "" when unknown
    blockers: tuple[Blocker, ...]
    delay: float
    attempt: int  # this retry's number, from 1
    retries: int  # DDL_LOCK_RETRIES

    def line(self) -> str:
        """What migrate prints before it runs the migration again."""
        return retry_line(self)


def retry_delays(retries: int, first: float) -> list[float]:
    """The pause before each retry: `first`, then doubled each time."""
    return [first * 2**number for number in range(retries)]


def table_of(statement: str | None) -> str:
    """The table a DDL statement names, unquoted ("" when it names none we recognise)."""
    found = TABLE_OF_STATEMENT.match(statement or "")
    return found.group(1).replace('"', "").replace("`", "") if found else ""


def describe_blockers(blockers: tuple[Blocker, ...], states: bool = False) -> str:
    """`pid 1234: UPDATE pets_pet SET ...`, the first blocker (and how many more); with
    `states`, `pid 1234 (idle in transaction): UPDATE ...`."""
    if not blockers:
        return "blocked by another session"
    first = blockers[0]
    state = f" ({first.state})" if states and first.state else ""
    query = f": {first_words(first.query)}" if first.query else ""
    more = f" and {len(blockers) - 1} more" if len(blockers) > 1 else ""
    return f"blocked by pid {first.pid}{state}{query}{more}"


def retry_line(retry: LockRetry) -> str:
    """What migrate prints before it runs a migration again."""
    on = f" on {retry.table}" if retry.table else ""
    return (
        f"Lock timeout{on} ({describe_blockers(retry.blockers)}); retrying in "
        f"{retry.delay:g} s ({retry.attempt}/{retry.retries})"
    )


def gave_up(table: str, attempts: int, blockers: tuple[Blocker, ...], setting: float) -> str:
    """The reason of the final error, after the last retry."""
    on = f" on {table}" if table else ""
    tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
    return (
        f"lock timeout{on} ({tries} of {setting:g} s, DDL_LOCK_TIMEOUT), "
        f"{describe_blockers(blockers, states=True)}"
    )


class BlockerWatcher:
    """While a statement of the migration connection runs longer than WATCH_AFTER, a thread
    asks on its own connection who blocks that session, and keeps the last answer that named
    someone: the one migrate reports if the statement then gives up."""

    def __init__(
        self,
        waits: LockWaits,
        session: int,
        open_connection: Callable[[], AbstractContextManager[Connection]],
    ) -> None:
        self.waits, self.session, self.open_connection = waits, session, open_connection
        self.running = threading.Event()  # a statement is in flight
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.statement = 0  # counts statements, so an answer is for the one it was asked for
        self.seen: tuple[int, tuple[Blocker, ...]] = (0, ())
        self.thread = threading.Thread(target=self._watch, name="blocker-watcher", daemon=True)

    def statement_started(self) -> None:
        with self.lock:
            self.statement += 1
        self.running.set()

    def statement_ended(self) -> None:
        self.running.clear()

    def last_blockers(self) -> tuple[Blocker, ...]:
        """Who blocked the last statement, as last seen while it waited."""
        with self.lock:
            statement, blockers = self.seen
            return blockers if statement == self.statement else ()

    def _watch(self) -> None:
        connection_block: AbstractContextManager[Connection] | None = None
        connection: Connection | None = None
        try:
            while not self.stopping.is_set():
                if not self.running.wait(RETRY_POLL):
                    continue
                with self.lock:
                    statement = self.statement
                if self.stopping.wait(WATCH_AFTER) or not self._still(statement):
                    continue
                if connection is None:
                    connection_block = self.open_connection()
                    connection = connection_block.__enter__()
                while self._still(statement) and not self.stopping.is_set():
                    blockers = tuple(self.waits.blockers(connection, self.session))
                    if blockers:
                        with self.lock:
                            self.seen = (statement, blockers)
                    self.stopping.wait(WATCH_EVERY)
        except Exception:  # noqa: BLE001 - a watcher that cannot ask names no one; migrate goes on
            return
        finally:
            if connection_block is not None:
                connection_block.__exit__(None, None, None)

    def _still(self, statement: int) -> bool:
        with self.lock:
            return self.running.is_set() and self.statement == statement

    @contextmanager
    def watching(self) -> Iterator[BlockerWatcher]:
        self.thread.start()
        try:
            yield self
        finally:
            self.stopping.set()
            self.thread.join(timeout=5)


def wait_to_retry(delay: float, stop_requested: Callable[[], bool]) -> bool:
    """Sleep `delay` seconds; False as soon as a stop is asked for (Ctrl+C, SIGTERM)."""
    deadline = time.monotonic() + delay
    while (left := deadline - time.monotonic()) > 0:
        if stop_requested():
            return False
        time.sleep(min(RETRY_POLL, left))
    return not stop_requested()
