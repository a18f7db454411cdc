"""The status of a database without SQLAlchemy or Alembic, when the situation is plain.

`showmigrations`, `migrate --check` and a `migrate` with nothing to do read two tables
and compare them with the migration graph. When the graph is cached (project.engine.status_cache)
and the database is a SQLite file, the standard library's sqlite3 reads the two tables
in well under the time importing SQLAlchemy and Alembic takes (0.3-0.4 s).

`snapshot` answers only when it can answer exactly as the full path would; for anything
else it returns None and the caller takes the full path, which decides, says and repairs
everything: no cache or a stale one, another database or driver, a URL with options,
Alembic's logging on (verbosity 3 shows what Alembic says), a missing version table, a
version row no migration file explains (ghosts, squashed ranges applied in part, a plain
Alembic history), a table that cannot be read as written.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from project.engine import status_cache
from project.engine.recorder import TABLE as HISTORY_TABLE
from project.engine.recorder import Record

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from project.apps import AppConfig
    from project.engine.history import History
    from project.settings import Settings

VERSION_TABLE = "alembic_version"  # project.adapter.version_table.NAME
# URL schemes read here: SQLite, and PostgreSQL, with the drivers we pick by default.
SQLITE_SCHEMES = ("sqlite", "sqlite+pysqlite")
POSTGRESQL_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


@dataclass(frozen=True)
class Snapshot:
    history: History  # the cached graph (no ScriptDirectory)
    rows: tuple[str, ...]  # the version table's rows, every one a migration on disk
    applied: set[str]
    records: dict[str, Record]  # our history table's rows; empty when it does not exist


class NotPlain(Exception):
    """The fast path cannot answer as the full path would: the caller takes that one."""


def snapshot(settings: Settings, apps: Sequence[AppConfig]) -> Snapshot | None:
    """The database's status from the cached graph and one read of each table, or None."""
    if logging.getLogger("alembic").isEnabledFor(logging.INFO):
        return None
    path = sqlite_file(settings.database_url, settings.base_dir)
    server = postgresql_parameters(settings.database_url) if path is None else None
    if path is None and server is None:
        return None
    history = status_cache.read(settings.base_dir, apps)
    if history is None:
        return None
    try:
        if path is not None:
            rows, records = read_tables(path)
        else:
            assert server is not None
            rows, records = read_postgresql(server, settings.connect_timeout)
    except (NotPlain, sqlite3.Error, ValueError):
        return None
    except Exception:  # noqa: BLE001 - psycopg's errors: the full path says what is wrong
        return None
    if not rows or any(row not in history.by_revision for row in rows):
        return None  # nothing applied yet, or rows only the full path explains
    return Snapshot(history, rows, history.applied(rows), records)


def sqlite_file(url: str, base_dir: Path) -> Path | None:
    """The existing database file of a plain `sqlite:///path` URL (relative to the project,
    as project.backends.connections makes it); None for anything else."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.lower() not in SQLITE_SCHEMES or not rest.startswith("/"):
        return None
    database = rest[1:]
    if not database or database == ":memory:" or any(c in database for c in "?#%@\\"):
        return None
    path = Path(database)
    path = path if path.is_absolute() else base_dir / path
    return path if path.is_file() else None


def postgresql_parameters(url: str) -> dict[str, Any] | None:
    """psycopg's connect parameters of a plain `postgresql://user:password@host:port/name`
    URL, read as SQLAlchemy reads it (percent-decoded); None for anything else (options,
    a socket folder, an unusual spelling): the full path reads those."""
    from urllib.parse import unquote, urlsplit

    scheme, separator, _ = url.partition("://")
    if not separator or scheme.lower() not in POSTGRESQL_SCHEMES or any(c in url for c in "?#"):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    database = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
    if not (parts.hostname and parts.username and database) or "/" in database:
        return None
    found: dict[str, Any] = {"host": parts.hostname, "user": unquote(parts.username)}
    found["dbname"] = database
    if parts.password is not None:
        found["password"] = unquote(parts.password)
    if port is not None:
        found["port"] = str(port)
    return found


def read_postgresql(
    parameters: dict[str, Any], timeout: float
) -> tuple[tuple[str, ...], dict[str, Record]]:
    """The version rows and our history's records, read with psycopg in one read-only
    transaction, the tables found in the default schema as SQLAlchemy's has_table finds them."""
    import psycopg

    # Not the full timeout: an unreachable server is then reported by the full path.
    connect_timeout = min(2, max(1, round(timeout)))
    with psycopg.connect(**parameters, connect_timeout=connect_timeout) as connection:
        connection.read_only = True
        tables = (
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
            "AND c.relkind IN ('r', 'p') AND c.relname IN (%s, %s)"
        )
        return _read(connection, tables, _server_records)


def read_tables(path: Path) -> tuple[tuple[str, ...], dict[str, Record]]:
    """The version rows and our history's records, read only (the file is never created,
    nor written)."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)"
        return _read(connection, tables, _records)
    finally:
        connection.close()


def _read(
    connection: Any,
    tables_query: str,
    records: Callable[[list[tuple[object, ...]]], dict[str, Record]],
) -> tuple[tuple[str, ...], dict[str, Record]]:
    """The two tables through a DB-API connection with `execute` (sqlite3's, psycopg's);
    `tables_query` finds which of them exist, `records` makes Records of the driver's values."""
    found = {name for (name,) in connection.execute(tables_query, (VERSION_TABLE, HISTORY_TABLE))}
    if VERSION_TABLE not in found:
        raise NotPlain(VERSION_TABLE)
    rows = tuple(
        str(row) for (row,) in connection.execute(f"SELECT version_num FROM {VERSION_TABLE}")
    )
    if HISTORY_TABLE not in found:
        return rows, {}
    columns = "app, name, revision, parents, applied_at, duration, checksum, faked"
    return rows, records(connection.execute(f"SELECT {columns} FROM {HISTORY_TABLE}").fetchall())


def _server_records(rows: list[tuple[object, ...]]) -> dict[str, Record]:
    """Records as project.engine.recorder.read makes them through SQLAlchemy and psycopg,
    which hands over the same Python values (a timestamptz as an aware datetime)."""
    found = {}
    for app, name, revision, parents, applied_at, duration, checksum, faked in rows:
        if not (applied_at is None or isinstance(applied_at, datetime)) or not isinstance(
            faked, bool
        ):
            raise NotPlain(HISTORY_TABLE)
        if duration is not None and not isinstance(duration, float):
            raise NotPlain(HISTORY_TABLE)
        found[_text(revision)] = _record(
            app, name, revision, parents, applied_at, duration, checksum, faked
        )
    return found


def _record(
    app: object,
    name: object,
    revision: object,
    parents: object,
    applied_at: datetime | None,
    duration: float | None,
    checksum: object,
    faked: bool,
) -> Record:
    return Record(
        _text(app),
        _text(name),
        _text(revision),
        tuple(p for p in _text(parents).split(",") if p),
        applied_at,
        duration,
        _text(checksum),
        faked,
    )


def _records(rows: list[tuple[object, ...]]) -> dict[str, Record]:
    """Records as project.engine.recorder.read makes them from SQLAlchemy's SQLite types."""
    found = {}
    for app, name, revision, parents, applied_at, duration, checksum, faked in rows:
        if (duration is not None and not isinstance(duration, (int, float))) or not isinstance(
            faked, int
        ):
            raise NotPlain(HISTORY_TABLE)
        when, seconds = _datetime(applied_at), None if duration is None else float(duration)
        found[_text(revision)] = _record(
            app, name, revision, parents, when, seconds, checksum, bool(faked)
        )
    return found


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise NotPlain(HISTORY_TABLE)
    return value


def _datetime(value: object) -> datetime | None:
    """SQLAlchemy's SQLite DATETIME: text as 'YYYY-MM-DD HH:MM:SS.ffffff'."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise NotPlain(HISTORY_TABLE)
    return datetime.fromisoformat(value)  # ValueError: not as SQLAlchemy writes it
