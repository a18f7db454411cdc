"""The schema the migration files produce, replayed into a scratch database of the same kind.

makemigrations compares the models with it rather than with the configured database, as
Django does: a table that exists only in the live database is never seen, so never
dropped, and the command works whether that database is empty, behind, ahead on another
branch, or unreachable. The replayed schema is cached, keyed by everything that shapes it
(the migration files, env.py, the target revisions, the server and library versions).

- SQLite: a database file in `.manage_cache/`, copied for each use.
- PostgreSQL, MySQL/MariaDB: a database `mstate_<project>_<key>` on the configured server,
  kept at its revisions; other state databases of the project are dropped when a new one
  is built. Needs the right to create databases; the error says so.
- A server that cannot be reached: SQLite in a temporary file instead, with a note.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from project.errors import DatabaseError

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import URL

    from project.workspace import Workspace

CACHE_FOLDER = ".manage_cache"
DATABASE_PREFIX = "mstate"
HEADS = "heads"


@dataclass
class HistoryState:
    connection: Connection
    description: str  # where it was built, for -v 2
    notes: list[str] = field(default_factory=list)  # worth telling the user
    dirty: bool = False  # set when a caller changed the schema: it is then not kept

    def spoil(self) -> None:
        """About to change the schema (e.g. trying renames): never reuse this one."""
        self.dirty = True
        self.connection.exec_driver_sql("DELETE FROM alembic_version")


@contextmanager
def history_state(
    workspace: Workspace, target: Sequence[str] = (HEADS,), cache: bool = True
) -> Iterator[HistoryState]:
    """A connection to a database holding the schema the history has at `target`."""
    from project.database import database_url

    backend = database_url(workspace.settings).get_backend_name()
    if backend in ("postgresql", "mysql", "mariadb"):
        try:
            admin = workspace.engine.connect()
        except Exception as exc:  # noqa: BLE001 - unreachable: the fallback below says so
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[:1]
            note = (
                f"The database server cannot be reached ({reason[0] if reason else type(exc).__name__}); "
                "the migration history was replayed on SQLite instead."
            )
            with _sqlite_state(workspace, target, cache=False) as state:
                state.notes.append(note)
                yield state
            return
        with admin, _server_state(workspace, admin, target, cache) as state:
            yield state
    else:
        with _sqlite_state(workspace, target, cache) as state:
            yield state


def cache_key(workspace: Workspace, target: Sequence[str], server: str) -> str:
    """Everything that shapes the replayed schema; migrations that import project code can
    change without changing bytes, hence `makemigrations --no-cache`."""
    from project.fingerprint import package_versions

    digest = hashlib.sha256()
    for app in workspace.apps:
        for path in sorted(app.migrations_dir.glob("*.py")):
            digest.update(f"{app.label}/{path.name}\0".encode())
            digest.update(path.read_bytes())
    env = Path(workspace.config.get_main_option("script_location") or "") / "env.py"
    digest.update(env.read_bytes() if env.exists() else b"")
    parts = [",".join(target), server]
    parts.extend(
        package_versions(("sqlalchemy", "alembic", "manage-project", "alembic-postgresql-enum"))
    )
    digest.update("\0".join(parts).encode())
    return digest.hexdigest()[:20]


@contextmanager
def _sqlite_state(
    workspace: Workspace, target: Sequence[str], cache: bool
) -> Iterator[HistoryState]:
    import sqlite3

    from sqlalchemy.engine import make_url

    folder = workspace.settings.base_dir / CACHE_FOLDER
    folder.mkdir(exist_ok=True)
    key = cache_key(workspace, target, f"sqlite {sqlite3.sqlite_version}")
    cached = folder / f"state-{key}.sqlite3"
    descriptor, name = tempfile.mkstemp(prefix="state-", suffix=".sqlite3", dir=folder)
    os.close(descriptor)
    work = Path(name)
    engine = _engine(workspace, make_url(f"sqlite:///{work}"))
    try:
        if cache and cached.exists():
            shutil.copyfile(cached, work)
            description = "cached, SQLite"
        else:
            with engine.connect() as connection:
                _replay(workspace, connection, target)
            engine.dispose()
            if cache:
                for stale in folder.glob("state-*.sqlite3"):
                    if stale not in (work, cached):
                        stale.unlink(missing_ok=True)
                shutil.copyfile(work, f"{cached}.tmp")
                os.replace(f"{cached}.tmp", cached)
            description = "replayed, SQLite"
        with engine.connect() as connection:
            yield HistoryState(connection, description)
    finally:
        engine.dispose()
        work.unlink(missing_ok=True)


@contextmanager
def _server_state(
    workspace: Workspace, admin: Connection, target: Sequence[str], cache: bool
) -> Iterator[HistoryState]:
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    dialect = admin.dialect
    server = f"{dialect.name} {'.'.join(map(str, dialect.server_version_info or ()))}"
    project_tag = hashlib.sha1(
        f"{workspace.settings.base_dir}|{workspace.engine.url.database}".encode()
    ).hexdigest()[:8]
    key = cache_key(workspace, target, server)
    name = (
        f"{DATABASE_PREFIX}_{project_tag}_{key[:16]}"
        if cache
        else f"{DATABASE_PREFIX}_{project_tag}_tmp{os.getpid()}"
    )
    engine = _engine(workspace, workspace.engine.url.set(database=name))
    state: HistoryState | None = None
    try:
        description = "cached"
        exists = _exists(admin, name)
        connection = _connect_if_complete(workspace, engine, target) if cache and exists else None
        if connection is None:
            if exists:
                _drop(admin, name)
            _create(admin, name, workspace)
            with engine.connect() as replaying:
                _replay(workspace, replaying, target)
            description = "replayed"
            if cache:  # the project's older states (and any a killed run left) go
                for other in _project_databases(admin, f"{DATABASE_PREFIX}_{project_tag}_"):
                    if other != name:
                        _drop(admin, other)
            connection = engine.connect()
        with connection:
            state = HistoryState(connection, f"{description}, database {name}")
            yield state
    finally:
        engine.dispose()
        spoiled = not cache or (state is not None and state.dirty)
        if spoiled and _exists(admin, name):
            _drop(admin, name)


def _engine(workspace: Workspace, url: URL) -> Engine:
    """No pool: scratch databases get dropped, and a pooled connection would keep them busy."""
    from sqlalchemy.pool import NullPool

    from project.database import create_engine

    return create_engine(workspace.settings, url, poolclass=NullPool)


def _replay(workspace: Workspace, connection: Connection, target: Sequence[str]) -> None:
    from project.runner import run_steps

    run_steps(
        workspace, connection, target[0] if len(target) == 1 else tuple(target), True, record=False
    )


def _connect_if_complete(
    workspace: Workspace, engine: Engine, target: Sequence[str]
) -> Connection | None:
    """A connection to a state database whose version table is at the target (one that a
    build left half-way, or a spoiled one, is not), or None."""
    try:
        connection = engine.connect()
    except Exception:  # noqa: BLE001 - anything odd: rebuild it
        return None
    try:
        rows = set(workspace.version_rows(connection))
    except Exception:  # noqa: BLE001 - the same
        rows = None
    expected = (
        set(workspace.script.get_heads(consider_depends_on=True))
        if tuple(target) == (HEADS,)
        else set(target)
    )
    if rows != expected:
        connection.close()
        return None
    return connection


def _exists(admin: Connection, name: str) -> bool:
    return name in _project_databases(admin, name)


def _project_databases(admin: Connection, prefix: str) -> list[str]:
    from sqlalchemy import text

    # Bound through SQLAlchemy: each driver has its own parameter style (asyncpg's is $1).
    if admin.dialect.name == "postgresql":
        query = text("SELECT datname FROM pg_database WHERE datname LIKE :prefix")
    else:
        query = text(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :prefix"
        )
    return [str(row[0]) for row in admin.execute(query, {"prefix": f"{prefix}%"})]


def _create(admin: Connection, name: str, workspace: Workspace) -> None:
    from sqlalchemy.exc import DBAPIError

    try:
        admin.exec_driver_sql(f"CREATE DATABASE {name}")
    except DBAPIError as exc:
        user = workspace.engine.url.username
        privilege = (
            "CREATEDB (ALTER ROLE ... CREATEDB)"
            if admin.dialect.name == "postgresql"
            else "CREATE on *.*"
        )
        raise DatabaseError(
            f"makemigrations replays the migration history in a scratch database, and user '{user}' "
            f"may not create one ({str(exc.orig).strip().splitlines()[0]}). Grant {privilege}, "
            "or compare with the configured database instead: makemigrations --from-db."
        ) from exc


def _drop(admin: Connection, name: str) -> None:
    force = " WITH (FORCE)" if admin.dialect.name == "postgresql" else ""
    admin.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
