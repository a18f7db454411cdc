"""Turn the settings' DATABASE_URL into an engine, and database failures into clear errors.

A password never leaves this module unmasked: every message shows `mask_url(...)`.
"""

from __future__ import annotations

import re
import sys
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from project.adapter.deferred_impls import load as load_deferred
from project.backends import backend_for
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
    "aiosqlite": "aiosqlite",
    "asyncpg": "asyncpg",
    "aiomysql": "aiomysql",
    "asyncmy": "asyncmy",
    "greenlet": "sqlalchemy[asyncio]",
}
# SQLAlchemy's asyncio drivers: their engines run only inside its greenlet (project.backends.event_loop).
ASYNC_DRIVERS = frozenset(
    {"aiosqlite", "asyncpg", "psycopg_async", "aiomysql", "asyncmy", "aioodbc", "oracledb_async"}
)
# Query parameters that carry a secret: libpq's password, passfile and sslpassword, the
# MySQL drivers' passwd/password, and anything else a driver may call a password or token.
_SECRET_PARAMETER = re.compile(
    r"([?&](?:[\w.-]*(?:pass|pwd|secret|token)[\w.-]*)=)(.*?)(?=&[\w.-]+=|$)", re.IGNORECASE
)
# What follows the user information: host[:port], then a path and a query, with no '@' left.
_AFTER_USERINFO = re.compile(r"@[^@/?#]*(?:/[^@?]*)?(?:\?.*)?$", re.DOTALL)
_UNSAFE_IN_PASSWORD = re.compile(r"[@/?#]|%(?![0-9A-Fa-f]{2})")
PERCENT_CODES = "@ %40, : %3A, / %2F, # %23, % %25, ? %3F"


def _userinfo_span(url: str) -> tuple[int, int] | None:
    """Where `user[:password]` sits in the URL's text, read as its writer meant it: up to the
    '@' before the host, also when the password holds un-encoded '@', '/', '#' or '%'."""
    slashes = url.find("//")  # after the scheme's "://", or a "//" mistyped without ':'
    start = slashes + 2 if slashes >= 0 else 0
    match = _AFTER_USERINFO.search(url, start)
    if match is None or match.start() == start:
        return None
    userinfo = url[start : match.start()]
    if any(c in userinfo.partition(":")[0] for c in "/?#"):
        return None  # no user name holds these: the '@' is in the path or the query
    return start, match.start()


def _password_span(url: str) -> tuple[int, int] | None:
    span = _userinfo_span(url)
    if span is None:
        return None
    colon = url.find(":", span[0], span[1])
    return (colon + 1, span[1]) if colon >= 0 else None


def mask_url(url: str) -> str:
    """The URL with every password replaced by ***, in the user information and in the query
    string, also when it does not parse (a password with un-encoded '@', '/', '#')."""
    span = _password_span(url)
    if span is not None:
        url = url[: span[0]] + "***" + url[span[1] :]
    return _SECRET_PARAMETER.sub(lambda m: m.group(1) + "***", url)


def secrets_of(url: str) -> list[str]:
    """Every secret the URL holds, as written and as percent-decoded (what a driver's error
    may echo): for the terminal to hide."""
    from urllib.parse import unquote

    found: list[str] = []
    span = _password_span(url)
    if span is not None:
        password = url[span[0] : span[1]]
        found += [password, unquote(password)]
    for match in _SECRET_PARAMETER.finditer(url):
        found += [match.group(2), unquote(match.group(2))]
    return [secret for secret in dict.fromkeys(found) if secret]


def require_encoded_password(url: str) -> None:
    """A password with an un-encoded '@', '/', '#', '?' or a stray '%' is misread by
    SQLAlchemy (another host, an int() of part of it, pieces echoed by the driver): refused
    from the raw text, before anything parses it."""
    span = _password_span(url)
    if span is not None and _UNSAFE_IN_PASSWORD.search(url, span[0], span[1]):
        raise DatabaseError(
            f"DATABASE_URL '{mask_url(url)}' cannot be read: its password holds characters "
            f"that must be percent-encoded in a URL ({PERCENT_CODES}); e.g. "
            "urllib.parse.quote(password, safe='') gives the encoded form."
        )


def is_async_url(url: str) -> bool:
    """Whether the URL names an asyncio driver (`sqlite+aiosqlite://...`); read from the text,
    so that deciding costs no import of SQLAlchemy."""
    scheme, separator, _ = url.partition("://")
    return bool(separator) and is_async_driver(scheme)


def is_async_driver(drivername: str) -> bool:
    """`drivername` as in a URL: `sqlite+aiosqlite` is, `sqlite` and `postgresql` are not."""
    return drivername.partition("+")[2].strip().lower() in ASYNC_DRIVERS


def password_of(url: str) -> str | None:
    """The password of the URL's user information, as written."""
    span = _password_span(url)
    return url[span[0] : span[1]] if span is not None and span[1] > span[0] else None


def database_url(settings: Settings) -> URL:
    """The parsed URL, with the default driver filled in and SQLite paths made absolute."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    require_encoded_password(settings.database_url)
    try:
        url = make_url(settings.database_url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
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
        connect_args = _connect_args(url, settings.connect_timeout)
        if is_async_driver(url.drivername):
            engine = _create_async_engine(url, connect_args, options)
        else:
            engine = sqlalchemy.create_engine(url, connect_args=connect_args, **options)
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
    load_deferred(url.get_backend_name())  # Alembic's support of this database, if deferred
    backend_for(url.get_backend_name()).prepare_engine(engine)
    if url.get_driver_name() == "pymysql":
        event.listen(engine, "connect", _no_read_timeout_once_connected)
    _ENGINES.add(engine)
    return engine


def _create_async_engine(url: URL, connect_args: dict[str, Any], options: Any) -> Engine:
    """The sync face of an asyncio engine: the rest of the framework uses it as any Engine,
    inside the greenlet project.backends.event_loop runs the command in (Alembic's async recipe)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    return create_async_engine(url, connect_args=connect_args, **options).sync_engine


def dispose_engines(only_async: bool = False) -> None:
    """Close every pooled connection, so that servers see a clean goodbye; `only_async`:
    the asyncio engines, whose connections belong to the event loop about to close."""
    for engine in list(_ENGINES):
        if engine.dialect.is_async or not only_async:
            engine.dispose()


@contextmanager
def connect(engine: Engine, settings: Settings) -> Iterator[Connection]:
    """A connection; failing to open one is a one-line error with the URL masked."""
    from sqlalchemy.exc import DBAPIError

    asyncio = sys.modules.get("asyncio")  # loaded when an asyncio driver is (before 3.11 its
    timeouts = (asyncio.TimeoutError,) if asyncio else ()  # TimeoutError is not OSError's)
    try:
        connection = engine.connect()
    except (DBAPIError, OSError, *timeouts) as exc:
        # asyncio drivers raise OSError (refused, timed out) as it is, not as a DBAPI error.
        orig = exc.orig if isinstance(exc, DBAPIError) else exc
        reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
        if isinstance(orig, timeouts):
            reason = f"no answer within {settings.connect_timeout:g} s (DATABASE_CONNECT_TIMEOUT)"
        raise DatabaseError(
            f"Cannot connect to the database at {mask_url(settings.database_url)}: {reason}"
        ) from exc
    with connection:
        yield connection


def _connect_args(url: URL, timeout: float) -> dict[str, Any]:
    return backend_for(url.get_backend_name()).connect_args(url, timeout)


def _no_read_timeout_once_connected(dbapi_connection: Any, _record: Any) -> None:
    """A migration may run one statement for hours; only connecting has a deadline."""
    from project.adapter.internals import no_read_timeout

    no_read_timeout(dbapi_connection)


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
