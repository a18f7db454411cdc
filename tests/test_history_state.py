"""makemigrations compares the models with the migration history, not the live database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import Project, assert_error, with_settings

from project.engine.scratch import scratch_prefix

TOY = "\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n"


def _states(project: Project) -> str:
    return project.run("makemigrations", "--check", "-v", "2", check=True).stdout.splitlines()[0]


def test_works_whatever_the_configured_database_holds(project: Project) -> None:
    # empty
    assert project.run("makemigrations", "--check").returncode == 0
    project.append("apps/pets/models.py", TOY)
    assert "0002_toy.py" in project.run("makemigrations", "--dry-run", check=True).stdout
    # behind: owners applied only
    project.run("migrate", "owners", check=True)
    assert "0002_toy.py" in project.run("makemigrations", "--dry-run", check=True).stdout
    # ahead, on another branch: a revision no file has
    project.run("migrate", check=True)
    project.execute(
        "UPDATE alembic_version SET version_num = 'pets_0009_elsewhere' WHERE version_num = 'pets_0001_initial'"
    )
    out = project.run("makemigrations", check=True).stdout
    assert "apps/pets/migrations/0002_toy.py" in out
    assert project.run("makemigrations", "--check").returncode == 0
    assert project.versions() == {
        "owners_0002_lowercase_emails",
        "pets_0009_elsewhere",
    }  # untouched


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_works_when_the_server_is_unreachable(sqlite_project: Project, scheme: str) -> None:
    url = f"{scheme}://app:hunter22@127.0.0.1:1/app"
    result = sqlite_project.run("makemigrations", "--check", env={"DATABASE_URL": url})
    assert result.returncode == 0, str(result)
    assert result.stdout == "No changes detected\n"
    assert result.stderr.startswith("Note: The database server cannot be reached")
    assert "replayed on SQLite instead" in result.stderr and "hunter22" not in result.stderr


def test_tables_only_in_the_live_database_are_never_dropped(project: Project) -> None:
    project.run("migrate", check=True)
    project.execute("CREATE TABLE example_pets (id INTEGER PRIMARY KEY)")
    with_settings(project, PROTECT_UNOWNED_TABLES=False)
    assert project.run("makemigrations", check=True).stdout == "No changes detected\n"


def test_a_removed_model_is_still_dropped(project: Project) -> None:
    project.append("apps/pets/models.py", TOY)
    project.run("makemigrations", check=True)
    models = project.file("apps/pets/models.py")
    models.write_text(models.read_text().replace(TOY, "\n"))
    out = project.run("makemigrations", check=True).stdout  # the database was never migrated
    assert "apps/pets/migrations/0003_delete_toy.py\n  ! - Drop table pets_toy\n" in out


def test_the_history_state_is_cached(project: Project) -> None:
    assert "(replayed," in _states(project)
    # Nothing changed since: the answer is known without comparing at all.
    assert "(unchanged since the last check)" in _states(project)
    project.append("apps/pets/models.py", "\n# an edit that changes no model\n")
    assert "(cached," in _states(project)  # compared again, with the cached history state
    project.append("apps/pets/models.py", TOY)
    assert project.run("makemigrations", "--check").returncode == 1  # a real change is found
    models = project.file("apps/pets/models.py")
    models.write_text(models.read_text().replace(TOY, "\n"))
    project.run("makemigrations", "--empty", "pets", check=True)  # the history changed
    assert "(replayed," in _states(project)
    out = project.run("makemigrations", "--check", "--no-cache", "-v", "2", check=True).stdout
    assert "(replayed," in out
    if project.backend == "sqlite":
        assert len(list(project.file(".manage_cache").glob("state-*.sqlite3"))) == 1
    else:  # one state database per configured database is kept on the server
        prefix = scratch_prefix(sa.engine.make_url(project.database_url))
        query = (
            "SELECT datname FROM pg_database"
            if project.backend == "postgresql"
            else "SELECT schema_name FROM information_schema.schemata"
        )
        assert (
            len([name for (name,) in project.execute(query) if str(name).startswith(prefix)]) == 1
        )


def test_scratch_database_needs_the_right_to_create_one(make_project) -> None:  # type: ignore[no-untyped-def]
    for backend in ("postgresql", "mariadb"):
        project = make_project(backend)
        database = project.database_url.rsplit("/", 1)[1]
        if backend == "postgresql":
            project.execute(
                "CREATE ROLE limited LOGIN PASSWORD 'limited-pw' NOCREATEDB",
                f"GRANT ALL ON DATABASE {database} TO limited",
                "GRANT ALL ON SCHEMA public TO limited",
            )
            url = project.database_url.replace(
                project.database_url.split("@")[0].split("//")[1], "limited:limited-pw"
            )
            expected = "Grant CREATEDB"
        else:
            project.execute(
                "CREATE USER 'limited'@'127.0.0.1' IDENTIFIED BY 'limited-pw'",
                f"GRANT ALL ON {database}.* TO 'limited'@'127.0.0.1'",
            )
            url = project.database_url.replace(
                project.database_url.split("@")[0].split("//")[1], "limited:limited-pw"
            )
            expected = "Grant CREATE on *.*"
        result = project.run("makemigrations", "--check", env={"DATABASE_URL": url})
        assert_error(result, "may not create one", expected, "makemigrations --from-db")
        assert "a scratch database (mstate_" in result.stderr and "not your data" in result.stderr
        assert "limited-pw" not in result.stderr
        project.run("migrate", env={"DATABASE_URL": url}, check=True)
        assert (
            project.run(
                "makemigrations", "--check", "--from-db", env={"DATABASE_URL": url}
            ).returncode
            == 0
        )
        project.execute(
            "DROP OWNED BY limited", "DROP ROLE limited"
        ) if backend == "postgresql" else project.execute("DROP USER 'limited'@'127.0.0.1'")


def test_check_drift_reports_differences_table_by_table(project: Project) -> None:
    out = project.run("check", "--drift", check=True).stdout
    assert out.startswith(
        "The database matches its migration history.\nSystem check identified no issues"
    )
    project.run("migrate", "owners", check=True)
    assert project.run("check", "--drift", check=True).stdout.startswith(
        "The database matches"
    )  # behind is fine
    project.run("migrate", check=True)
    project.execute(
        "ALTER TABLE pets_pet ADD COLUMN extra INTEGER",
        "CREATE TABLE legacy_data (id INTEGER PRIMARY KEY)",
        "CREATE INDEX extra_idx ON pets_pet (species)",
    )
    result = project.run("check", "--drift")
    assert result.returncode == 1, str(result)
    assert result.stdout == (
        "The database differs from its migration history "
        "(owners.0001_initial, pets.0001_initial, owners.0002_lowercase_emails).\n"
        "To match the history, it would need:\n"
        "  legacy_data\n"
        "    - Drop table legacy_data\n"
        "  pets_pet\n"
        "    - Drop index extra_idx from pets_pet\n"
        "    - Drop column extra from pets_pet\n"
    )
