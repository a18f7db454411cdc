"""The core workflow end to end, through `python manage.py` on a fresh SQLite database."""

from __future__ import annotations

from conftest import Project, with_settings
from schema_compare import BOOKKEEPING

VISIT_MODEL = """

class Visit(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    pet_id: Mapped[int] = mapped_column(ForeignKey("pets_pet.id", ondelete="CASCADE"), index=True)
    vet_id: Mapped[int] = mapped_column(ForeignKey("owners_owner.id"))
    reason: Mapped[str] = mapped_column(String(200))
"""


def test_round_trip(project: Project) -> None:
    out = project.run("migrate", check=True).stdout
    assert out == (
        "Operations to perform:\n"
        "  Apply all migrations: owners, pets\n"
        "Running migrations:\n"
        "  Applying owners.0001_initial... OK\n"
        "  Applying pets.0001_initial... OK\n"
        "  Applying owners.0002_lowercase_emails... OK\n"
    )
    assert {"owners_owner", "pets_pet"} <= project.tables()

    project.append("apps/pets/models.py", VISIT_MODEL)
    out = project.run("makemigrations", check=True).stdout
    assert out == (
        "Migrations for 'pets':\n"
        "  apps/pets/migrations/0002_visit.py\n"
        "    + Create table pets_visit\n"
        "    + Create index ix_pets_visit_pet_id on pets_visit\n"
    )
    assert project.migrations("owners") == ["0001_initial.py", "0002_lowercase_emails.py"]

    out = project.run("migrate", check=True).stdout
    assert "  Applying pets.0002_visit... OK\n" in out and "owners.0001" not in out
    assert "pets_visit" in project.tables()

    out = project.run("migrate", "pets", "0001", check=True).stdout
    assert "  Target specific migration: 0001_initial, from pets\n" in out
    assert "  Unapplying pets.0002_visit... OK\n" in out
    assert "pets_visit" not in project.tables() and "pets_pet" in project.tables()

    out = project.run("migrate", "pets", "zero", check=True).stdout
    assert "  Unapply all migrations: pets\n" in out
    assert "  Unapplying pets.0001_initial... OK\n" in out
    assert "pets_pet" not in project.tables() and "owners_owner" in project.tables()

    out = project.run("migrate", check=True).stdout
    assert "Applying pets.0001_initial... OK\n  Applying pets.0002_visit... OK\n" in out
    assert project.run("migrate", check=True).stdout.endswith(
        "Running migrations:\n  No migrations to apply.\n"
    )
    assert project.run("makemigrations", "--check").returncode == 0


def test_showmigrations(project: Project) -> None:
    project.file("apps/extra").mkdir()
    project.file("apps/extra/__init__.py").write_text("")
    settings = project.file("settings.py")
    settings.write_text(
        settings.read_text().replace('"apps.pets",', '"apps.pets",\n    "apps.extra",')
    )
    project.run("migrate", "owners", check=True)
    assert project.run("showmigrations", check=True).stdout == (
        "owners\n [X] 0001_initial\n [X] 0002_lowercase_emails\npets\n [ ] 0001_initial\n"
        "extra\n (no migrations)\n"
    )
    assert project.run("showmigrations", "pets", check=True).stdout == "pets\n [ ] 0001_initial\n"
    assert project.run("showmigrations", "--plan", check=True).stdout == (
        "[X]  owners.0001_initial\n[ ]  pets.0001_initial ... (owners.0001_initial)\n"
        "[X]  owners.0002_lowercase_emails ... (owners.0001_initial)\n"
    )


def test_initial_migrations_from_scratch_with_cross_app_dependency(project: Project) -> None:
    for app in ("owners", "pets"):
        for path in project.file(f"apps/{app}/migrations").glob("*.py"):
            path.unlink()
    out = project.run("makemigrations", "pets", check=True).stdout
    # pets needs owners' new table, so owners gets its migration too, written first (Django's rule).
    assert out.index("Migrations for 'owners':") < out.index("Migrations for 'pets':")
    pets = project.file("apps/pets/migrations/0001_initial.py").read_text()
    assert 'depends_on: str | Sequence[str] | None = "owners_0001_initial"' in pets
    assert 'branch_labels: str | Sequence[str] | None = ("pets",)' in pets
    # Applying only pets from an empty database applies what it depends on first.
    out = project.run("migrate", "pets", check=True).stdout
    assert out.index("Applying owners.0001_initial") < out.index("Applying pets.0001_initial")


def test_new_tables_in_two_apps_get_depends_on(project: Project) -> None:
    project.run("migrate", check=True)
    project.append(
        "apps/owners/models.py",
        "\n\nclass Address(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n"
        "    city: Mapped[str] = mapped_column(String(80))\n",
    )
    project.append(
        "apps/pets/models.py",
        "\n\nclass Kennel(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n"
        '    address_id: Mapped[int] = mapped_column(ForeignKey("owners_address.id"))\n',
    )
    out = project.run("makemigrations", "pets", "-v", "2", check=True).stdout
    assert "apps/owners/migrations/0003_address.py" in out
    assert "apps/pets/migrations/0002_kennel.py" in out
    assert "(depends on owners_0003_address)" in out
    kennel = project.file("apps/pets/migrations/0002_kennel.py").read_text()
    assert 'depends_on: str | Sequence[str] | None = "owners_0003_address"' in kennel
    project.run("migrate", "pets", check=True)
    assert {"owners_address", "pets_kennel"} <= project.tables()
    # Unapplying owners entirely first unapplies what depends on it, and says so.
    out = project.run("migrate", "owners", "zero", check=True).stdout
    assert "Also unapplying, first, the migrations of other apps that depend on it: " in out
    assert out.index("Unapplying pets.0002_kennel") < out.index("Unapplying owners.0003_address")
    assert out.index("Unapplying pets.0001_initial") < out.index("Unapplying owners.0001_initial")
    assert project.tables() <= set(BOOKKEEPING)


def test_naming_an_app_restricts_new_files(project: Project) -> None:
    project.run("migrate", check=True)
    project.append(
        "apps/owners/models.py",
        "\n\nclass Tag(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n",
    )
    project.append(
        "apps/pets/models.py",
        "\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n",
    )
    out = project.run("makemigrations", "pets", check=True).stdout
    assert "Migrations for 'pets':" in out and "owners" not in out
    assert project.migrations("owners") == ["0001_initial.py", "0002_lowercase_emails.py"]
    project.run("migrate", "pets", check=True)
    assert (
        project.run("makemigrations", "pets", check=True).stdout
        == "No changes detected in app 'pets'\n"
    )


def test_automatic_names_describe_the_operations(project: Project) -> None:
    project.run("migrate", check=True)
    models = project.file("apps/pets/models.py")
    models.write_text(
        models.read_text().replace(
            "    condition: Mapped[str | None] = mapped_column(String(50))\n",
            "    weight: Mapped[float | None]\n",
        )
    )
    out = project.run("makemigrations", check=True).stdout
    assert out == (
        "Migrations for 'pets':\n"
        "  apps/pets/migrations/0002_pet_weight_remove_pet_condition.py\n"
        "    ~ Add column weight to pets_pet\n"
        "  ! - Drop column condition from pets_pet\n"
    )
    project.run("migrate", check=True)
    project.append(
        "apps/pets/models.py",
        "\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n",
    )
    assert (
        "0003_playthings.py"
        in project.run("makemigrations", "--name", "playthings", check=True).stdout
    )


def test_removed_model_is_dropped_by_its_app(project: Project) -> None:
    project.run("migrate", check=True)
    project.append("apps/pets/models.py", VISIT_MODEL)
    project.run("makemigrations", check=True)
    project.run("migrate", check=True)
    models = project.file("apps/pets/models.py")
    models.write_text(models.read_text().replace(VISIT_MODEL, "\n"))
    out = project.run("makemigrations", check=True).stdout
    assert "apps/pets/migrations/0003_delete_visit.py" in out
    assert "  ! - Drop table pets_visit\n" in out
    project.run("migrate", check=True)
    assert "pets_visit" not in project.tables()
    project.run("migrate", "pets", "0002", check=True)  # the downgrade re-creates it
    assert "pets_visit" in project.tables()


def test_unowned_tables_survive_while_protected(project: Project) -> None:
    project.run("migrate", check=True)
    project.execute("CREATE TABLE example_pets (id INTEGER PRIMARY KEY, name VARCHAR(50))")
    # Compared with the history (the default), a table only the database has is never seen.
    assert project.run("makemigrations", check=True).stdout == "No changes detected\n"
    assert "example_pets" not in project.run("makemigrations", "-v", "2", check=True).stdout
    # Compared with the database, it is seen, and left alone while the setting is on.
    assert project.run("makemigrations", "--from-db", check=True).stdout == "No changes detected\n"
    verbose = project.run("makemigrations", "--from-db", "-v", "2", check=True).stdout
    assert (
        "Ignored 1 table(s) that no installed app owns (PROTECT_UNOWNED_TABLES is on): example_pets"
        in verbose
    )
    assert project.run("makemigrations", "--from-db", "--check").returncode == 0
    project.run("migrate", check=True)
    assert "example_pets" in project.tables()


def test_unowned_tables_are_dropped_reversibly_when_allowed(project: Project) -> None:
    project.run("migrate", check=True)
    project.execute(
        "CREATE TABLE example_pets (id INTEGER PRIMARY KEY, name VARCHAR(50))",
        "INSERT INTO example_pets (id, name) VALUES (1, 'Rex')",
    )
    with_settings(project, PROTECT_UNOWNED_TABLES=False)
    # The history never has it, whatever the setting.
    assert project.run("makemigrations", check=True).stdout == "No changes detected\n"
    out = project.run("makemigrations", "--from-db", check=True).stdout
    # Drops of tables no app owns go to the first installed app among those being migrated.
    assert out == (
        "Migrations for 'owners':\n"
        "  apps/owners/migrations/0003_delete_example_pets.py\n"
        "  ! - Drop table example_pets\n"
    )
    assert project.migrations("pets") == ["0001_initial.py"]
    source = project.file("apps/owners/migrations/0003_delete_example_pets.py").read_text()
    assert 'op.drop_table("example_pets")' in source
    assert 'op.create_table(\n        "example_pets"' in source
    project.run("migrate", check=True)
    assert "example_pets" not in project.tables()
    project.run("migrate", "owners", "0002", check=True)
    assert "example_pets" in project.tables()
    # it would be dropped again
    assert project.run("makemigrations", "--from-db", "--check").returncode != 0


def test_version_table_is_never_touched(project: Project) -> None:
    project.run("migrate", check=True)
    with_settings(project, PROTECT_UNOWNED_TABLES=False)
    assert project.run("makemigrations", "--from-db", check=True).stdout == "No changes detected\n"


def test_check_exits_1_and_writes_nothing(project: Project) -> None:
    project.run("migrate", check=True)
    assert project.run("makemigrations", "--check").returncode == 0
    project.append("apps/pets/models.py", VISIT_MODEL)
    before = project.snapshot()
    result = project.run("makemigrations", "--check")
    assert result.returncode == 1, str(result)
    assert "Migrations for 'pets':" in result.stdout and result.stderr == ""
    assert project.snapshot() == before


def test_dry_run_shows_and_writes_nothing(project: Project) -> None:
    project.run("migrate", check=True)
    project.append("apps/pets/models.py", VISIT_MODEL)
    before = project.snapshot()
    out = project.run("makemigrations", "--dry-run", check=True).stdout
    assert "apps/pets/migrations/0002_visit.py\n    + Create table pets_visit" in out
    assert project.snapshot() == before


def test_empty_migration(project: Project) -> None:
    out = project.run("makemigrations", "--empty", "pets", check=True).stdout
    assert out == "Migrations for 'pets':\n  apps/pets/migrations/0002_manual.py\n"
    source = project.file("apps/pets/migrations/0002_manual.py").read_text()
    assert 'down_revision: str | Sequence[str] | None = "pets_0001_initial"' in source
    assert "def forward(session: Session) -> None:" in source
    assert "def backward(session: Session) -> None:" in source
    assert "upgrade, downgrade = data_migration(forward, backward)" in source
    project.run("makemigrations", "--empty", "pets", "-n", "backfill", check=True)
    assert project.migrations("pets")[-1] == "0003_backfill.py"
    project.run("migrate", check=True)
    assert project.versions() == {"owners_0002_lowercase_emails", "pets_0003_backfill"}
    project.run("migrate", "pets", "0001", check=True)  # empty backward functions: reversible


def test_migrate_plan_changes_nothing(project: Project) -> None:
    before = project.snapshot()
    out = project.run("migrate", "--plan", check=True).stdout
    assert out == (
        "Planned operations:\n"
        "owners.0001_initial\n"
        "    + Create table owners_owner\n"
        "pets.0001_initial\n"
        "    + Create table pets_pet\n"
        "    + Create index ix_pets_pet_owner_id on pets_pet\n"
        "owners.0002_lowercase_emails\n"
        "    p Run Python forward()\n"
    )
    assert project.snapshot() == before
    project.run("migrate", check=True)
    out = project.run("migrate", "pets", "zero", "--plan", check=True).stdout
    assert out == ("Planned operations:\nUndo pets.0001_initial\n  ! - Drop table pets_pet\n")
    assert (
        project.run("migrate", "--plan", check=True).stdout
        == "Planned operations:\n  No planned migration operations.\n"
    )


def test_migration_name_prefixes(project: Project) -> None:
    project.run("migrate", check=True)
    project.append("apps/pets/models.py", VISIT_MODEL)
    project.run("makemigrations", check=True)
    project.run("migrate", "pets", "0001", check=True)
    assert project.versions() == {"owners_0002_lowercase_emails", "pets_0001_initial"}
    project.run("migrate", "pets", "0002_v", check=True)
    # its foreign key to owners makes it depend on owners' latest: one row says both
    assert project.versions() == {"pets_0002_visit"}
    project.run("migrate", "pets", "0001_initial", check=True)
    assert project.versions() == {"owners_0002_lowercase_emails", "pets_0001_initial"}


def test_generated_files_are_deterministic_and_clean(sqlite_project: Project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    project = sqlite_project
    other = Project(tmp_path / "other", f"sqlite:///{tmp_path / 'other.sqlite3'}")
    shutil.copytree(project.path, other.path)
    for copy in (project, other):
        copy.run("migrate", check=True)
        copy.append("apps/pets/models.py", VISIT_MODEL)
        copy.run("makemigrations", check=True)
    first = project.file("apps/pets/migrations/0002_visit.py").read_text()
    assert first == other.file("apps/pets/migrations/0002_visit.py").read_text()
    assert "info=" not in first and str(project.path) not in first and "Create Date" not in first
    assert first.startswith('"""pets.0002_visit\n\n+ Create table pets_visit\n')
    assert 'revision: str = "pets_0002_visit"' in first
