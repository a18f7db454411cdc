"""makemigrations run many at once, the scratch state behind it, and its bounds (issue 13)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import Project, Result, _copy_project, start

from project.engine.scratch import (
    is_scratch_name,
    is_stale,
    is_sweepable,
    parse_last_used,
    scratch_database_name,
    scratch_lock_name,
    scratch_prefix,
)

TOY = "\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n"
RUNS = 8


def _at_once(project: Project, *args: str) -> list[Result]:
    """`python manage.py args` RUNS times, all started before any is waited for."""
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=project.path,
            env=project.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(RUNS)
    ]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        results.append(Result(process.returncode, stdout, stderr))
    return results


def _scratch_databases(project: Project, prefix: str = "mstate_") -> list[str]:
    query = (
        "SELECT datname FROM pg_database"
        if project.backend == "postgresql"
        else "SELECT schema_name FROM information_schema.schemata"
    )
    return sorted(str(n) for (n,) in project.execute(query) if str(n).startswith(prefix))


def _admin(project: Project, *statements: str) -> None:
    """Statements outside a transaction (CREATE DATABASE refuses to run in one)."""
    engine = project.engine().execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    engine.dispose()


def _own_prefix(project: Project) -> str:
    return scratch_prefix(sa.engine.make_url(project.database_url))


def _rewind(project: Project) -> None:
    """Put the cached state's version rows behind the key it is cached under (what a race
    once left, on SQLite): the history's first revisions instead of its heads."""
    rewind = (
        "DELETE FROM alembic_version",
        "INSERT INTO alembic_version VALUES ('owners_0001_initial')",
    )
    if project.backend == "sqlite":
        (state,) = project.file(".manage_cache").glob("state-*.sqlite3")
        url = f"sqlite:///{state}"
    else:
        (name,) = _scratch_databases(project, _own_prefix(project))
        url = sa.engine.make_url(project.driver_url).set(database=name)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        for statement in rewind:
            connection.exec_driver_sql(statement)
    engine.dispose()


def _compared_with(project: Project) -> str:
    project.append("apps/pets/models.py", "\n# an edit: the no-change marker misses\n")
    result = project.run("makemigrations", "--check", "-v", "2", check=True)
    assert result.stdout.endswith("No changes detected\n"), str(result)
    return result.stdout.splitlines()[0]


def test_scratch_names_come_from_the_configured_database() -> None:
    url = sa.engine.make_url
    base = scratch_prefix(url("postgresql://app:secret@db.example:5432/shop"))
    assert base == scratch_prefix(url("postgresql+asyncpg://app:other@db.example:5432/shop"))
    assert base != scratch_prefix(url("postgresql://app:secret@db.example:5432/blog"))
    assert base != scratch_prefix(url("postgresql://app:secret@db2.example:5432/shop"))
    assert scratch_prefix(url("mysql://u@h/d")) == scratch_prefix(url("mariadb+pymysql://u@h/d"))
    name = scratch_database_name(url("mysql://u@h/d"), "0123456789abcdef0123")
    assert name.startswith("mstate_") and name.endswith("_0123456789abcdef") and len(name) <= 63
    assert "secret" not in base and len(scratch_lock_name(name)) <= 64  # GET_LOCK's limit
    assert is_stale(1.0, 1000.0, 10.0)
    assert not is_stale(995.0, 1000.0, 10.0) and not is_stale(None, 1000.0, 10.0)
    assert parse_last_used("manage.py scratch state (...); last used 1712345678") == 1712345678.0
    assert parse_last_used("") is None and parse_last_used(None) is None


def test_only_our_scratch_databases_are_swept() -> None:
    """Review finding 4: a user's `mstate_reports` is never ours; other projects' states go
    only when their comment is ours and old, or when uncommented in the old format."""
    own, other = "mstate_aaaaaaaaaaaa_", "mstate_bbbbbbbbbbbb_0123456789abcdef"
    old, marked = (
        "manage.py scratch state (...); last used 1",
        "manage.py scratch state; last used 999",
    )

    def swept(name: str, comment: str | None, comments: bool = True) -> bool:
        return is_sweepable(name, comment, own, comments, 1000.0, 10.0)

    assert swept(own + "0123456789abcdef", None) and swept(own + "0123456789abcdef", None, False)
    assert swept(other, old) and not swept(other, marked) and not swept(other, None)
    assert not swept(other, "a user's comment; last used 1") and not swept(other, old, False)
    assert swept("mstate_0123abcd_0123456789abcdef", None) and swept("mstate_0123abcd_tmp42", None)
    assert not swept("mstate_0123abcd_tmp42", None, False)
    assert not swept("mstate_0123abcd_tmp42", "a user's comment")
    for name in ("mstate_reports", "mstate_aaaaaaaaaaaa_reports", own + "0123456789ABCDEF"):
        assert not is_scratch_name(name) and not swept(name, old)
    assert not is_scratch_name("mstate_reports_2024_archive_0123")


def test_many_at_once_with_a_cold_cache(project: Project) -> None:
    checks = _at_once(project, "makemigrations", "--check")
    assert all(r.returncode == 0 for r in checks), "\n".join(map(str, checks))
    assert {(r.stdout, r.stderr) for r in checks} == {("No changes detected\n", "")}
    if project.backend != "sqlite":  # one scratch database for the configured database
        assert len(_scratch_databases(project, _own_prefix(project))) == 1

    # flushstate drops it all, and the next run rebuilds it
    flushed = project.run("flushstate", check=True).stdout
    assert "Removed " in flushed
    assert not list(project.file(".manage_cache").glob("state-*"))
    if project.backend != "sqlite":
        assert "Dropped the scratch database mstate_" in flushed
        assert _scratch_databases(project) == []

    project.append("apps/pets/models.py", TOY)
    made = _at_once(project, "makemigrations")
    assert all(r.returncode == 0 for r in made), "\n".join(map(str, made))
    assert [f for f in project.migrations("pets") if "toy" in f] == ["0002_toy.py"]
    writers = [r for r in made if "0002_toy.py" in r.stdout]
    assert len(writers) == 1, "\n".join(map(str, made))
    assert {r.stdout for r in made if r not in writers} == {"No changes detected\n"}

    # A cached state behind its key is found out and built again; --no-cache repairs it too.
    if project.backend == "sqlite":  # a damaged file, the same
        (state,) = project.file(".manage_cache").glob("state-*.sqlite3")
        state.write_bytes(b"not a database")
    else:
        _rewind(project)
    assert "(replayed," in _compared_with(project)
    _rewind(project)
    assert "(replayed," in project.run("makemigrations", "--check", "--no-cache", "-v", "2").stdout
    assert "(cached," in _compared_with(project)


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"], indirect=True)
def test_clones_share_one_scratch_database_and_stale_ones_go(
    project: Project, tmp_path: Path
) -> None:
    """On a server (on SQLite the state is a file in each project's folder)."""
    stale, fresh = "mstate_000000000000_0000000000000000", "mstate_000000000000_1111111111111111"
    unknown, leftover = "mstate_000000000000_2222222222222222", "mstate_00000000_tmp4242"
    user = "mstate_reports"  # a user's database, not ours (review finding 4)
    names = (stale, fresh, unknown, leftover, user)
    _admin(project, *(f"CREATE DATABASE {name}" for name in names))

    def comment_on(name: str, comment: str) -> str:
        if project.backend == "postgresql":
            return f"COMMENT ON DATABASE {name} IS '{comment}'"
        return f"ALTER DATABASE {name} COMMENT = '{comment}'"

    _admin(
        project,
        comment_on(fresh, "manage.py scratch state; last used 4102444800"),  # 2100: used lately
        comment_on(stale, "manage.py scratch state; last used 1000"),
    )
    try:
        _clones_share_one(project, tmp_path, stale, fresh, leftover)
        assert unknown in _scratch_databases(project)  # an age not known is not old
        assert user in _scratch_databases(project)
        flushed = project.run("flushstate", check=True).stdout
        assert user in _scratch_databases(project) and user not in flushed
    finally:
        _admin(project, *(f"DROP DATABASE IF EXISTS {name}" for name in names))


def _clones_share_one(
    project: Project, tmp_path: Path, stale: str, fresh: str, leftover: str
) -> None:
    first = _compared_with(project)
    assert "(replayed, database mstate_" in first
    _copy_project(tmp_path / "clone")
    clone = Project(tmp_path / "clone", project.driver_url, project.backend)
    assert _compared_with(clone) == first.replace("replayed", "cached")
    own = _scratch_databases(project, _own_prefix(project))
    assert len(own) == 1 and own[0] in first
    # an old one and an old-format leftover are dropped when a state is built; the recent stays
    everything = _scratch_databases(project)  # other tests' recent states stay too
    assert stale not in everything and leftover not in everything and fresh in everything


@pytest.mark.parametrize(
    "args",
    [
        ("makemigrations",),
        ("makemigrations", "--merge", "--noinput"),
        ("squashmigrations", "pets", "0002"),
    ],
)
def test_writers_wait_for_each_other_and_say_so(
    sqlite_project: Project, args: tuple[str, ...]
) -> None:
    """Every command that writes migration files takes makemigrations' lock in turn."""
    import fcntl
    import time

    project = sqlite_project
    project.append("apps/pets/models.py", TOY)
    if args[0] == "squashmigrations":
        project.run("makemigrations", check=True)  # pets.0002_toy, to squash with 0001
    lock = project.file(".manage_cache/makemigrations.lock")
    lock.parent.mkdir(exist_ok=True)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        waiting = start(project, *args)
        time.sleep(3)
        assert waiting.poll() is None, waiting.communicate()  # still waiting
        fcntl.flock(held, fcntl.LOCK_UN)
    _, stderr = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, stderr
    assert stderr.count("Another makemigrations in this folder is writing migrations") == 1, stderr
