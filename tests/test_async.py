"""Async DATABASE_URLs (`sqlite+aiosqlite://`, `postgresql+asyncpg://`, `mysql+aiomysql://`):
every command, driven through SQLAlchemy's asyncio engine, behaves as on a sync URL."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import Project, assert_error, silent_server, start, with_settings, write_migration

from project.backends.connections import is_async_driver, is_async_url

ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    # SQLAlchemy's mariadb dialect (the other tests reach the server as mysql://);
    # mysql+aiomysql in test_call_command_on_an_async_url.
    "mariadb": "mariadb+aiomysql",
}
TOY_MODEL = """

class Toy(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
"""


def use_async_url(project: Project, drivername: str | None = None) -> str:
    """Point the project's DATABASE_URL at the same database through the asyncio driver."""
    url = sa.engine.make_url(project.driver_url)
    async_url = url.set(drivername=drivername or ASYNC_DRIVERS[project.backend])
    project.env["DATABASE_URL"] = async_url.render_as_string(hide_password=False)
    return project.env["DATABASE_URL"]


def clean(result_stderr: str) -> None:
    """Nothing of the event loop's leftovers on stderr."""
    for warning in ("Event loop is closed", "was never awaited", "Task was destroyed", "Unclosed"):
        assert warning not in result_stderr, result_stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite+aiosqlite:///db.sqlite3", True),
        ("postgresql+asyncpg://u:p@h/db", True),
        ("postgresql+psycopg_async://u:p@h/db", True),
        ("mysql+aiomysql://u:p@h/db", True),
        ("mariadb+aiomysql://u:p@h/db", True),
        ("mysql+asyncmy://u:p@h/db", True),
        ("sqlite:///db.sqlite3", False),
        ("postgresql://u:p@h/db", False),
        ("postgresql+psycopg://u:p@h/db", False),
        ("mysql+pymysql://u:p@h/db", False),
        ("not a url", False),
        ("", False),
    ],
)
def test_async_url_detection(url: str, expected: bool) -> None:
    assert is_async_url(url) is expected
    if "://" in url:
        assert is_async_driver(url.partition("://")[0]) is expected


def test_every_command_on_an_async_url(project: Project) -> None:
    use_async_url(project)
    migrate = project.run("migrate", check=True)
    assert "  Applying owners.0001_initial... OK\n  Applying pets.0001_initial... OK\n" in (
        migrate.stdout
    )
    clean(migrate.stderr)
    assert {"owners_owner", "pets_pet", "alembic_version"} <= project.tables()

    project.append("apps/pets/models.py", TOY_MODEL)
    made = project.run("makemigrations", check=True)
    assert made.stdout == (
        "Migrations for 'pets':\n  apps/pets/migrations/0002_toy.py\n    + Create table pets_toy\n"
    )
    assert project.migrations("pets") == ["0001_initial.py", "0002_toy.py"]
    assert project.run("makemigrations", "--check").returncode == 0
    sql = project.run("sqlmigrate", "pets", "0002", check=True).stdout
    assert "CREATE TABLE pets_toy" in sql
    assert "pets_toy" not in project.tables()  # sqlmigrate changes nothing

    out = project.run("migrate", check=True).stdout
    assert "  Applying pets.0002_toy... OK\n" in out
    assert "pets_toy" in project.tables()
    assert {c["name"] for c in sa.inspect(project.engine()).get_columns("pets_toy")} == {
        "id",
        "name",
    }
    assert project.run("showmigrations", "pets", check=True).stdout == (
        "pets\n [X] 0001_initial\n [X] 0002_toy\n"
    )
    drift = project.run("check", "--drift", check=True)
    assert "The database matches its migration history." in drift.stdout

    project.execute("ALTER TABLE pets_toy ADD COLUMN extra INTEGER")
    drifted = project.run("check", "--drift")
    assert drifted.returncode == 1, str(drifted)
    assert "- Drop column extra from pets_toy" in drifted.stdout
    project.execute("ALTER TABLE pets_toy DROP COLUMN extra")

    squashed = project.run("squashmigrations", "pets", "0002", check=True)
    assert "0001_squashed_0002_toy.py" in squashed.stdout + squashed.stderr, str(squashed)
    assert project.run("showmigrations", "pets", check=True).stdout.count("[X]") >= 1

    project.insert("owners_owner", name="Ann", email="ann@example.com")
    (project.path / "pets.csv").write_text(
        "name,species,birthdate,sex,condition,owner_email\n"
        "Rex,dog,2020-01-02,m,good,ann@example.com\nTom,cat,,f,,ann@example.com\n"
    )
    imported = project.run("importpets", "pets.csv", check=True)
    assert imported.stdout == "Imported 2 pet(s) from pets.csv.\n"
    clean(imported.stderr)
    assert project.execute("SELECT name FROM pets_pet ORDER BY id") == [("Rex",), ("Tom",)]

    for app in ("pets", "owners"):
        project.run("migrate", app, "zero", check=True)
    assert not {"owners_owner", "pets_pet", "pets_toy"} & project.tables()
    assert project.versions() == set()


def test_call_command_on_an_async_url(project: Project) -> None:
    use_async_url(project, "mysql+aiomysql" if project.backend == "mariadb" else None)
    result = project.python(
        "import os; os.environ['MANAGE_SETTINGS_MODULE'] = 'settings'\n"
        "from project.cli.registry import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "print(sorted(call_command('showmigrations', 'pets', verbosity=0)))\n"
        "call_command('migrate', 'pets', 'zero', verbosity=0)\n"
        "print('done')\n"
    )
    assert result.returncode == 0, str(result)
    assert result.stdout.endswith("done\n"), str(result)
    clean(result.stderr)
    assert project.versions() == {"owners_0002_lowercase_emails"}
    assert "pets_pet" not in project.tables()


def test_failing_migration_is_rolled_back_on_aiosqlite(sqlite_project: Project) -> None:
    project = sqlite_project
    use_async_url(project, "sqlite+aiosqlite")
    write_migration(
        project,
        "pets",
        "0002_broken",
        "pets_0001_initial",
        'op.create_table("pets_half", sa.Column("id", sa.Integer(), primary_key=True))\n'
        'op.execute("INSERT INTO no_such_table VALUES (1)")',
    )
    result = project.run("migrate")
    assert result.returncode == 1
    assert (
        "  Applying pets.0001_initial... OK\n  Applying pets.0002_broken... FAILED\n"
        in result.stdout
    )
    assert_error(
        result, "Applying pets.0002_broken failed at `INSERT INTO no_such_table VALUES (1)`: "
    )
    assert "It was rolled back; the database is as it was before it." in result.stderr
    assert project.versions() == {"pets_0001_initial"}
    assert "pets_half" not in project.tables()


def test_concurrent_migrate_on_an_async_url(project: Project) -> None:
    """Advisory lock, GET_LOCK and the SQLite lock file, taken through the asyncio driver."""
    use_async_url(project)
    write_migration(
        project,
        "owners",
        "0003_seed",
        "owners_0002_lowercase_emails",
        "time.sleep(2)\nop.execute(\"INSERT INTO owners_owner (name, email) VALUES ('Seed', 'seed@example.com')\")",
    )
    processes = [start(project, "migrate") for _ in range(2)]
    results = [(*p.communicate(timeout=180), p.returncode) for p in processes]
    assert [code for _, _, code in results] == [0, 0], results
    outputs = "".join(out for out, _, _ in results)
    assert outputs.count("Applying owners.0003_seed... OK") == 1, outputs
    assert outputs.count("No migrations to apply.") == 1, outputs
    assert any("waiting for it to finish" in err for _, err, _ in results), results
    assert project.execute("SELECT count(*) FROM owners_owner") == [(1,)]


def test_interrupt_on_an_async_url(sqlite_project: Project) -> None:
    """Ctrl-C stays the command's: it stops after the migration in progress."""
    project = sqlite_project
    use_async_url(project, "sqlite+aiosqlite")
    marker = project.path / "started"
    write_migration(
        project,
        "pets",
        "0002_slow",
        "pets_0001_initial",
        'op.create_table("pets_slow", sa.Column("id", sa.Integer(), primary_key=True))\n'
        f"Path({str(marker)!r}).touch()\ntime.sleep(2)",
    )
    process = start(project, "migrate")
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline and process.poll() is None, "never started"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "  Applying pets.0002_slow... OK\n" in stdout
    assert "Error: Interrupted: stopped after pets.0002_slow." in stderr
    clean(stderr)
    assert "pets_slow" in project.tables()


@pytest.mark.parametrize("scheme", ["postgresql+asyncpg", "mysql+aiomysql", "mariadb+aiomysql"])
def test_unreachable_server_on_an_async_url(sqlite_project: Project, scheme: str) -> None:
    refused = sqlite_project.run(
        "migrate", env={"DATABASE_URL": f"{scheme}://app:hunter22@127.0.0.1:1/app"}
    )
    assert_error(refused, f"Cannot connect to the database at {scheme}://app:***@127.0.0.1:1/app")
    assert refused.returncode == 1
    assert "hunter22" not in refused.stdout + refused.stderr

    server, port = silent_server()
    with_settings(sqlite_project, DATABASE_CONNECT_TIMEOUT=2)
    started = time.monotonic()
    silent = sqlite_project.run(
        "showmigrations", env={"DATABASE_URL": f"{scheme}://app:hunter22@127.0.0.1:{port}/app"}
    )
    assert time.monotonic() - started < 15
    assert_error(
        silent,
        f"Cannot connect to the database at {scheme}://app:***@127.0.0.1:{port}/app: "
        "no answer within 2 s (DATABASE_CONNECT_TIMEOUT)",
        code=1,
    )
    assert "hunter22" not in silent.stdout + silent.stderr
    server.close()


def test_unreachable_sqlite_file_on_aiosqlite(sqlite_project: Project) -> None:
    result = sqlite_project.run(
        "showmigrations",
        env={"DATABASE_URL": f"sqlite+aiosqlite:///{sqlite_project.path}/no/such/dir/db.sqlite3"},
    )
    assert_error(
        result,
        "Cannot connect to the database at sqlite+aiosqlite:///",
        "unable to open database file",
        code=1,
    )


@pytest.mark.parametrize(
    ("scheme", "module", "package"),
    [
        ("sqlite+aiosqlite", "aiosqlite", "aiosqlite"),
        ("postgresql+asyncpg", "asyncpg", "asyncpg"),
        ("mysql+aiomysql", "aiomysql", "aiomysql"),
        ("postgresql+asyncpg", "greenlet", "sqlalchemy[asyncio]"),
    ],
)
def test_missing_async_driver_names_its_package(
    sqlite_project: Project, tmp_path: Path, scheme: str, module: str, package: str
) -> None:
    """As if the package were not installed: a module of that name that cannot be imported,
    ahead of the real one on the path."""
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / f"{module}.py").write_text(
        f"raise ModuleNotFoundError({f'No module named {module!r}'!r}, name={module!r})\n"
    )
    database = "db.sqlite3" if scheme.startswith("sqlite") else "app:hunter22@127.0.0.1:1/app"
    url = f"{scheme}://{'/' if scheme.startswith('sqlite') else ''}{database}"
    result = sqlite_project.run("migrate", env={"DATABASE_URL": url, "PYTHONPATH": str(blocked)})
    assert_error(result, "is not installed", f"pip install '{package}'", code=1)
    assert "hunter22" not in result.stdout + result.stderr
