"""Several people, one history: conflicts and merges, files that changed or vanished after
they were applied, and our history table beside Alembic's version table."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest
from conftest import Project, assert_error, with_settings, write_migration

TOY = "\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n"
BALL = TOY.replace("Toy", "Ball")


@pytest.fixture(params=["sqlite", "postgresql"])
def team_project(request: pytest.FixtureRequest, make_project: Callable[[str], Project]) -> Project:
    """The example project on SQLite and PostgreSQL (what these tests show does not
    depend on how a database runs DDL, so MariaDB adds nothing)."""
    return make_project(str(request.param))


def _clone(project: Project, name: str) -> Project:
    """Another developer's checkout of the same project (same database server)."""
    path = project.path.parent / name
    shutil.copytree(project.path, path, ignore=shutil.ignore_patterns("*.sqlite3", ".manage_cache"))
    return Project(path, project.driver_url, project.backend)


def test_two_branches_conflict_until_merged(team_project: Project) -> None:
    main = team_project
    main.run("migrate", check=True)
    # Alice and Bob branch off main and each add a model to pets.
    alice, bob = _clone(main, "alice"), _clone(main, "bob")
    alice.append("apps/pets/models.py", TOY)
    bob.append("apps/pets/models.py", BALL)
    assert "0002_toy.py" in alice.run("makemigrations", check=True).stdout
    assert "0002_ball.py" in bob.run("makemigrations", check=True).stdout
    # Both branches land: git merges models.py and brings both migration files.
    main.append("apps/pets/models.py", TOY + BALL)
    for developer, name in ((alice, "0002_toy.py"), (bob, "0002_ball.py")):
        shutil.copy(
            developer.file(f"apps/pets/migrations/{name}"), main.file("apps/pets/migrations")
        )
    before = main.snapshot()
    for command in (["migrate"], ["makemigrations"], ["makemigrations", "--check"]):
        assert_error(
            main.run(*command),
            "Conflicting migrations",
            "0002_toy",
            "0002_ball",
            "in pets",
            "makemigrations --merge",
        )
    check = main.run("check")
    assert check.returncode == 1 and "Conflicting migrations" in check.stdout, str(check)
    assert main.snapshot() == before
    # Declining the merge writes nothing.
    out = main.run("makemigrations", "--merge", answers="n\n")
    assert out.returncode == 0 and main.snapshot() == before, str(out)
    out = main.run("makemigrations", "--merge", "--noinput", check=True).stdout
    assert "Merging pets\n" in out
    assert "    + Create table pets_toy  (0002_toy)\n" in out
    assert "    + Create table pets_ball  (0002_ball)\n" in out
    merge = "0003_merge_0002_ball_0002_toy"
    assert f"Created new merge migration apps/pets/migrations/{merge}.py\n" in out
    source = main.file(f"apps/pets/migrations/{merge}.py").read_text()
    assert "def upgrade() -> None:\n    pass\n" in source
    # Both sides apply, then the merge; the models agree with the history.
    out = main.run("migrate", check=True).stdout
    assert "Applying pets.0002_toy... OK" in out and "Applying pets.0002_ball... OK" in out
    assert f"Applying pets.{merge}... OK" in out
    assert {"pets_toy", "pets_ball"} <= main.tables()
    assert main.versions() == {"owners_0002_lowercase_emails", f"pets_{merge}"[:32]}
    assert main.run("makemigrations", "--check").returncode == 0
    assert main.run("check", check=True).stdout.startswith("System check identified no issues")
    # Back to one side: as in Django, only what follows it (the merge) is unapplied.
    main.run("migrate", "pets", "0002_toy", check=True)
    assert main.versions() == {"owners_0002_lowercase_emails", "pets_0002_toy", "pets_0002_ball"}
    out = main.run("migrate", check=True).stdout
    assert f"Applying pets.{merge}... OK" in out
    # The next migration follows the merge.
    main.append("apps/pets/models.py", TOY.replace("Toy", "Leash"))
    assert "apps/pets/migrations/0004_leash.py" in main.run("makemigrations", check=True).stdout


def test_merge_asks_first_and_says_when_there_is_nothing_to_merge(sqlite_project: Project) -> None:
    project = sqlite_project
    out = project.run("makemigrations", "--merge", check=True).stdout
    assert out == "No conflicts detected to merge.\n"
    project.append("apps/pets/models.py", TOY)
    project.run("makemigrations", check=True)
    toy = project.file("apps/pets/migrations/0002_toy.py")
    toy.with_name("0002_other.py").write_text(
        toy.read_text().replace('"pets_0002_toy"', '"pets_0002_other"')
    )
    result = project.run("makemigrations", "--merge", answers="y\n", check=True)
    out = result.stdout + result.stderr
    assert "Do you want to merge these migration branches? [y/N]" in out
    assert "Created new merge migration apps/pets/migrations/0003_merge_" in out


def test_a_file_gone_after_it_was_applied_is_shown_and_explained(team_project: Project) -> None:
    project = team_project
    project.append("apps/pets/models.py", TOY)
    project.run("makemigrations", check=True)
    project.run("migrate", check=True)
    # Switch to a git branch without 0002_toy: its file and model are gone.
    project.file("apps/pets/migrations/0002_toy.py").unlink()
    models = project.file("apps/pets/models.py")
    models.write_text(models.read_text().replace(TOY, ""))
    out = project.run("showmigrations", "pets", check=True).stdout
    assert out == (
        "pets\n [X] 0001_initial\n"
        " [?] 0002_toy (applied, but its file is missing: another git branch?)\n"
    )
    before = project.snapshot()
    assert_error(
        project.run("migrate"),
        "The database has pets.0002_toy applied, but no migration file for it",
        "'migrate pets <the migration before it>'",
        "'migrate --prune'",
    )
    assert project.snapshot() == before
    # Back on the branch, it can be unapplied the normal way ...
    # ... or, gone for good, forgotten (its table stays: the schema is the user's to fix).
    out = project.run("migrate", "--prune", check=True).stdout
    assert out == "Pruning migrations:\n  Pruned pets.0002_toy\n"
    assert project.versions() == {"owners_0002_lowercase_emails", "pets_0001_initial"}
    assert "pets_toy" in project.tables()
    assert project.run("showmigrations", "pets", check=True).stdout == "pets\n [X] 0001_initial\n"
    assert project.run("migrate", check=True).stdout.endswith("No migrations to apply.\n")
    rows = project.execute("SELECT app, name FROM manage_migrations ORDER BY id")
    assert ("pets", "0002_toy") not in rows and ("pets", "0001_initial") in rows
    assert project.run("migrate", "--prune", check=True).stdout == (
        "Pruning migrations:\n  No migrations to prune.\n"
    )


def test_history_table_records_and_checksums(team_project: Project) -> None:
    project = team_project
    project.run("migrate", check=True)
    rows = project.execute(
        "SELECT app, name, applied_at, duration, checksum, faked FROM manage_migrations ORDER BY id"
    )
    assert [(r[0], r[1]) for r in rows] == [
        ("owners", "0001_initial"),
        ("pets", "0001_initial"),
        ("owners", "0002_lowercase_emails"),
    ]
    assert all(r[2] is not None and r[3] is not None and len(str(r[4])) == 64 for r in rows)
    assert not any(r[5] for r in rows)
    out = project.run("showmigrations", "-v", "2", "owners", check=True).stdout
    lines = out.splitlines()
    assert lines[0] == "owners" and lines[1].startswith(" [X] 0001_initial (applied 20")
    assert lines[1].endswith(" s)")
    # An applied migration edited afterwards: a warning, or with the setting an error.
    migration = project.file("apps/pets/migrations/0001_initial.py")
    original = migration.read_text()
    migration.write_text(original + "\n# edited\n")
    out = project.run("showmigrations", "pets", check=True)
    assert " [X] 0001_initial (changed since it was applied)\n" in out.stdout
    result = project.run("migrate", check=True)
    assert "Warning: pets.0001_initial changed after it was applied" in result.stderr
    with_settings(project, STRICT_MIGRATION_CHECKSUMS=True)
    before = project.snapshot()
    assert_error(project.run("migrate"), "pets.0001_initial changed after it was applied")
    assert project.snapshot() == before
    # Restored, it passes; an intended edit is accepted with --fake (Flyway's repair).
    migration.write_text(original)
    result = project.run("migrate", check=True)
    assert "Warning" not in result.stderr and "changed" not in result.stdout
    migration.write_text(original + "\n# reviewed\n")
    assert_error(project.run("migrate"), "accept it with 'migrate --fake'")
    out = project.run("migrate", "--fake", check=True).stdout
    assert "Accepted the changed file of pets.0001_initial as applied (--fake)." in out
    result = project.run("migrate", check=True)
    assert "changed" not in result.stdout + result.stderr


def test_history_and_version_table_agree_after_fake_failure_and_unapply(project: Project) -> None:
    """On all three databases: MariaDB keeps the DDL of a failed migration, not its record."""

    def recorded() -> set[str]:
        return {
            f"{app}_{name}"
            for app, name in project.execute("SELECT app, name FROM manage_migrations")
        }

    out = project.run("migrate", "owners", "0001", "--fake", check=True).stdout
    assert "  Applying owners.0001_initial... FAKED\n" in out
    assert "owners_owner" not in project.tables()
    assert project.versions() == {"owners_0001_initial"} == recorded()
    assert project.execute("SELECT faked FROM manage_migrations")[0][0] in (True, 1)
    out = project.run("showmigrations", "-v", "2", "owners", check=True).stdout
    assert ", faked)" in out
    out = project.run("migrate", "owners", "zero", "--fake", check=True).stdout
    assert "  Unapplying owners.0001_initial... FAKED\n" in out
    assert project.versions() == set() == recorded()
    project.run("migrate", check=True)
    assert recorded() == project.versions() | {"owners_0001_initial", "pets_0001_initial"}
    # A migration that fails is in neither table.
    write_migration(
        project,
        "pets",
        "0002_broken",
        "pets_0001_initial",
        'op.create_table("pets_tmp", sa.Column("id", sa.Integer, primary_key=True))\n'
        'op.execute("DROP TABLE no_such_table")',
    )
    result = project.run("migrate")
    assert result.returncode == 1 and "pets.0002_broken" in result.stderr, str(result)
    assert "pets_0002_broken" not in recorded() | project.versions()
    project.file("apps/pets/migrations/0002_broken.py").unlink()
    project.run("migrate", "pets", "zero", check=True)
    assert (
        recorded()
        == project.versions() | {"owners_0001_initial"}
        == {
            "owners_0001_initial",
            "owners_0002_lowercase_emails",
        }
    )
