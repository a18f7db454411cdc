"""Turn the settings' DATABASE_URL into an engine, and database failures into clear errors.

A password never leaves this module unmasked: every message shows `mask_url(...)`.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from project.errors import DatabaseError

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import URL
    from sqlalchemy.orm import Session

    from project.settings import Settings

# Users write the database's name; the framework picks the driver it supports.
DEFAULT_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
DRIVER_PACKAGES = {
    "psycopg": "psycopg[binary]",
    "pymysql": "PyMySQL",
    "psycopg2": "psycopg2-binary",
}
# user:password@ anywhere, also in a URL too broken to parse.
_PASSWORD_IN_URL = re.compile(r"([^:/@\s]+):([^@\s/]+)@")


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, even when it does not parse."""
    return _PASSWORD_IN_URL.sub(r"\1:***@", url)


def password_of(url: str) -> str | None:
    match = _PASSWORD_IN_URL.search(url)
    return match.group(2) if match else None


def database_url(settings: Settings) -> URL:
    """The parsed URL, with the default driver filled in and SQLite paths made absolute."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(settings.database_url)
    except ArgumentError as exc:
        raise DatabaseError(
            f"DATABASE_URL is not a valid database URL: '{mask_url(settings.database_url)}'. "
            "Expected e.g. sqlite:///db.sqlite3 or postgresql://user:password@host:5432/name."
        ) from exc
    if url.drivername in DEFAULT_DRIVERS:
        url = url.set(drivername=DEFAULT_DRIVERS[url.drivername])
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        if not path.is_absolute():
            url = url.set(database=str(settings.base_dir / path))
    return url


# Every engine made here, so that a process leaving in a hurry still closes its connections.
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def create_engine(settings: Settings, url: URL | None = None, **options: Any) -> Engine:
    """An engine for the settings' database, or for `url` (a scratch database) with the
    same connect options; `options` go to SQLAlchemy."""
    import sqlalchemy
    from sqlalchemy import event
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    url = url or database_url(settings)
    shown = mask_url(settings.database_url)
    try:
        engine = sqlalchemy.create_engine(
            url, connect_args=_connect_args(url, settings.connect_timeout), **options
        )
    except NoSuchModuleError as exc:
        raise DatabaseError(
            f"DATABASE_URL names an unknown database or driver '{url.drivername}' ('{shown}')."
        ) from exc
    except ModuleNotFoundError as exc:
        package = DRIVER_PACKAGES.get(exc.name or "", exc.name)
        raise DatabaseError(
            f"The database driver for '{shown}' is not installed: pip install '{package}'."
        ) from exc
    except ArgumentError as exc:
        raise DatabaseError(f"DATABASE_URL '{shown}' is not usable: {exc}.") from exc
    if url.get_backend_name() == "sqlite":
        _make_sqlite_transactional(engine, event)
    if url.get_driver_name() == "pymysql":
        event.listen(engine, "connect", _no_read_timeout_once_connected)
    _ENGINES.add(engine)
    return engine


def dispose_engines() -> None:
    """Close every pooled connection, so that servers see a clean goodbye."""
    for engine in list(_ENGINES):
        engine.dispose()


@contextmanager
def connect(engine: Engine, settings: Settings) -> Iterator[Connection]:
    """A connection; failing to open one is a one-line error with the URL masked."""
    from sqlalchemy.exc import DBAPIError

    try:
        connection = engine.connect()
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseError(
            f"Cannot connect to the database at {mask_url(settings.database_url)}: {reason}"
        ) from exc
    with connection:
        yield connection


def _connect_args(url: URL, timeout: float) -> dict[str, Any]:
    backend = url.get_backend_name()
    if backend == "postgresql":
        return {
            "connect_timeout": max(2, round(timeout))
        }  # libpq's unit is whole seconds, at least 2
    if backend in ("mysql", "mariadb"):
        # PyMySQL's connect_timeout ends when TCP connects; a server that never sends its
        # greeting would hang us, so reads time out too until the connection is up.
        return {"connect_timeout": timeout, "read_timeout": timeout}
    return {}


def _no_read_timeout_once_connected(dbapi_connection: Any, _record: Any) -> None:
    """A migration may run one statement for hours; only connecting has a deadline."""
    dbapi_connection._read_timeout = None  # PyMySQL applies it to the socket on each read


def _make_sqlite_transactional(engine: Engine, event: Any) -> None:
    """pysqlite commits DDL on its own; SQLAlchemy's recipe makes BEGIN ours, so DDL rolls back."""

    def no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    def begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    event.listen(engine, "connect", no_driver_transactions)
    event.listen(engine, "begin", begin)


@contextmanager
def session(settings: Settings) -> Iterator[Session]:
    """An ORM session for app code (e.g. an app's command), committed when the block succeeds."""
    from sqlalchemy.orm import Session

    engine = create_engine(settings)
    try:
        with (
            connect(engine, settings) as connection,
            Session(bind=connection) as orm_session,
            orm_session.begin(),
        ):
            yield orm_session
    finally:
        engine.dispose()
