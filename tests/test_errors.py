"""Bad input: one clear line on stderr, a non-zero exit, nothing changed, never a traceback."""

from __future__ import annotations

import pytest
from conftest import Project, assert_error


@pytest.mark.parametrize(
    "args",
    [
        ("makemigrations", "nope"),
        ("migrate", "nope"),
        ("showmigrations", "pets", "nope"),
        ("migrate", "nope", "0001"),
    ],
)
def test_unknown_app_label(sqlite_project: Project, args: tuple[str, ...]) -> None:
    before = sqlite_project.snapshot()
    assert_error(
        sqlite_project.run(*args),
        "App 'nope' could not be found",
        "Installed apps: owners, pets",
        code=2,
    )
    assert sqlite_project.snapshot() == before


def test_unknown_and_ambiguous_migration_names(project: Project) -> None:
    project.run("migrate", check=True)
    project.run("makemigrations", "--empty", "pets", "-n", "first_step", check=True)
    project.run("makemigrations", "--empty", "pets", "-n", "second_step", check=True)
    before = project.snapshot()
    assert_error(
        project.run("migrate", "pets", "0009"),
        "Cannot find a migration matching '0009' from app 'pets'",
        "0001_initial, 0002_first_step, 0003_second_step",
    )
    assert_error(
        project.run("migrate", "pets", "000"),
        "More than one migration matches '000'",
        "0002_first_step",
    )
    assert project.snapshot() == before


def test_bad_settings_module(sqlite_project: Project) -> None:
    assert_error(
        sqlite_project.run("migrate", "--settings", "no_such_settings"),
        "Cannot import settings module 'no_such_settings'",
    )
    assert_error(
        sqlite_project.run("showmigrations", env={"MANAGE_SETTINGS_MODULE": "nope.settings"}),
        "Cannot import settings module 'nope.settings'",
    )
    sqlite_project.file("broken_settings.py").write_text("INSTALLED_APPS = [\n")
    assert_error(
        sqlite_project.run("migrate", "--settings=broken_settings"), "broken_settings.py, line 1"
    )
    sqlite_project.file("bad_apps.py").write_text('INSTALLED_APPS = ["apps.missing"]\n')
    assert_error(
        sqlite_project.run("migrate", "--settings=bad_apps"),
        "'apps.missing', which is not an importable package",
    )


def test_model_module_that_fails_to_import(sqlite_project: Project) -> None:
    sqlite_project.append("apps/pets/models.py", "\nundefined_name\n")
    before = sqlite_project.snapshot()
    assert_error(
        sqlite_project.run("makemigrations"),
        "Cannot import the models of app 'pets' (apps/pets/models.py, line",
        "NameError",
    )
    assert sqlite_project.snapshot() == before


def test_migration_file_that_fails_to_import(sqlite_project: Project) -> None:
    sqlite_project.file("apps/pets/migrations/0002_broken.py").write_text(
        "revision = 'pets_0002'\nimport nonexistent_module\n"
    )
    before = sqlite_project.snapshot()
    for command in ("migrate", "showmigrations", "makemigrations"):
        assert_error(
            sqlite_project.run(command),
            "Cannot load migration file (apps/pets/migrations/0002_broken.py, line 2)",
            "nonexistent_module",
        )
    assert sqlite_project.snapshot() == before


def test_malformed_database_url(sqlite_project: Project) -> None:
    before = sqlite_project.snapshot()
    result = sqlite_project.run(
        "migrate", env={"DATABASE_URL": "postgres//user:hunter22@localhost/db"}
    )
    assert_error(result, "DATABASE_URL is not a valid database URL")
    assert "hunter22" not in result.stderr + result.stdout
    result = sqlite_project.run(
        "migrate", env={"DATABASE_URL": "nosuchdb://user:hunter22@localhost/db"}
    )
    assert_error(result, "unknown database or driver 'nosuchdb'", "user:***@localhost")
    assert "hunter22" not in result.stderr + result.stdout
    assert sqlite_project.snapshot() == before


def test_unreachable_database_masks_the_password(sqlite_project: Project) -> None:
    result = sqlite_project.run(
        "migrate", env={"DATABASE_URL": "postgresql://app:hunter22@127.0.0.1:1/app"}
    )
    assert_error(result, "Cannot connect to the database at postgresql://app:***@127.0.0.1:1/app")
    assert "hunter22" not in result.stderr + result.stdout
    result = sqlite_project.run(
        "showmigrations",
        env={"DATABASE_URL": f"sqlite:///{sqlite_project.path}/no/such/dir/db.sqlite3"},
    )
    assert_error(
        result, "Cannot connect to the database at sqlite:///", "unable to open database file"
    )


def test_database_at_an_unknown_revision(project: Project) -> None:
    project.run("migrate", check=True)
    project.execute(
        "UPDATE alembic_version SET version_num = 'pets_0042_gone' WHERE version_num = 'pets_0001_initial'"
    )
    before = project.snapshot()
    for command in (["migrate"], ["makemigrations", "--from-db"]):
        assert_error(
            project.run(*command),
            "The database has revision 'pets_0042_gone' applied, but no migration file for it",
            "delete its row from the alembic_version table",
        )
    shown = project.run("showmigrations", check=True).stdout
    assert "(unknown app)\n [?] pets_0042_gone (applied, but its file is missing" in shown, shown
    assert_error(project.run("migrate", "--prune"), "it cannot be pruned safely")
    assert project.snapshot() == before


def test_makemigrations_on_a_database_behind_its_migrations(project: Project) -> None:
    project.run("migrate", "owners", check=True)
    project.append(
        "apps/pets/models.py",
        "\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n",
    )
    before = project.snapshot()
    assert_error(
        project.run("makemigrations", "--from-db"),
        "The database is not up to date: 1 migration(s) not applied (pets.0001_initial)",
        "Run 'python manage.py migrate' first",
    )
    assert project.snapshot() == before


def test_empty_without_an_app(sqlite_project: Project) -> None:
    before = sqlite_project.snapshot()
    assert_error(
        sqlite_project.run("makemigrations", "--empty"),
        "You must supply at least one app label when using --empty",
        code=2,
    )
    assert sqlite_project.snapshot() == before


def test_invalid_migration_name(sqlite_project: Project) -> None:
    assert_error(
        sqlite_project.run("makemigrations", "--empty", "pets", "-n", "not a name"),
        "valid Python identifier",
        code=2,
    )


def test_app_without_migrations(sqlite_project: Project) -> None:
    sqlite_project.file("apps/extra").mkdir()
    sqlite_project.file("apps/extra/__init__.py").write_text("")
    settings = sqlite_project.file("settings.py")
    settings.write_text(
        settings.read_text().replace('"apps.pets",', '"apps.pets",\n    "apps.extra",')
    )
    assert_error(sqlite_project.run("migrate", "extra"), "App 'extra' does not have migrations")


def test_traceback_on_request(sqlite_project: Project) -> None:
    for flag in ("--traceback", "-v3"):
        result = sqlite_project.run("migrate", "nope", flag)
        assert result.returncode == 2
        assert "Traceback (most recent call last)" in result.stderr
        assert (
            result.stderr.strip()
            .splitlines()[-1]
            .startswith("Error: App 'nope' could not be found")
        )
