"""project.engine.status_cache and project.engine.fast_status in process: the cached history
equals the loaded one, its key follows every file that shapes it, and the light reader
declines what it cannot read exactly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tiny_project import TinyProject

from project.engine import fast_status, status_cache
from project.engine.history import History
from project.engine.workspace import Workspace

CUSTOMER = "op.create_table('crm_customer', sa.Column('id', sa.Integer(), nullable=False))"


def _loaded(tiny: TinyProject) -> tuple[Workspace, History]:
    workspace = Workspace(tiny.settings)
    return workspace, workspace.history


def _graph(tiny: TinyProject) -> None:
    crm = tiny.migration("crm", "0001_initial", CUSTOMER)
    tiny.migration("crm", "0002_more", "pass", down=crm, extra="atomic = False")
    tiny.migration("shop", "0001_initial", "pass", depends_on=crm)
    tiny.migration(
        "shop", "0002_squashed", "pass", down="shop_0001_initial", extra='replaces = ("x", "y")'
    )


def test_the_cached_history_equals_the_loaded_one(tiny: TinyProject) -> None:
    _graph(tiny)
    workspace, history = _loaded(tiny)
    cached = status_cache.read(tiny.settings.base_dir, workspace.apps)
    assert cached is not None  # loading the history wrote it
    assert cached.migrations == history.migrations
    assert [m.revision for m in cached.migrations if not m.atomic] == ["crm_0002_more"]
    assert cached.by_revision["shop_0002_squashed"].replaces == ("x", "y")
    assert cached.by_revision["shop_0001_initial"].dependencies == ("crm_0001_initial",)
    assert cached.conflicts() == history.conflicts() == {}


def test_dump_and_parse_round_trip(tiny: TinyProject) -> None:
    _graph(tiny)
    workspace, history = _loaded(tiny)
    text = status_cache.dump(history, "k1")
    parsed = status_cache.parse(text, "k1", workspace.apps)
    assert parsed is not None and parsed.migrations == history.migrations
    assert status_cache.parse(text, "k2", workspace.apps) is None  # another key


@pytest.mark.parametrize(
    "text",
    ["", "{", "[]", '{"key": "k1"}', '{"key": "k1", "migrations": [{"name": 1}]}', "null"],
)
def test_an_unreadable_cache_is_none(tiny: TinyProject, text: str) -> None:
    assert status_cache.parse(text, "k1", Workspace(tiny.settings).apps) is None


def test_the_key_follows_the_files(tiny: TinyProject) -> None:
    crm = tiny.migration("crm", "0001_initial", CUSTOMER)
    apps = Workspace(tiny.settings).apps
    keys = [status_cache.files_key(apps)]
    path = tiny.migrations_dir("crm") / "0001_initial.py"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched
    keys.append(status_cache.files_key(apps))
    tiny.migration("crm", "0002_more", "pass", down=crm)  # a file added
    keys.append(status_cache.files_key(apps))
    (tiny.app_dir("shop") / "models.py").write_text("# a model edited\n")
    keys.append(status_cache.files_key(apps))
    keys.append(status_cache.files_key(list(reversed(apps))))  # INSTALLED_APPS reordered
    (tiny.migrations_dir("crm") / "0002_more.py").unlink()  # a file removed
    keys.append(status_cache.files_key(apps))
    assert len(set(keys)) == len(keys)
    assert status_cache.files_key(apps) == keys[-1]  # stable while nothing changes


def test_bytecode_caches_are_not_in_the_key(tiny: TinyProject) -> None:
    tiny.migration("crm", "0001_initial", CUSTOMER)
    apps = Workspace(tiny.settings).apps
    before = status_cache.files_key(apps)
    cache = tiny.migrations_dir("crm") / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "0001_initial.cpython-311.pyc").write_bytes(b"x")
    assert status_cache.files_key(apps) == before


def test_a_read_only_folder_keeps_no_cache(tiny: TinyProject, tmp_path: Path) -> None:
    _graph(tiny)
    workspace, history = _loaded(tiny)
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    status_cache.write(
        blocked, status_cache.files_key(workspace.apps), history
    )  # .manage_cache cannot be made
    assert status_cache.read(blocked, workspace.apps) is None


@pytest.mark.parametrize(
    ("url", "found"),
    [
        ("sqlite:///db.sqlite3", "db.sqlite3"),
        ("sqlite+pysqlite:///db.sqlite3", "db.sqlite3"),
        ("SQLITE:///db.sqlite3", "db.sqlite3"),
        ("sqlite:///missing.sqlite3", None),
        ("sqlite:///db.sqlite3?timeout=5", None),
        ("sqlite+aiosqlite:///db.sqlite3", None),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///db%2Esqlite3", None),
        ("postgresql://u:p@localhost/db", None),
        ("not a url", None),
    ],
)
def test_only_a_plain_sqlite_file_is_read(tmp_path: Path, url: str, found: str | None) -> None:
    (tmp_path / "db.sqlite3").write_bytes(b"")
    expected = tmp_path / found if found else None
    assert fast_status.sqlite_file(url, tmp_path) == expected


def test_an_absolute_sqlite_path(tmp_path: Path) -> None:
    (tmp_path / "db.sqlite3").write_bytes(b"")
    assert fast_status.sqlite_file(f"sqlite:///{tmp_path}/db.sqlite3", Path("/elsewhere")) == (
        tmp_path / "db.sqlite3"
    )


def test_records_read_as_the_recorder_reads_them(tiny: TinyProject) -> None:
    """The light reader's records equal project.engine.recorder.read's, on tables it wrote."""
    from project.engine import recorder

    _graph(tiny)
    workspace, history = _loaded(tiny)
    with workspace.connect() as connection:
        recorder.ensure(connection)
        for migration in history.migrations[:2]:
            recorder.applied(connection, migration, 0.25, faked=False)
        recorder.applied(connection, history.migrations[2], None, faked=True, backfill=True)
        connection.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        connection.exec_driver_sql("INSERT INTO alembic_version VALUES ('crm_0002_more')")
        connection.commit()
        expected = recorder.read(connection)
    path = fast_status.sqlite_file(tiny.settings.database_url, tiny.settings.base_dir)
    assert path is not None
    rows, records = fast_status.read_tables(path)
    assert rows == ("crm_0002_more",)
    assert records == expected


def test_a_database_without_a_version_table_is_not_plain(tiny: TinyProject) -> None:
    _graph(tiny)
    workspace, _ = _loaded(tiny)
    with workspace.connect() as connection:
        connection.exec_driver_sql("CREATE TABLE other (id INTEGER)")
        connection.commit()
    assert fast_status.snapshot(tiny.settings, workspace.apps) is None


def test_postgresql_parameters_read_plain_urls_only() -> None:
    from project.engine.fast_status import postgresql_parameters

    assert postgresql_parameters("postgresql://u:p%40ss@db.example:5433/shop") == {
        "host": "db.example",
        "user": "u",
        "password": "p@ss",
        "dbname": "shop",
        "port": "5433",
    }
    assert postgresql_parameters("postgresql+psycopg://u@h/d") == {
        "host": "h",
        "user": "u",
        "dbname": "d",
    }
    for other in (
        "postgresql+asyncpg://u:p@h/d",  # another driver
        "postgresql+psycopg2://u:p@h/d",
        "postgresql://u:p@h/d?sslmode=require",  # options: the full path reads them
        "postgresql://u:p@/d",  # a socket folder
        "postgresql://u:p@h",  # no database
        "postgresql://u:p@h:port/d",  # a port that is no number
        "mysql://u:p@h/d",
    ):
        assert postgresql_parameters(other) is None, other
