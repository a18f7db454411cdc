"""Run a command on an asyncio DATABASE_URL (`postgresql+asyncpg://...`).

The framework is synchronous; an async engine's sync face (`AsyncEngine.sync_engine`) works
as any Engine as long as the code runs inside the greenlet SQLAlchemy spawns from an event
loop, where each DBAPI call awaits the driver. So the whole command runs in one such
greenlet, on one event loop: Alembic's async recipe (`await connection.run_sync(fn)`),
widened from one connection to the command. `AsyncSession.run_sync` spawns the greenlet
(public API; the session, bound to nothing, never connects).

A sync URL pays nothing: deciding is a look at the URL's text, and asyncio, greenlet and
SQLAlchemy's asyncio extension are imported only for an async one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from project.backends.connections import is_async_url, mask_url
from project.errors import DatabaseError, ProjectError, SettingsError

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")
DRIVER_THREADS_GRACE = 5.0  # seconds a driver's thread gets to finish before the loop closes

_inside = threading.local()  # set while this thread runs a command in the greenlet


def run_command(database_url: Callable[[], str], command: Callable[[], T]) -> T:
    """`command()`, inside an event loop and SQLAlchemy's greenlet when `database_url()`
    names an asyncio driver. A settings problem is left for the command to report."""
    try:
        url = database_url()
    except SettingsError:
        return command()
    if not is_async_url(url) or getattr(_inside, "active", False):
        return command()  # sync, or a command that another one calls (call_command)
    return _run_in_greenlet(url, command)


def _run_in_greenlet(url: str, command: Callable[[], T]) -> T:
    import asyncio
    import importlib

    try:
        importlib.import_module("greenlet")  # SQLAlchemy's asyncio extension needs it
    except ImportError as exc:
        raise DatabaseError(
            f"The database driver for '{mask_url(url)}' needs greenlet, which is not "
            "installed: pip install 'sqlalchemy[asyncio]'."
        ) from exc
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise ProjectError(
            "A command on an async DATABASE_URL runs its own event loop, so it cannot be "
            "called from a running one: call it in a thread, e.g. "
            "`await asyncio.to_thread(call_command, ...)`."
        )
    outcome: dict[str, Any] = {}

    def in_greenlet(_session: Any) -> None:
        from project.backends.connections import dispose_engines

        _inside.active = True
        try:
            outcome["value"] = command()
        except BaseException as exc:  # noqa: BLE001 - re-raised below, outside the loop
            outcome["error"] = exc
        finally:
            _inside.active = False
            # Their connections belong to this loop: close them before it closes.
            dispose_engines(only_async=True)

    async def main() -> None:
        from sqlalchemy.ext.asyncio import AsyncSession

        async with AsyncSession() as session:
            await session.run_sync(in_greenlet)

    threads_before = set(threading.enumerate())
    loop = asyncio.new_event_loop()  # not asyncio.run: Ctrl-C stays the command's to handle
    try:
        loop.run_until_complete(main())
    finally:
        _close(loop, threads_before)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def _close(loop: asyncio.AbstractEventLoop, threads_before: set[threading.Thread]) -> None:
    """What asyncio.run does on the way out: cancel what is left, stop the executor's threads
    (the drivers resolve host names in it), so the process can leave at once; and let the
    drivers' own threads hand in their last results before the loop closes."""
    import asyncio

    try:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        _await_driver_threads(loop, threads_before)
    finally:
        loop.close()


def _await_driver_threads(
    loop: asyncio.AbstractEventLoop, threads_before: set[threading.Thread]
) -> None:
    """aiosqlite's worker thread posts its stop result to the loop after a failed connect,
    which nobody awaits; posted to a closed loop, it prints a traceback at exit. Keep the
    loop running until the threads the command started have ended (a few seconds at most)."""
    import asyncio
    import time

    deadline = time.monotonic() + DRIVER_THREADS_GRACE
    for thread in set(threading.enumerate()) - threads_before:
        while thread.is_alive() and time.monotonic() < deadline:
            loop.run_until_complete(asyncio.sleep(0.005))
