"""Adopting a database that had its tables before the project had migrations (the seed's
situation), and reviewing what a migration will do: sqlmigrate, migrate --plan."""

from __future__ import annotations

import sqlalchemy as sa
from conftest import Project, assert_error

TOY = "\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n"

# The example apps' tables as a DBA wrote them by hand, before any migration existed.
HAND_WRITTEN = {
    "sqlite": [
        (
            "CREATE TABLE owners_owner (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, "
            "email VARCHAR(254) NOT NULL UNIQUE, phone VARCHAR(30), "
            "created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL)"
        ),
        (
            "CREATE TABLE pets_pet (id INTEGER PRIMARY KEY, species VARCHAR(50), name VARCHAR(50), "
            "birthdate DATE, sex VARCHAR(10), condition VARCHAR(50), owner_id INTEGER NOT NULL "
            "REFERENCES owners_owner (id) ON DELETE CASCADE)"
        ),
    ],
    "postgresql": [
        (
            "CREATE TABLE owners_owner (id SERIAL PRIMARY KEY, name VARCHAR(100) NOT NULL, "
            "email VARCHAR(254) NOT NULL UNIQUE, phone VARCHAR(30), "
            "created_at TIMESTAMP DEFAULT now() NOT NULL)"
        ),
        (
            "CREATE TABLE pets_pet (id SERIAL PRIMARY KEY, species VARCHAR(50), name VARCHAR(50), "
            "birthdate DATE, sex VARCHAR(10), condition VARCHAR(50), owner_id INTEGER NOT NULL "
            "REFERENCES owners_owner (id) ON DELETE CASCADE)"
        ),
    ],
    "mariadb": [
        (
            "CREATE TABLE owners_owner (id INTEGER AUTO_INCREMENT PRIMARY KEY, "
            "name VARCHAR(100) NOT NULL, email VARCHAR(254) NOT NULL UNIQUE, phone VARCHAR(30), "
            "created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL)"
        ),
        (
            "CREATE TABLE pets_pet (id INTEGER AUTO_INCREMENT PRIMARY KEY, species VARCHAR(50), "
            "name VARCHAR(50), birthdate DATE, sex VARCHAR(10), `condition` VARCHAR(50), "
            "owner_id INTEGER NOT NULL, "
            "FOREIGN KEY (owner_id) REFERENCES owners_owner (id) ON DELETE CASCADE)"
        ),
    ],
}


def test_fake_initial_adopts_hand_made_tables(project: Project) -> None:
    project.execute(*HAND_WRITTEN[project.backend])
    project.insert("owners_owner", name="Ann", email="Ann@Example.com")
    # A plain migrate fails on the existing tables, and says what to do.
    result = project.run("migrate")
    assert result.returncode == 1, str(result)
    assert "owners.0001_initial" in result.stderr
    assert "run 'migrate --fake-initial'" in result.stderr
    assert project.versions() == set()
    out = project.run("migrate", "--fake-initial", check=True).stdout
    assert out.endswith(
        "  Applying owners.0001_initial... FAKED\n"
        "  Applying pets.0001_initial... FAKED\n"
        "  Applying owners.0002_lowercase_emails... OK\n"
    )
    assert project.execute("SELECT email FROM owners_owner") == [("ann@example.com",)]
    out = project.run("showmigrations", "-v", "2", "pets", check=True).stdout
    assert ", faked)" in out.splitlines()[1]
    # From here on, the project migrates as usual.
    project.append("apps/pets/models.py", TOY)
    assert "0002_toy.py" in project.run("makemigrations", check=True).stdout
    assert "Applying pets.0002_toy... OK" in project.run("migrate", check=True).stdout
    assert "pets_toy" in project.tables()
    assert project.run("makemigrations", "--check").returncode == 0


def test_fake_initial_refuses_tables_that_do_not_match(sqlite_project: Project) -> None:
    project = sqlite_project
    project.execute("CREATE TABLE owners_owner (id INTEGER PRIMARY KEY, name VARCHAR(100))")
    assert_error(
        project.run("migrate", "--fake-initial"),
        "Cannot fake owners.0001_initial: table owners_owner exists but has no column "
        "email, phone, created_at",
    )
    assert project.versions() == set() and project.tables() <= {"owners_owner", "manage_migrations"}
    # Only some of an initial migration's tables: say which are missing.
    project.execute(
        "DROP TABLE owners_owner", *HAND_WRITTEN["sqlite"], "DROP TABLE pets_pet"
    )  # owners matches; pets does not exist, so pets.0001 runs
    out = project.run("migrate", "--fake-initial", check=True).stdout
    assert "owners.0001_initial... FAKED" in out and "pets.0001_initial... OK" in out


def test_sqlmigrate_prints_the_sql_without_connecting(project: Project) -> None:
    envs: list[dict[str, str]] = [{}]
    if project.backend != "sqlite":  # offline: a server that is down does not matter
        url = sa.engine.make_url(project.database_url).set(host="127.0.0.1", port=1)
        envs.append({"DATABASE_URL": url.render_as_string(hide_password=False)})
    for env in envs:
        _shows_the_sql(project, env)


def _shows_the_sql(project: Project, env: dict[str, str]) -> None:
    out = project.run("sqlmigrate", "pets", "0001", env=env, check=True).stdout
    assert "CREATE TABLE pets_pet" in out and "ON DELETE CASCADE" in out
    assert "CREATE INDEX ix_pets_pet_owner_id ON pets_pet (owner_id)" in out
    assert "alembic_version" not in out
    back = project.run("sqlmigrate", "pets", "0001_initial", "--backwards", env=env, check=True)
    assert "DROP TABLE pets_pet" in back.stdout and "CREATE" not in back.stdout
    dialect = {"sqlite": "DATETIME", "postgresql": "TIMESTAMP", "mariadb": "DATETIME"}
    owners = project.run("sqlmigrate", "owners", "0001", env=env, check=True).stdout
    assert dialect[project.backend] in owners
    assert project.tables() == set()  # nothing ran
    assert_error(
        project.run("sqlmigrate", "owners", "0002", env=env),
        "owners.0002_lowercase_emails is a data migration",
    )
    assert_error(project.run("sqlmigrate", "pets", "0009", env=env), "0009")
    assert_error(project.run("sqlmigrate", "nosuchapp", "0001", env=env), "nosuchapp")


def test_sqlmigrate_runs_what_sqlite_cannot_render_offline_on_a_scratch_copy(
    sqlite_project: Project,
) -> None:
    project = sqlite_project
    models = project.file("apps/pets/models.py")
    models.write_text(models.read_text().replace("    sex: Mapped", "    # sex: Mapped"))
    project.run("makemigrations", "-n", "drop_sex", check=True)
    out = project.run("sqlmigrate", "pets", "0002", check=True).stdout
    assert out.startswith("-- Captured by running it on a scratch copy of the history")
    assert "CREATE TABLE _alembic_tmp_pets_pet" in out and "DROP TABLE pets_pet;" in out
    assert project.tables() == set()


def test_migrate_plan_marks_data_loss(project: Project) -> None:
    project.run("migrate", check=True)
    models = project.file("apps/pets/models.py")
    source = models.read_text()
    assert "condition: Mapped[str | None] = mapped_column(String(50))" in source
    models.write_text(
        source.replace(
            "    condition: Mapped[str | None] = mapped_column(String(50))\n", ""
        ).replace(
            "species: Mapped[str | None] = mapped_column(String(50))",
            "species: Mapped[str | None] = mapped_column(String(20))",
        )
    )
    project.run("makemigrations", "-n", "shrink", check=True)
    out = project.run("migrate", "--plan", check=True).stdout
    assert out.startswith("Planned operations:\npets.0002_shrink\n")
    assert "  ! - Drop column condition from pets_pet\n" in out
    assert "  ! ~ Alter column species of pets_pet (type)\n" in out
