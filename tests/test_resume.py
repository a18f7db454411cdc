"""MySQL/MariaDB migrations resume where a killed or failed run stopped (DDL commits as it
runs there, so a migration can stop half applied)."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Project, assert_error, write_migration

PAUSE = 'time.sleep(float(os.environ.get("PAUSE", "0")))'
MANY = f"""
marker = os.environ.get("STARTED_MARKER")
if marker:
    Path(marker).touch()
op.create_table("res_a", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(20)))
{PAUSE}
op.execute("INSERT INTO res_a (name) VALUES ('seed')")
{PAUSE}
op.add_column("res_a", sa.Column("extra", sa.Integer(), nullable=True))
{PAUSE}
op.create_table("res_b", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("a_id", sa.Integer()))
{PAUSE}
op.create_index("ix_res_b_a_id", "res_b", ["a_id"])
{PAUSE}
op.add_column("res_b", sa.Column("note", sa.String(10)))
"""
REVISION = "pets_0002_many"


@pytest.fixture
def maria(make_project) -> Project:  # type: ignore[no-untyped-def]
    project: Project = make_project("mariadb")
    write_migration(project, "pets", "0002_many", "pets_0001_initial", MANY)
    project.run("migrate", "pets", "0001", check=True)
    return project


def _reset(project: Project) -> None:
    """Back to pets.0001 without a subprocess: each trial stays cheap."""
    project.execute(
        "DROP TABLE IF EXISTS res_a",
        "DROP TABLE IF EXISTS res_b",
        f"UPDATE alembic_version SET version_num = 'pets_0001_initial' WHERE version_num = '{REVISION}'",
        f"DELETE FROM manage_migrations WHERE revision = '{REVISION}'",
        "DELETE FROM manage_migration_progress",
    )


def _assert_applied_once(project: Project) -> None:
    assert REVISION in project.versions()
    assert {"res_a", "res_b"} <= project.tables()
    assert project.execute("SELECT name, extra FROM res_a") == [("seed", None)]
    assert project.execute("SELECT note FROM res_b") == []
    assert project.execute("SELECT count(*) FROM manage_migration_progress") == [(0,)]
    history = project.execute(
        f"SELECT count(*) FROM manage_migrations WHERE revision = '{REVISION}'"
    )
    assert history == [(1,)]
    indexes = project.execute("SHOW INDEX FROM res_b WHERE Key_name = 'ix_res_b_a_id'")
    assert len(indexes) == 1


# A run started ahead, which waits for its go file once the slow imports are done: the
# next trial's run starts while this trial's rerun runs, so each trial costs about one run.
WAIT_FOR_GO = """
import os as _os
if _os.environ.get("GO_FILE"):
    import time as _time
    from pathlib import Path as _Path

    import alembic.command
    import sqlalchemy

    while not _Path(_os.environ["GO_FILE"]).exists():
        _time.sleep(0.005)
"""


def _start_ahead(project: Project, go: Path, marker: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "migrate"],
        cwd=project.path,
        env={**project.env, "GO_FILE": str(go), "STARTED_MARKER": str(marker), "PAUSE": "0.05"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_killed_migration_resumes_with_nothing_applied_twice(maria: Project) -> None:
    maria.append("settings.py", WAIT_FOR_GO)
    rng = random.Random(13)
    stopped = []
    process = _start_ahead(maria, maria.path / "go-0", maria.path / "started-0")
    for trial in range(20):
        _reset(maria)
        marker = maria.path / f"started-{trial}"
        (maria.path / f"go-{trial}").touch()
        deadline = time.monotonic() + 60
        while not marker.exists() and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.35))  # five pauses of 0.05 s, plus the statements
        process.kill()
        process.wait(timeout=30)
        if trial < 19:
            process = _start_ahead(
                maria, maria.path / f"go-{trial + 1}", maria.path / f"started-{trial + 1}"
            )
        done = maria.execute("SELECT count(*) FROM manage_migration_progress WHERE position >= 0")[
            0
        ][0]
        stopped.append(done)
        finished = REVISION in maria.versions()  # the kill came after its commit (a slow day)
        result = maria.run("migrate", check=True)
        expected = "No migrations to apply." if finished else "Applying pets.0002_many"
        assert expected in result.stdout, (trial, str(result))
        if done:
            assert "An earlier migrate stopped partway through pets.0002_many" in result.stdout
        _assert_applied_once(maria)
    assert len(set(stopped)) >= 3, stopped  # the kills landed at different operations


def test_failure_names_the_last_migration_and_only_what_stayed(maria: Project) -> None:
    write_migration(
        maria,
        "pets",
        "0002_many",
        "pets_0001_initial",
        """
op.create_table("res_a", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(20)))
op.execute("INSERT INTO res_a (name) VALUES ('kept')")
op.add_column("res_a", sa.Column("extra", sa.Integer(), nullable=True))
op.execute("INSERT INTO res_a (name) VALUES ('rolled back')")
op.execute("INSERT INTO no_such_table VALUES (1)")
""",
    )
    result = maria.run("migrate")
    assert_error(
        result,
        "Applying pets.0002_many failed at `INSERT INTO no_such_table VALUES (1)`",
        "These statements of it stayed applied: CREATE TABLE res_a",
        "INSERT INTO res_a (name) VALUES ('kept'); ALTER TABLE res_a ADD COLUMN extra INTEGER.",
        "The version table still records pets.0001_initial as the last migration completed",
        "operations 1, 2, 3 of pets.0002_many are recorded as completed",
    )
    assert "rolled back" not in result.stderr
    assert maria.execute("SELECT name FROM res_a") == [("kept",)]
    # The cause fixed outside the file (the table it needs now exists): it carries on.
    maria.execute("CREATE TABLE no_such_table (id INTEGER)")
    out = maria.run("migrate", check=True).stdout
    assert (
        "Its operations completed: 1. create table res_a; 2. execute INSERT INTO res_a (name) "
        "VALUES ('kept'); 3. add column res_a.extra." in out
    )
    assert "Applying pets.0002_many (carrying on after operation 3)... OK" in out
    assert maria.execute("SELECT name FROM res_a ORDER BY id") == [("kept",), ("rolled back",)]
    assert maria.execute("SELECT count(*) FROM no_such_table") == [(1,)]
    assert REVISION in maria.versions()


def test_edited_file_is_refused(maria: Project) -> None:
    marker = maria.path / "started"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "migrate"],
        cwd=maria.path,
        env={**maria.env, "STARTED_MARKER": str(marker), "PAUSE": "30"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_rows(maria, 1)
    process.kill()
    process.wait(timeout=30)
    (maria.file("apps/pets/migrations/0002_many.py")).write_text(
        maria.file("apps/pets/migrations/0002_many.py").read_text().replace("'seed'", "'other'")
    )
    result = maria.run("migrate")
    assert "It cannot carry on from there as things are" in result.stdout  # the heading says so
    assert_error(
        result,
        "An earlier migrate stopped partway through pets.0002_many, after operation 1. create "
        "table res_a, and its file has changed since",
        "Restore the file as it was and run migrate again to carry on",
        "'migrate --fake pets 0002_many'",
    )
    assert REVISION not in maria.versions()
    # Undone by hand: it runs from the start, as the file now says.
    maria.execute("DROP TABLE res_a")
    out = maria.run("migrate", check=True).stdout
    assert "Applying pets.0002_many (from the start" in out
    assert maria.execute("SELECT name FROM res_a") == [("other",)]


def test_sql_outside_operations_committed_before_a_kill_is_not_run_again(
    maria: Project,
) -> None:
    """The INSERT commits as the ALTER after it starts; killed during the ALTER, the rerun
    must not insert again."""
    maria.execute("CREATE TABLE res_log (note VARCHAR(10))", "CREATE TABLE res_lock (id INTEGER)")
    write_migration(
        maria,
        "pets",
        "0002_many",
        "pets_0001_initial",
        """
op.create_table("res_a", sa.Column("id", sa.Integer(), primary_key=True))
op.get_bind().execute(sa.text("INSERT INTO res_log (note) VALUES ('once')"))
op.add_column("res_lock", sa.Column("extra", sa.Integer()))
""",
    )
    engine = maria.engine()
    with engine.connect() as holder:
        holder.exec_driver_sql("SELECT * FROM res_lock").all()  # its metadata lock: ALTER waits
        process = subprocess.Popen(
            [sys.executable, "manage.py", "migrate"],
            cwd=maria.path,
            env=maria.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not (
            waiting := maria.execute(
                "SELECT id FROM information_schema.processlist "
                "WHERE info LIKE 'ALTER TABLE res_lock%%'"
            )
        ):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        process.kill()
        process.wait(timeout=30)
        maria.execute(f"KILL {waiting[0][0]}")  # the server side of the kill: the ALTER ends
        holder.rollback()
    engine.dispose()
    assert maria.execute("SELECT count(*) FROM res_log") == [(1,)]  # committed by the ALTER
    result = maria.run("migrate")
    assert "It cannot carry on from there as things are" in result.stdout
    assert_error(
        result,
        "step 2 is SQL it runs outside Alembic operations, which committed and cannot be skipped",
        "'migrate --fake pets 0002_many'",
    )
    assert maria.execute("SELECT count(*) FROM res_log") == [(1,)]
    assert REVISION not in maria.versions()


def test_failed_operation_runs_again_once_fixed(maria: Project) -> None:
    """A failed ALTER did not apply: after the fix the rerun runs it again (no "complete it
    by hand"), also when the file was fixed after a failure with nothing done."""
    write_migration(
        maria, "pets", "0002_many", "pets_0001_initial", 'op.execute("ALTER TABLE res_b ADD x INT")'
    )
    assert_error(maria.run("migrate"), "Run migrate again to carry on")
    # The file fixed (nothing of it was done), then a later operation fails.
    write_migration(
        maria,
        "pets",
        "0002_many",
        "pets_0001_initial",
        """
op.create_table("res_b", sa.Column("id", sa.Integer(), primary_key=True))
op.execute("ALTER TABLE res_b ADD x INT")
op.execute("ALTER TABLE res_later ADD y INT")
""",
    )
    result = maria.run("migrate")
    assert "Its first operation failed without applying: it runs from the start." in result.stdout
    assert_error(result, "operations 1, 2 of pets.0002_many are recorded as completed")
    maria.execute("CREATE TABLE res_later (id INTEGER)")  # the cause fixed outside the file
    out = maria.run("migrate", check=True).stdout
    assert "Operation 3 failed without applying: carrying on with it." in out
    assert "Applying pets.0002_many (carrying on after operation 2)... OK" in out
    assert [c[0] for c in maria.execute("SHOW COLUMNS FROM res_later")] == ["id", "y"]
    assert REVISION in maria.versions()


def test_later_operations_that_undo_earlier_ones_are_carried_on(maria: Project) -> None:
    """Table rebuilt under a new name and renamed back: the live schema no longer shows
    "create table res_new", yet the recorded operations are done."""
    maria.execute("CREATE TABLE res_old (id INTEGER PRIMARY KEY, name VARCHAR(10))")
    maria.execute("INSERT INTO res_old VALUES (1, 'kept')")
    write_migration(
        maria,
        "pets",
        "0002_many",
        "pets_0001_initial",
        """
op.create_table("res_new", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(10)))
op.execute("INSERT INTO res_new (id, name) SELECT id, name FROM res_old")
op.drop_table("res_old")
op.rename_table("res_new", "res_old")
op.create_index("ix_res_x_name", "res_x", ["name"])
""",
    )
    assert_error(maria.run("migrate"), "operations 1, 2, 3, 4 of pets.0002_many are recorded")
    maria.execute("CREATE TABLE res_x (name VARCHAR(10))")
    out = maria.run("migrate", check=True).stdout
    assert "Applying pets.0002_many (carrying on after operation 4)... OK" in out
    assert maria.execute("SELECT id, name FROM res_old") == [(1, "kept")]
    assert REVISION in maria.versions()


def _wait_for_rows(project: Project, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if "manage_migration_progress" in project.tables():
            rows = project.execute(
                "SELECT count(*) FROM manage_migration_progress WHERE position >= 0"
            )
            if rows[0][0] >= count:
                return
        assert time.monotonic() < deadline, "the migration never got going"
        time.sleep(0.05)
