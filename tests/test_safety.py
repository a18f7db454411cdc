"""Migrations that are safe to run: failures, interruptions, concurrent runs, timeouts,
and tables, views and schemas that are not ours."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from conftest import Project, assert_error, silent_server, start, with_settings, write_migration

CREATE_HALF = 'op.create_table("pets_half", sa.Column("id", sa.Integer(), primary_key=True))'


def test_failing_migration(project: Project) -> None:
    write_migration(
        project,
        "pets",
        "0002_broken",
        "pets_0001_initial",
        f'{CREATE_HALF}\nop.execute("INSERT INTO no_such_table VALUES (1)")',
    )
    result = project.run("migrate")
    assert result.returncode == 1
    # The migrations before it are applied and committed, each in its own transaction.
    assert (
        "  Applying pets.0001_initial... OK\n  Applying pets.0002_broken... FAILED\n"
        in result.stdout
    )
    assert_error(
        result, "Applying pets.0002_broken failed at `INSERT INTO no_such_table VALUES (1)`: "
    )
    assert project.versions() == {"pets_0001_initial"}
    if project.backend == "mariadb":
        # No DDL rollback: the error says what stayed, and the version table tells the truth.
        assert (
            "MySQL/MariaDB cannot roll back DDL. These statements of it stayed applied: CREATE TABLE pets_half"
            in result.stderr
        )
        assert "The version table still records pets.0001_initial" in result.stderr
        assert "pets_half" in project.tables()
        project.execute("DROP TABLE pets_half")
    else:
        assert "It was rolled back; the database is as it was before it." in result.stderr
        assert "pets_half" not in project.tables()
    write_migration(project, "pets", "0002_broken", "pets_0001_initial", CREATE_HALF)
    project.run("migrate", check=True)
    assert project.versions() == {"owners_0002_lowercase_emails", "pets_0002_broken"}
    assert "pets_half" in project.tables()


SLOW = """
op.create_table("pets_slow_a", sa.Column("id", sa.Integer(), primary_key=True))
Path(os.environ["STARTED_MARKER"]).touch()
time.sleep(float(os.environ.get("SLOW_SECONDS", "3")))
op.create_table("pets_slow_b", sa.Column("id", sa.Integer(), primary_key=True))
"""


def _slow_project(project: Project) -> Path:
    write_migration(project, "pets", "0002_slow", "pets_0001_initial", SLOW)
    write_migration(
        project,
        "pets",
        "0003_after",
        "pets_0002_slow",
        'op.create_table("pets_after", sa.Column("id", sa.Integer(), primary_key=True))',
    )
    project.run("migrate", "pets", "0001", check=True)
    marker = project.path / "started"
    project.env["STARTED_MARKER"] = str(marker)
    return marker


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_stops_after_the_migration_in_progress(project: Project, signum: int) -> None:
    marker = _slow_project(project)
    process = start(project, "migrate")
    _wait_for(marker)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "  Applying pets.0002_slow... OK\n" in stdout and "0003_after" not in stdout
    assert "Stopping after the migration in progress" in stderr
    assert (
        "Error: Interrupted: stopped after pets.0002_slow. Run migrate again to continue." in stderr
    )
    assert project.versions() == {"pets_0002_slow"}
    assert {"pets_slow_a", "pets_slow_b"} <= project.tables()
    out = project.run("migrate", check=True).stdout
    assert "  Applying pets.0003_after... OK\n" in out and "0002_slow" not in out


def test_second_interrupt_stops_at_once(project: Project) -> None:
    marker = _slow_project(project)
    project.env["SLOW_SECONDS"] = "30"
    process = start(project, "migrate")
    _wait_for(marker)
    process.send_signal(signal.SIGINT)
    # Only once the first one was handled: two signals that arrive before Python runs its
    # handler are handled once (a loaded machine is slow to schedule the process).
    assert process.stderr is not None
    first = ""
    while "Stopping after the migration in progress" not in first:
        line = process.stderr.readline()
        assert line, first  # it ended without saying so
        first += line
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=60)
    stderr = first + rest
    assert process.returncode == 130, stderr
    assert (
        stderr.strip().splitlines()[-1].startswith("Error: Applying pets.0002_slow was interrupted")
    )
    assert project.versions() == {"pets_0001_initial"}
    if project.backend == "mariadb":
        assert "These statements of it stayed applied: CREATE TABLE pets_slow_a" in stderr
        project.execute("DROP TABLE pets_slow_a")
    else:
        assert "pets_slow_a" not in project.tables()
    project.env["SLOW_SECONDS"] = "0"
    project.run("migrate", check=True)
    assert project.versions() == {"owners_0002_lowercase_emails", "pets_0003_after"}


def test_concurrent_migrate_applies_each_migration_once(project: Project) -> None:
    write_migration(
        project,
        "owners",
        "0003_seed",
        "owners_0002_lowercase_emails",
        "time.sleep(3)\nop.execute(\"INSERT INTO owners_owner (name, email) VALUES ('Seed', 'seed@example.com')\")",
    )
    processes = [start(project, "migrate") for _ in range(4)]
    results = [(p.wait(timeout=180), p.stdout.read(), p.stderr.read()) for p in processes]  # type: ignore[union-attr]
    assert [code for code, _, _ in results] == [0, 0, 0, 0], results
    outputs = "".join(out for _, out, _ in results)
    for key in ("owners.0001_initial", "pets.0001_initial", "owners.0003_seed"):
        assert outputs.count(f"Applying {key}... OK") == 1, outputs
    assert outputs.count("No migrations to apply.") == 3
    assert any("waiting for it to finish" in err for _, _, err in results)
    assert project.execute("SELECT count(*) FROM owners_owner") == [(1,)]
    assert project.versions() == {"owners_0003_seed", "pets_0001_initial"}


def test_lock_wait_has_a_timeout(project: Project) -> None:
    marker = _slow_project(project)
    project.env["SLOW_SECONDS"] = "15"
    first = start(project, "migrate")
    _wait_for(marker)
    with_settings(project, MIGRATE_LOCK_TIMEOUT=1)
    started = time.monotonic()
    result = project.run("migrate")
    assert time.monotonic() - started < 10
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "Another migrate is running on this database; waiting for it to finish...",
        (
            "Error: Another migrate has held the migration lock for over 1 s. Wait for it to finish, "
            "or raise MIGRATE_LOCK_TIMEOUT in settings."
        ),
    ]
    first.kill()
    first.communicate(timeout=60)


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_unreachable_server_fails_in_seconds(sqlite_project: Project, scheme: str) -> None:
    server, port = silent_server()
    with_settings(sqlite_project, DATABASE_CONNECT_TIMEOUT=2)
    started = time.monotonic()
    result = sqlite_project.run(
        "showmigrations", env={"DATABASE_URL": f"{scheme}://app:hunter22@127.0.0.1:{port}/app"}
    )
    assert time.monotonic() - started < 15
    assert_error(
        result, f"Cannot connect to the database at {scheme}://app:***@127.0.0.1:{port}/app"
    )
    assert "hunter22" not in result.stdout + result.stderr
    server.close()


def test_tables_views_and_schemas_not_ours_are_never_dropped(project: Project) -> None:
    project.run("migrate", check=True)
    project.execute(
        "CREATE TABLE legacy_data (id INTEGER PRIMARY KEY, note VARCHAR(20))",
        "CREATE VIEW pets_names AS SELECT id, name FROM pets_pet",
    )
    if project.backend == "postgresql":
        project.execute(
            "CREATE SCHEMA archive",
            "CREATE TABLE archive.pets_pet (id INTEGER PRIMARY KEY)",
            "CREATE TABLE archive.old_owners (id INTEGER PRIMARY KEY)",
        )
    for mode in ([], ["--from-db"]):
        assert project.run("makemigrations", *mode, check=True).stdout == "No changes detected\n"
        assert project.run("makemigrations", "--check", *mode).returncode == 0
    out = project.run("makemigrations", "--from-db", "-v", "2", check=True).stdout
    assert "(PROTECT_UNOWNED_TABLES is on): legacy_data" in out
    assert "legacy_data" in project.tables()


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "mysql", "mariadb"])
def test_url_schemes_choose_the_driver(make_project, scheme: str) -> None:  # type: ignore[no-untyped-def]
    project = make_project("postgresql" if scheme.startswith("postgres") else "mariadb")
    url = project.database_url.replace(project.database_url.partition("://")[0], scheme, 1)
    result = project.run("migrate", "-v", "3", env={"DATABASE_URL": url}, check=True)
    assert "Applying pets.0001_initial... OK" in result.stdout
    assert "INFO [alembic.runtime.migration]" in result.stderr  # logs, and no password in them


def test_no_password_in_generated_files(make_project) -> None:  # type: ignore[no-untyped-def]
    project = make_project("postgresql")
    project.run("migrate", check=True)
    project.append(
        "apps/pets/models.py",
        "\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n",
    )
    project.run("makemigrations", "-v", "3", check=True)
    assert project.password
    for path in project.path.rglob("*.py"):
        assert project.password not in path.read_text(), path
