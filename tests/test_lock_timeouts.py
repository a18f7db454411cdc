"""migrate under traffic (issue 15): DDL gives up waiting for a table's lock after
DDL_LOCK_TIMEOUT, the migration is retried with a doubling pause, and a blocker that never
lets go ends in a one-line error naming it. Data migrations get their own statement timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from conftest import Project, Result, assert_error, start, with_settings, write_migration

from project.backends.locks import Blocker
from project.backends.mysql import MySQLLockWaits
from project.backends.postgresql import PostgreSQLLockWaits
from project.engine.lock_waits import (
    LockRetry,
    describe_blockers,
    gave_up,
    retry_delays,
    retry_line,
    table_of,
)

ADD_WEIGHT = 'op.add_column("pets_pet", sa.Column("weight", sa.Integer(), nullable=True))'
BLOCKING_UPDATE = "UPDATE pets_pet SET name = 'Rex' WHERE id = 1"
REVISION = "pets_0002_weight"
FAST = {"DDL_LOCK_TIMEOUT": 0.2, "DDL_RETRY_DELAY": 0.2}


# --- pure pieces


def test_the_pause_before_each_retry_doubles() -> None:
    assert retry_delays(5, 1.0) == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert retry_delays(0, 1.0) == []
    assert retry_delays(3, 0.2) == pytest.approx([0.2, 0.4, 0.8])


def test_the_retry_line_names_the_table_the_blocker_and_the_count() -> None:
    blocker = Blocker(1234, "idle in transaction", "UPDATE pets_pet SET name = 'x'   WHERE id = 1")
    retry = LockRetry("pets.0002_weight", "pets_pet", (blocker,), 2.0, 2, 5)
    assert retry_line(retry) == (
        "Lock timeout on pets_pet (blocked by pid 1234: UPDATE pets_pet SET name = 'x' WHERE "
        "id = 1); retrying in 2 s (2/5)"
    )
    unknown = LockRetry("pets.0002_weight", "", (), 0.25, 1, 3)
    assert retry_line(unknown) == (
        "Lock timeout (blocked by another session); retrying in 0.25 s (1/3)"
    )


def test_a_long_query_is_cut_and_more_blockers_are_counted() -> None:
    long = Blocker(7, "active", "SELECT " + ", ".join(f"column_{n}" for n in range(40)))
    text = describe_blockers((long, Blocker(8, "idle in transaction", "")), states=True)
    assert text.startswith("blocked by pid 7 (active): SELECT column_0, column_1")
    assert text.endswith("... and 1 more") and len(text) < 100
    reason = gave_up("pets_pet", 3, (long,), 0.2)
    assert reason.startswith("lock timeout on pets_pet (3 attempts of 0.2 s, DDL_LOCK_TIMEOUT), ")


def test_the_table_a_ddl_statement_waits_for() -> None:
    assert table_of("ALTER TABLE pets_pet ADD COLUMN weight INTEGER") == "pets_pet"
    assert table_of('ALTER TABLE IF EXISTS ONLY "public"."pets_pet" DROP x') == "public.pets_pet"
    assert table_of("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix ON pets_pet (a)") == (
        "pets_pet"
    )
    assert table_of("ALTER TABLE `pets_pet` ADD c INT") == "pets_pet"
    assert table_of("UPDATE pets_pet SET a = 1") == ""
    assert table_of(None) == ""


def test_session_statements_of_each_server() -> None:
    postgresql, mysql = PostgreSQLLockWaits(), MySQLLockWaits()
    assert postgresql.timeout_statements(1.5) == (
        "SET lock_timeout = '1500ms'",
        "RESET lock_timeout",
    )
    assert postgresql.timeout_statements(0.0001)[0] == "SET lock_timeout = '1ms'"
    assert mysql.timeout_statements(0.2)[0] == "SET SESSION lock_wait_timeout = 1"
    assert mysql.timeout_statements(1.5)[0] == "SET SESSION lock_wait_timeout = 2"
    lock_not_available = SimpleNamespace(orig=SimpleNamespace(sqlstate="55P03"))
    asyncpg_style = SimpleNamespace(orig=SimpleNamespace(sqlstate=None, pgcode="55P03"))
    other = SimpleNamespace(orig=SimpleNamespace(sqlstate="57014"))
    assert postgresql.timed_out(lock_not_available) and postgresql.timed_out(asyncpg_style)  # type: ignore[arg-type]
    assert not postgresql.timed_out(other)  # type: ignore[arg-type]
    assert mysql.timed_out(SimpleNamespace(orig=SimpleNamespace(args=(1205, "Lock wait"))))  # type: ignore[arg-type]
    assert not mysql.timed_out(SimpleNamespace(orig=SimpleNamespace(args=(1064, "syntax"))))  # type: ignore[arg-type]


def test_settings_take_zero_but_not_negative_values(sqlite_project: Project) -> None:
    with_settings(sqlite_project, DDL_LOCK_TIMEOUT=0, DDL_LOCK_RETRIES=0)
    result = sqlite_project.python(
        "from project.settings import load_settings; s = load_settings('settings'); "
        "print(s.ddl_lock_timeout, s.ddl_lock_retries, s.ddl_retry_delay, "
        "s.data_migration_statement_timeout)"
    )
    assert result.stdout.split() == ["0.0", "0", "1.0", "0.0"], str(result)
    with_settings(sqlite_project, DDL_LOCK_RETRIES=-1)
    assert_error(sqlite_project.run("migrate"), "DDL_LOCK_RETRIES", "whole number")
    with_settings(sqlite_project, DDL_LOCK_RETRIES=1, DDL_LOCK_TIMEOUT=-0.5)
    assert_error(sqlite_project.run("migrate"), "DDL_LOCK_TIMEOUT", "0 or more")


# --- against the servers


@pytest.fixture(params=["postgresql", "mariadb"])
def busy(request: pytest.FixtureRequest, make_project) -> Project:  # type: ignore[no-untyped-def]
    return _busy(make_project(request.param))


def _busy(project: Project) -> Project:
    """pets.0001 applied, one owner and one pet; pets.0002 adds a column to pets_pet."""
    project.run("migrate", check=True)
    project.insert("owners_owner", id=1, name="Ann", email="ann@example.com")
    project.insert("pets_pet", id=1, name="Tom", owner_id=1)
    write_migration(project, "pets", "0002_weight", "pets_0001_initial", ADD_WEIGHT)
    return project


@dataclass
class Held:
    pid: int
    release: threading.Event


@contextmanager
def blocker(project: Project, statement: str = BLOCKING_UPDATE) -> Iterator[Held]:
    """A session with an open transaction that ran `statement`: it holds a lock on pets_pet
    that writes do not conflict with, and ALTER TABLE does; rolled back on leaving."""
    engine = project.engine()
    connection = engine.connect()
    try:
        pid_query = "SELECT pg_backend_pid()" if _pg(project) else "SELECT CONNECTION_ID()"
        pid = int(connection.exec_driver_sql(pid_query).scalar_one())
        connection.commit()
        connection.exec_driver_sql(statement)
        yield Held(pid, threading.Event())
    finally:
        connection.rollback()
        connection.close()
        engine.dispose()


def _pg(project: Project) -> bool:
    return project.backend == "postgresql"


def _migrate_waits(project: Project, connection: sa.Connection) -> bool:
    """Whether some session waits for a lock on pets_pet (the migrate's ALTER)."""
    if _pg(project):
        query = (
            "SELECT count(*) FROM pg_locks WHERE relation = 'pets_pet'::regclass AND NOT granted "
            "AND pid IN (SELECT pid FROM pg_stat_activity WHERE query LIKE 'ALTER TABLE%%')"
        )
    else:
        query = (
            "SELECT count(*) FROM information_schema.PROCESSLIST "
            "WHERE STATE LIKE 'Waiting for table metadata lock' AND INFO LIKE 'ALTER TABLE%%'"
        )
    return bool(connection.exec_driver_sql(query).scalar())


def _wait_until_migrate_waits(project: Project, deadline: float = 60) -> None:
    engine = project.engine()
    try:
        with engine.connect() as connection:
            ends = time.monotonic() + deadline
            while not _migrate_waits(project, connection):
                connection.rollback()
                assert time.monotonic() < ends, "migrate never reached its ALTER TABLE"
                time.sleep(0.02)
    finally:
        engine.dispose()


def _insert_latencies(project: Project, seconds: float) -> list[float]:
    """INSERTs into pets_pet, one after the other for `seconds`: how long each took."""
    engine = project.engine().execution_options(isolation_level="AUTOCOMMIT")
    latencies = []
    try:
        with engine.connect() as connection:
            ends, row = time.monotonic() + seconds, 100
            while time.monotonic() < ends:
                started = time.perf_counter()
                connection.exec_driver_sql(
                    f"INSERT INTO pets_pet (id, name, owner_id) VALUES ({row}, 'new', 1)"
                )
                latencies.append(time.perf_counter() - started)
                row += 1
                time.sleep(0.05)
    finally:
        engine.dispose()
    return latencies


def _finish(process) -> Result:  # type: ignore[no-untyped-def]
    stdout, stderr = process.communicate(timeout=120)
    return Result(process.returncode, stdout, stderr)


def _columns(project: Project) -> set[str]:
    engine = project.engine()
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns("pets_pet")}
    finally:
        engine.dispose()


def test_a_blocked_migration_is_retried_and_writes_are_not_held_up(busy: Project) -> None:
    project = busy
    with_settings(project, DDL_LOCK_RETRIES=5, **FAST)
    # MariaDB's lock_wait_timeout has whole seconds: 0.2 s becomes 1 s there.
    timeout, held_for = (0.2, 2.0) if _pg(project) else (1.0, 3.0)
    with blocker(project) as held:
        process = start(project, "migrate")
        _wait_until_migrate_waits(project)
        latencies = _insert_latencies(project, held_for)
    result = _finish(process)
    assert result.returncode == 0, str(result)
    first = result.stdout.index("  Applying pets.0002_weight... lock timeout\n")
    assert "  Lock timeout" in result.stdout[first:]
    retry = [line for line in result.stdout.splitlines() if line.startswith("  Lock timeout")]
    assert retry[0].startswith("  Lock timeout"), str(result)
    assert retry[0].endswith("retrying in 0.2 s (1/5)"), str(result)
    if _pg(project):  # PostgreSQL names the blocker; MariaDB only sessions with a transaction
        assert retry[0].startswith(
            f"  Lock timeout on pets_pet (blocked by pid {held.pid}: {BLOCKING_UPDATE}); "
        ), str(result)
    else:
        assert f"blocked by pid {held.pid}" in retry[0], str(result)
    assert result.stdout.endswith("  Applying pets.0002_weight... OK\n"), str(result)
    assert REVISION in project.versions() and "weight" in _columns(project)
    # Writes queued behind the waiting ALTER waited at most about its lock timeout, not
    # for the blocker's whole transaction (held_for seconds).
    assert len(latencies) > 5
    assert max(latencies) < timeout + 0.8, latencies
    if not _pg(project):  # carried on through the progress rows: nothing left behind
        assert project.execute("SELECT count(*) FROM manage_migration_progress") == [(0,)]


def test_a_blocker_that_never_lets_go_is_named_and_nothing_changes(busy: Project) -> None:
    project = busy
    with_settings(project, DDL_LOCK_RETRIES=2, **FAST)
    before = project.versions()
    with blocker(project) as held:
        result = project.run("migrate")
    fragments = ["Applying pets.0002_weight failed", "lock timeout on pets_pet (3 attempts"]
    fragments.append(f"blocked by pid {held.pid} (idle in transaction)")
    if _pg(project):
        fragments += [BLOCKING_UPDATE, "It was rolled back"]
    else:
        fragments.append("None of its statements stayed applied")
    assert_error(result, *fragments)
    retries = [line for line in result.stdout.splitlines() if line.startswith("  Lock timeout")]
    assert [line.split("; ")[-1] for line in retries] == [
        "retrying in 0.2 s (1/2)",
        "retrying in 0.4 s (2/2)",
    ], str(result)
    assert project.versions() == before and "weight" not in _columns(project)
    again = project.run("migrate")  # nothing is left in the way of the next run
    assert again.returncode == 0, str(again)
    assert "weight" in _columns(project)


def test_an_autocommit_migration_is_retried_under_the_same_timeout(
    make_project,  # type: ignore[no-untyped-def]
) -> None:
    """A migration that runs outside a transaction (atomic = False: idempotent steps) keeps the
    session's lock_timeout inside its autocommit block, and runs again from its start."""
    project: Project = make_project("postgresql")
    project.run("migrate", check=True)
    write_migration(
        project,
        "pets",
        "0002_weight",
        "pets_0001_initial",
        'op.execute("CREATE TABLE IF NOT EXISTS pets_tag (id integer)")\n'
        "with op.get_context().autocommit_block():\n"
        '    op.execute("ALTER TABLE pets_pet ADD COLUMN IF NOT EXISTS weight integer")',
    )
    project.append("apps/pets/migrations/0002_weight.py", "\natomic = False\n")
    with_settings(project, DDL_LOCK_RETRIES=5, **FAST)
    with blocker(project, "SELECT * FROM pets_pet"):
        process = start(project, "migrate")
        _wait_until_migrate_waits(project)
        time.sleep(0.5)
    result = _finish(process)
    assert result.returncode == 0, str(result)
    assert "  Lock timeout on pets_pet (blocked by pid" in result.stdout, str(result)
    assert result.stdout.endswith("  Applying pets.0002_weight... OK\n"), str(result)
    assert "weight" in _columns(project) and "pets_tag" in project.tables()
    assert project.execute("SHOW lock_timeout") == [("0",)]  # other sessions: untouched


def test_a_migration_that_committed_part_of_itself_is_not_run_again(
    make_project,  # type: ignore[no-untyped-def]
) -> None:
    """Without atomic = False, a migration whose autocommit block committed before the lock
    timeout is not retried (its committed part would run twice), and the error says that
    part stayed applied."""
    project: Project = make_project("postgresql")
    project.run("migrate", check=True)
    write_migration(
        project,
        "pets",
        "0002_weight",
        "pets_0001_initial",
        "with op.get_context().autocommit_block():\n"
        '    op.execute("CREATE TABLE pets_tag (id integer)")\n'
        'op.execute("ALTER TABLE pets_pet ADD COLUMN weight integer")',
    )
    with_settings(project, DDL_LOCK_RETRIES=5, **FAST)
    with blocker(project, "SELECT * FROM pets_pet"):
        result = project.run("migrate")
    assert result.returncode == 1, str(result)
    assert "Lock timeout on pets_pet" not in result.stdout  # not retried
    assert "It committed part of itself before (an autocommit_block)" in result.stderr
    assert "pets_tag" in project.tables() and "weight" not in _columns(project)


DATA_MIGRATION = '''"""pets.0002_slow"""

import sqlalchemy as sa

from project.data import data_migration

revision = "pets_0002_slow"
down_revision = "pets_0001_initial"
branch_labels = None
depends_on = None


def forward(session):
    session.execute(sa.text("SELECT pg_sleep(0.6)"))


upgrade, downgrade = data_migration(forward, forward)
'''


def test_data_migrations_run_under_their_own_statement_timeout(
    make_project,  # type: ignore[no-untyped-def]
) -> None:
    project: Project = make_project("postgresql")
    project.run("migrate", check=True)
    project.file("apps/pets/migrations/0002_slow.py").write_text(DATA_MIGRATION)
    write_migration(
        project, "pets", "0003_sleep", "pets_0002_slow", 'op.execute("SELECT pg_sleep(0.6)")'
    )
    with_settings(project, DATA_MIGRATION_STATEMENT_TIMEOUT=0.2)
    assert_error(
        project.run("migrate"),
        "Applying pets.0002_slow failed",
        "canceling statement due to statement timeout",
    )
    assert "pets_0002_slow" not in project.versions()
    with_settings(project, DATA_MIGRATION_STATEMENT_TIMEOUT=5)
    done = project.run("migrate")  # op.execute is not a data migration: no limit
    assert done.returncode == 0, str(done)
    assert "pets_0003_sleep" in project.versions()


def test_sqlmigrate_shows_the_lock_timeout_first(make_project) -> None:  # type: ignore[no-untyped-def]
    project: Project = make_project("postgresql")
    out = project.run("sqlmigrate", "pets", "0001", check=True).stdout
    assert out.startswith("SET lock_timeout = '1500ms';\n\nBEGIN;\n"), out
    with_settings(project, DDL_LOCK_TIMEOUT=0.25)
    out = project.run("sqlmigrate", "pets", "0001", check=True).stdout
    assert out.startswith("SET lock_timeout = '250ms';\n"), out
    with_settings(project, DDL_LOCK_TIMEOUT=0)
    assert project.run("sqlmigrate", "pets", "0001", check=True).stdout.startswith("BEGIN;")


def test_mariadb_carries_on_after_the_operations_that_committed(
    make_project,  # type: ignore[no-untyped-def]
) -> None:
    """There DDL commits as it runs: the retry skips what committed (project.engine.resume)."""
    project: Project = make_project("mariadb")
    project.run("migrate", check=True)
    create = 'op.create_table("pets_tag", sa.Column("id", sa.Integer(), primary_key=True))'
    write_migration(project, "pets", "0002_weight", "pets_0001_initial", f"{create}\n{ADD_WEIGHT}")
    with_settings(project, DDL_LOCK_RETRIES=3, **FAST)
    with blocker(project, "SELECT * FROM pets_pet FOR UPDATE"):
        process = start(project, "migrate")
        _wait_until_migrate_waits(project)
        time.sleep(1.5)  # past its lock_wait_timeout (1 s)
    result = _finish(process)
    assert result.returncode == 0, str(result)
    assert "  Lock timeout on pets_pet (blocked by pid" in result.stdout, str(result)
    assert result.stdout.endswith(
        "  Applying pets.0002_weight (carrying on after operation 1)... OK\n"
    ), str(result)
    assert "pets_tag" in project.tables() and "weight" in _columns(project)
    assert project.execute("SELECT count(*) FROM manage_migration_progress") == [(0,)]


def test_asyncpg_times_out_and_names_the_lock_holders_after_the_failure(
    make_project,  # type: ignore[no-untyped-def]
) -> None:
    """asyncpg: no watcher (a second connection would need the event loop); the table's lock
    holders are read once the statement gave up."""
    project = _busy(make_project("postgresql"))
    url = sa.engine.make_url(project.driver_url).set(drivername="postgresql+asyncpg")
    project.env["DATABASE_URL"] = url.render_as_string(hide_password=False)
    with_settings(project, DDL_LOCK_RETRIES=1, **FAST)
    with blocker(project) as held:
        result = project.run("migrate")
    assert_error(
        result,
        "lock timeout on pets_pet (2 attempts",
        f"blocked by pid {held.pid} (idle in transaction): {BLOCKING_UPDATE}",
        "It was rolled back",
    )
    assert "retrying in 0.2 s (1/1)" in result.stdout, str(result)
    assert "weight" not in _columns(project)
