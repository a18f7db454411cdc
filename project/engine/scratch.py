"""The schema the migration files produce, replayed into a scratch database of the same kind.

makemigrations compares the models with it rather than with the configured database, as
Django does: a table that exists only in the live database is never seen, so never
dropped, and the command works whether that database is empty, behind, ahead on another
branch, or unreachable. The replayed schema is cached, keyed by everything that shapes it
(the migration files, env.py, the target revisions, the server and library versions).

- SQLite: a database file `.manage_cache/state-<key>.sqlite3`, copied for each use. It is
  built in a private file and renamed into place (atomic), and a copy is used only when
  its version rows are the target it is keyed by; otherwise it is built again.
- PostgreSQL, MySQL/MariaDB: a database `mstate_<tag>_<key>` on the configured server, the
  tag a hash of the configured server and database (never the folder, never the password):
  clones of a project in any folders share one. Each is built, checked and used under a
  server lock named after it (an advisory lock; GET_LOCK), so concurrent runs take turns
  on it and none drops one another is using. When a new one is built, the other states of
  the configured database, and any state on the server unused for
  SCRATCH_DATABASE_MAX_AGE seconds, are dropped unless in use. `flushstate` drops them all.
  Needs the right to create databases; the error says so.
- A server that cannot be reached: SQLite in a temporary file instead, with a note.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from project.backends import server_backend_for
from project.errors import DatabaseError, ProjectError

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import URL

    from project.backends import ServerBackend
    from project.engine.workspace import Workspace

CACHE_FOLDER = ".manage_cache"
DATABASE_PREFIX = "mstate"
HEADS = "heads"
SCRATCH_NOTE = "a copy of the migration history, not your data"
PRIVATE_PREFIXES = ("work-", ".tmp-")  # a run's own files in the cache folder (_work_file)
SCRATCH_MARKER = "manage.py scratch state"  # how every comment _touch writes begins
# Exactly the names we create: mstate_<tag>_<key> now, mstate_<folder tag>_<key or tmp<pid>>
# before 2 (no comments then). Nothing else is ever dropped: `mstate_reports` is a user's.
_SCRATCH_NAME = re.compile(rf"{DATABASE_PREFIX}_[0-9a-f]{{12}}_[0-9a-f]{{16}}")
_OLD_SCRATCH_NAME = re.compile(rf"{DATABASE_PREFIX}_[0-9a-f]{{8}}_(?:[0-9a-f]{{16}}|tmp[0-9]+)")
_LAST_USED = re.compile(r"last used (\d+)")


def scratch_prefix(url: URL) -> str:
    """`mstate_<tag>_`: the tag names the configured server and database (backend family,
    host, port, user, database), not the folder the project sits in nor the password."""
    server = server_backend_for(url.get_backend_name())
    family = server.family if server else url.get_backend_name()
    configured = "|".join(
        (family, url.host or "", str(url.port or ""), url.username or "", url.database or "")
    )
    return f"{DATABASE_PREFIX}_{hashlib.sha1(configured.encode()).hexdigest()[:12]}_"


def scratch_database_name(url: URL, key: str) -> str:
    """The scratch database of the configured database `url` for the cache key `key`: 36
    characters, within PostgreSQL's 63 and MySQL's 64."""
    return f"{scratch_prefix(url)}{key[:16]}"


def scratch_lock_name(name: str) -> str:
    """The server lock held while a scratch database is built, checked, used or dropped."""
    return f"manage.py state {name}"


def is_stale(last_used: float | None, now: float, max_age: float) -> bool:
    """Unused for longer than `max_age` seconds; an unknown age is never stale (it may be
    another project's state on a server without database comments)."""
    return last_used is not None and now - last_used > max_age


def is_scratch_name(name: str) -> bool:
    """A name of the formats we create (now or before), and no other."""
    return bool(_SCRATCH_NAME.fullmatch(name) or _OLD_SCRATCH_NAME.fullmatch(name))


def is_sweepable(
    name: str, comment: str | None, own_prefix: str, comments: bool, now: float, max_age: float
) -> bool:
    """Whether a build's sweep may drop `name` (if no run holds it): a state of the
    configured database other than the one kept; another project's only if its comment is
    ours and says it is unused for `max_age` seconds, or if it is uncommented in the old
    format (the pile-up older versions left). `comments`: the server keeps database
    comments we can read (not MySQL, not MariaDB before 10.5); without them only the
    configured database's own states go."""
    if _SCRATCH_NAME.fullmatch(name) and name.startswith(own_prefix):
        return True
    if not comments or not is_scratch_name(name):
        return False
    if comment and comment.startswith(SCRATCH_MARKER):
        return is_stale(parse_last_used(comment), now, max_age)
    return not comment and bool(_OLD_SCRATCH_NAME.fullmatch(name))


def parse_last_used(comment: str | None) -> float | None:
    match = _LAST_USED.search(comment or "")
    return float(match.group(1)) if match else None


def describe_scratch(name: str) -> str:
    """How messages name a scratch database, so nobody fears for their data."""
    return f"the scratch database {name} ({SCRATCH_NOTE})"


@dataclass
class HistoryState:
    connection: Connection
    description: str  # where it was built, for -v 2
    notes: list[str] = field(default_factory=list)  # worth telling the user
    dirty: bool = False  # set when a caller changed the schema: it is then not kept

    def spoil(self) -> None:
        """About to change the schema (e.g. trying renames): never reuse this one."""
        from project.adapter import version_table

        self.dirty = True
        version_table.clear(self.connection)


@contextmanager
def history_state(
    workspace: Workspace, target: Sequence[str] = (HEADS,), cache: bool = True
) -> Iterator[HistoryState]:
    """A connection to a database holding the schema the history has at `target`."""
    from project.backends.connections import database_url

    server = server_backend_for(database_url(workspace.settings).get_backend_name())
    if server is not None:
        try:
            admin = workspace.engine.connect()
        except Exception as exc:  # noqa: BLE001 - unreachable: the fallback below says so
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[:1]
            note = (
                f"The database server cannot be reached ({reason[0] if reason else type(exc).__name__}); "
                "the migration history was replayed on SQLite instead."
            )
            with _sqlite_state(workspace, target, cache=False, store=False) as state:
                state.notes.append(note)
                yield state
            return
        with admin, _server_state(workspace, server, admin, target, cache) as state:
            yield state
    else:
        with _sqlite_state(workspace, target, cache) as state:
            yield state


def cache_key(workspace: Workspace, target: Sequence[str], server: str) -> str:
    """Everything that shapes the replayed schema; migrations that import project code can
    change without changing bytes, hence `makemigrations --no-cache`."""
    from project.engine.fingerprint import package_versions

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
    workspace: Workspace, target: Sequence[str], cache: bool, store: bool = True
) -> Iterator[HistoryState]:
    """A private copy of the cached file (or a fresh replay, which then replaces the cached
    file: so `--no-cache` repairs a bad one too)."""
    import sqlite3

    from sqlalchemy.engine import make_url

    folder = workspace.settings.base_dir / CACHE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    key = cache_key(workspace, target, f"sqlite {sqlite3.sqlite_version}")
    cached = folder / f"state-{key}.sqlite3"
    # Not named state-*: those are the cache entries, which other runs may delete.
    with _work_file(folder, "work-") as work:
        engine = _engine(workspace, make_url(f"sqlite:///{work}"))
        try:
            yield from _sqlite_use(workspace, target, cache, store, folder, cached, work, engine)
        finally:
            engine.dispose()


def _sqlite_use(
    workspace: Workspace,
    target: Sequence[str],
    cache: bool,
    store: bool,
    folder: Path,
    cached: Path,
    work: Path,
    engine: Engine,
) -> Iterator[HistoryState]:
    description = "cached, SQLite"
    if not (cache and _copy_if_complete(workspace, cached, work, engine, target)):
        work.write_bytes(b"")
        with engine.connect() as connection:
            _replay(workspace, connection, target, f"a scratch SQLite file ({SCRATCH_NOTE})")
        engine.dispose()
        if store:
            _store(folder, work, cached)
        description = "replayed, SQLite"
    with engine.connect() as connection:
        yield HistoryState(connection, description)


@contextmanager
def _work_file(folder: Path, prefix: str) -> Iterator[Path]:
    """A private file in the cache folder, under a shared flock while it is used (removed
    after): cleaners (flushstate, _store) remove only files they can lock exclusively, so
    never one in use, however long a run waits at a prompt."""
    import fcntl

    while True:
        descriptor, name = tempfile.mkstemp(prefix=prefix, suffix=".sqlite3", dir=folder)
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        try:
            ours = os.stat(name).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            ours = False
        if ours:
            break
        os.close(descriptor)  # a cleaner removed it before we locked it: take another
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)
        os.close(descriptor)


def remove_unless_in_use(path: Path) -> bool:
    """Remove a private file (or its SQLite journal) unless a run holds it (_work_file);
    True if removed."""
    import fcntl

    owner = path
    for suffix in ("-journal", "-wal", "-shm"):
        if path.name.endswith(suffix):
            owner = path.with_name(path.name.removesuffix(suffix))
    try:
        descriptor = os.open(owner, os.O_RDONLY)
    except FileNotFoundError:  # the file it belonged to is gone: a leftover
        path.unlink(missing_ok=True)
        return True
    except OSError:  # not ours to read: not ours to remove
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        path.unlink(missing_ok=True)
        return True
    finally:
        os.close(descriptor)


def _copy_if_complete(
    workspace: Workspace, cached: Path, work: Path, engine: Engine, target: Sequence[str]
) -> bool:
    """Copy the cached state to `work` if it is there and at its target (copyfile reads one
    inode: an entry renamed over or deleted meanwhile is read whole or not at all)."""
    try:
        shutil.copyfile(cached, work)
    except OSError:  # gone, or not readable (another user's, say): build it again
        return False
    try:
        with engine.connect() as connection:
            rows = set(workspace.version_rows(connection))
    except Exception:  # noqa: BLE001 - a damaged file: build it again
        rows = None
    engine.dispose()
    return rows == _expected_rows(workspace, target)


def _store(folder: Path, work: Path, cached: Path) -> None:
    """Put a built state in the cache: written under a private name, then renamed (atomic),
    so a reader sees the old entry or the new one, never half of one. Other entries go, and
    private files a killed run left (no run holds their locks)."""
    with _work_file(folder, ".tmp-") as name:
        shutil.copyfile(work, name)
        _shareable(name)
        os.replace(name, cached)
    for path in folder.iterdir():
        if path.name.startswith("state-") and path.suffix == ".sqlite3" and path != cached:
            path.unlink(missing_ok=True)
        elif path.name.startswith(PRIVATE_PREFIXES) and path != work:
            remove_unless_in_use(path)


def shared_mode(umask: int) -> int:
    """The mode a cache entry gets: what open() would give (mkstemp's 0600 would keep it
    from the others who share the folder)."""
    return 0o666 & ~umask


def _shareable(path: Path) -> None:
    mask = os.umask(0)
    os.umask(mask)
    path.chmod(shared_mode(mask))


@contextmanager
def _server_state(
    workspace: Workspace,
    server: ServerBackend,
    admin: Connection,
    target: Sequence[str],
    cache: bool,
) -> Iterator[HistoryState]:
    from project.engine.locking import named_lock

    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    dialect = admin.dialect
    version = f"{dialect.name} {'.'.join(map(str, dialect.server_version_info or ()))}"
    name = scratch_database_name(workspace.engine.url, cache_key(workspace, target, version))
    timeout = workspace.settings.migrate_lock_timeout

    def timed_out() -> DatabaseError:
        return DatabaseError(
            f"Another command has held {describe_scratch(name)} for over {timeout:g} s. Wait "
            "for it to finish, or raise MIGRATE_LOCK_TIMEOUT in settings."
        )

    # Held from before the database is looked at until it is no longer used: others wait,
    # and no sweep drops it meanwhile.
    with named_lock(server, admin, scratch_lock_name(name), timeout, timed_out):
        engine = _engine(workspace, workspace.engine.url.set(database=name))
        state: HistoryState | None = None
        try:
            description = "cached"
            connection = None
            if cache and _exists(server, admin, name):
                connection = _connect_if_complete(workspace, engine, target)
            if connection is None:
                _drop(server, admin, name)  # a stale or half-built one (ours: we hold its lock)
                _create(server, admin, name, workspace)
                _touch(server, admin, name)
                with engine.connect() as replaying:
                    _replay(workspace, replaying, target, describe_scratch(name))
                description = "replayed"
                _sweep(workspace, server, admin, keep=name)
                connection = engine.connect()
            else:
                _touch(server, admin, name)
            with connection:
                state = HistoryState(connection, f"{description}, database {name}")
                yield state
        finally:
            engine.dispose()
            if state is None or state.dirty:  # a failed build, or a changed schema: not kept
                _drop(server, admin, name)


def _engine(workspace: Workspace, url: URL) -> Engine:
    """No pool: scratch databases get dropped, and a pooled connection would keep them busy."""
    from sqlalchemy.pool import NullPool

    from project.backends.connections import create_engine

    return create_engine(workspace.settings, url, poolclass=NullPool)


def _replay(
    workspace: Workspace, connection: Connection, target: Sequence[str], where: str
) -> None:
    """Run the migrations up to `target`; a failure says it happened in the scratch state
    (undo nothing by hand: it is rebuilt)."""
    from project.engine.runner import run_steps

    try:
        run_steps(
            workspace,
            connection,
            target[0] if len(target) == 1 else tuple(target),
            True,
            record=False,
        )
    except ProjectError as exc:
        raise type(exc)(
            f"Replaying the migration history into {where} failed; nothing of yours was "
            f"touched, and the scratch state is built again on the next run. {exc.message}",
            exc.exit_code,
        ) from exc


def _expected_rows(workspace: Workspace, target: Sequence[str]) -> set[str]:
    if tuple(target) == (HEADS,):
        return set(workspace.script.get_heads(consider_depends_on=True))
    return set(target) - {"base"}


def _connect_if_complete(
    workspace: Workspace, engine: Engine, target: Sequence[str]
) -> Connection | None:
    """A connection to a state database whose version table is at the target (one that a
    build left half-way, a spoiled one, or one rewound behind its key, is not), or None."""
    try:
        connection = engine.connect()
    except Exception:  # noqa: BLE001 - anything odd: rebuild it
        return None
    try:
        rows = set(workspace.version_rows(connection))
    except Exception:  # noqa: BLE001 - the same
        rows = None
    if rows != _expected_rows(workspace, target):
        connection.close()
        return None
    return connection


def _exists(server: ServerBackend, admin: Connection, name: str) -> bool:
    return name in (found for found, _ in _scratch_databases(server, admin, name))


def _scratch_databases(
    server: ServerBackend, admin: Connection, prefix: str
) -> list[tuple[str, str | None]]:
    """The scratch databases (is_scratch_name) on the server whose names start with
    `prefix`, with their comments (None: none, or none to read)."""
    return [
        (found, comment)
        for found, comment in server.list_databases(admin, prefix)
        if is_scratch_name(found) and found.startswith(prefix)
    ]


def _touch(server: ServerBackend, admin: Connection, name: str) -> None:
    """Say when the state was last used, where the sweep of any project can read it."""
    comment = f"{SCRATCH_MARKER} ({SCRATCH_NOTE}); last used {int(time.time())}"
    server.comment_database(admin, name, comment)


def _sweep(workspace: Workspace, server: ServerBackend, admin: Connection, keep: str) -> None:
    """Drop the configured database's other states, and any state on the server unused for
    SCRATCH_DATABASE_MAX_AGE seconds (a project folder deleted, a CI run's database gone);
    never one in use, never one that is not ours (is_sweepable)."""
    own = scratch_prefix(workspace.engine.url)
    now, max_age = time.time(), workspace.settings.scratch_database_max_age
    comments = server.reads_comments_of(admin)
    for name, comment in _scratch_databases(server, admin, f"{DATABASE_PREFIX}_"):
        if name != keep and is_sweepable(name, comment, own, comments, now, max_age):
            _drop_unless_in_use(server, admin, name)


def _drop_unless_in_use(server: ServerBackend, admin: Connection, name: str) -> bool:
    """Drop `name` unless another run holds its lock (on PostgreSQL, also unless someone is
    connected: DROP DATABASE without FORCE refuses then). True if dropped."""
    from sqlalchemy.exc import DBAPIError

    lock = scratch_lock_name(name)
    if server.named_lock_held(admin, lock) or not server.try_named_lock(admin, lock):
        return False
    try:
        server.drop_database(admin, name)
    except DBAPIError:  # in use, or not ours to drop
        return False
    finally:
        server.release_named_lock(admin, lock)
    return True


def _create(server: ServerBackend, admin: Connection, name: str, workspace: Workspace) -> None:
    from sqlalchemy.exc import DBAPIError

    try:
        server.create_database(admin, name)
    except DBAPIError as exc:
        user = workspace.engine.url.username
        raise DatabaseError(
            f"makemigrations replays the migration history in a scratch database ({name}, "
            f"{SCRATCH_NOTE}), and user '{user}' may not create one "
            f"({str(exc.orig).strip().splitlines()[0]}). Grant {server.create_privilege}, or "
            "compare with the configured database instead: makemigrations --from-db."
        ) from exc


def _drop(server: ServerBackend, admin: Connection, name: str) -> None:
    """Drop one whose lock we hold, if it exists (FORCE: a connection of a killed run may
    linger). Checked first: a user who may not create databases may not drop any either."""
    from sqlalchemy.exc import DBAPIError

    if not _exists(server, admin, name):
        return
    try:
        server.drop_database(admin, name, force=True)
    except DBAPIError as exc:
        raise DatabaseError(
            f"Cannot drop {describe_scratch(name)}: {str(exc.orig).strip().splitlines()[0]}. "
            "Drop it by hand, or run: python manage.py flushstate."
        ) from exc


@dataclass
class ClearedStates:
    files: list[str] = field(default_factory=list)  # removed from .manage_cache/
    dropped: list[str] = field(default_factory=list)  # scratch databases dropped
    in_use: list[str] = field(default_factory=list)  # left: another run holds them (or not ours)
    note: str = ""  # e.g. the server cannot be reached


def clear_states(workspace: Workspace) -> ClearedStates:
    """Drop every cached state: this project's files, and on a server every scratch database
    (every project's: they are all rebuilt when needed) that no run is using."""
    from project.backends.connections import database_url
    from project.engine.status_cache import CACHE_FILE as STATUS_CACHE

    cleared = ClearedStates()
    folder = workspace.settings.base_dir / CACHE_FOLDER
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            # Lock files stay: unlinking one that a run holds would let a second run in;
            # so do the private files of runs going on. The status commands' cache is no
            # state: it checks itself against the files (project.engine.status_cache).
            if not path.is_file() or path.name.endswith(".lock") or path.name == STATUS_CACHE:
                continue
            if path.name.startswith(PRIVATE_PREFIXES):
                if remove_unless_in_use(path):
                    cleared.files.append(path.name)
            else:
                path.unlink(missing_ok=True)
                cleared.files.append(path.name)
    server = server_backend_for(database_url(workspace.settings).get_backend_name())
    if server is None:
        return cleared
    try:
        admin = workspace.engine.connect()
    except Exception as exc:  # noqa: BLE001 - said in the result
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[:1]
        cleared.note = (
            "The database server cannot be reached "
            f"({reason[0] if reason else type(exc).__name__}); no scratch database was dropped."
        )
        return cleared
    with admin:
        admin = admin.execution_options(isolation_level="AUTOCOMMIT")
        for name, _ in _scratch_databases(server, admin, f"{DATABASE_PREFIX}_"):
            dropped = _drop_unless_in_use(server, admin, name)
            (cleared.dropped if dropped else cleared.in_use).append(name)
    return cleared
