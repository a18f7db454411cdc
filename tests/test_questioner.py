"""Renames and NOT NULL columns: asked, answered on the command line, or refused."""

from __future__ import annotations

from conftest import Project, assert_error

SEX = "    sex: Mapped[str | None] = mapped_column(String(10))\n"
GENDER = "    gender: Mapped[str | None] = mapped_column(String(10))\n"


def _edit(project: Project, old: str, new: str) -> None:
    models = project.file("apps/pets/models.py")
    source = models.read_text()
    assert old in source
    models.write_text(source.replace(old, new))


def _with_rex(project: Project) -> None:
    project.run("migrate", check=True)
    project.execute(
        "INSERT INTO owners_owner (name, email) VALUES ('Ann', 'ann@example.com')",
        "INSERT INTO pets_pet (name, sex, owner_id) VALUES ('Rex', 'm', 1)",
    )


def _make(project: Project, *args: str, answers: str = "") -> str:
    result = project.run("makemigrations", *args, answers=answers, check=True)
    return result.stdout + result.stderr


def test_column_rename_asked_and_kept_with_its_data(project: Project) -> None:
    _with_rex(project)
    _edit(project, SEX, GENDER)
    out = _make(project, answers="y\n")
    assert "Did you rename pets_pet.sex to pets_pet.gender (String(10))? [y/N]" in out
    assert (
        "apps/pets/migrations/0002_rename_pet_sex.py\n    ~ Rename column sex of pets_pet to gender\n"
        in out
    )
    project.run("migrate", check=True)
    assert project.execute("SELECT name, gender FROM pets_pet") == [("Rex", "m")]
    assert project.run("makemigrations", "--check").returncode == 0
    project.run("migrate", "pets", "0001", check=True)  # the downgrade renames it back
    assert project.execute("SELECT name, sex FROM pets_pet") == [("Rex", "m")]


def test_noinput_stops_on_an_ambiguous_rename(project: Project) -> None:
    _with_rex(project)
    _edit(project, SEX, GENDER)
    before = project.snapshot()
    result = project.run("makemigrations", "--noinput")
    assert_error(
        result,
        "pets_pet.sex was removed and pets_pet.gender (String(10)) added: a rename?",
        "--rename pets.pet.sex=gender",
        "--no-rename pets.pet.sex",
    )
    assert project.snapshot() == before
    result = project.run("makemigrations")  # no answer on stdin: the same guidance
    assert result.returncode == 1 and result.stderr.splitlines()[-1].startswith(
        "Error: pets_pet.sex was removed"
    )
    out = project.run(
        "makemigrations", "--noinput", "--rename", "pets.pet.sex=gender", check=True
    ).stdout
    assert "~ Rename column sex of pets_pet to gender" in out


def test_no_rename_drops_and_adds(project: Project) -> None:
    _with_rex(project)
    _edit(project, SEX, GENDER)
    out = project.run(
        "makemigrations", "--noinput", "--no-rename", "pets.pet.sex", check=True
    ).stdout
    assert (
        "  ! - Drop column sex from pets_pet\n" in out and "~ Add column gender to pets_pet" in out
    )


def test_rename_answers_that_match_nothing_are_an_error(sqlite_project: Project) -> None:
    _edit(sqlite_project, SEX, GENDER)
    assert_error(
        sqlite_project.run("makemigrations", "--noinput", "--rename", "pets.pet.sexx=gender"),
        "No removed and added pair matches pets.pet.sexx",
    )
    assert_error(
        sqlite_project.run("makemigrations", "--rename", "nonsense"), "--rename takes", code=2
    )


def test_table_rename_keeps_rows_indexes_and_constraints(project: Project) -> None:
    _with_rex(project)
    _edit(project, "class Pet(Model):", "class Animal(Model):")
    out = _make(project, answers="y\n")
    assert "Did you rename table pets_pet to pets_animal (7 columns)? [y/N]" in out
    assert "~ Rename table pets_pet to pets_animal" in out
    assert "+ Create index ix_pets_animal_owner_id on pets_animal" in out
    project.run("migrate", check=True)
    assert project.execute("SELECT name FROM pets_animal") == [("Rex",)]
    assert project.run("makemigrations", "--check").returncode == 0
    project.run("migrate", "pets", "0001", check=True)
    assert project.execute("SELECT name FROM pets_pet") == [("Rex",)]


def test_not_null_column_added_with_a_one_off_default(project: Project) -> None:
    _with_rex(project)
    _edit(project, "class Pet(Model):\n", "class Pet(Model):\n    legs: Mapped[int]\n")
    assert_error(
        project.run("makemigrations", "--noinput"),
        "Cannot add the NOT NULL column pets_pet.legs without a default: rows may exist",
    )
    out = _make(project, answers="1\n4\n")
    assert "1) Provide a one-off default now" in out
    project.run("migrate", check=True)
    assert project.execute("SELECT name, legs FROM pets_pet") == [("Rex", 4)]
    assert project.run("makemigrations", "--check").returncode == 0  # the default is not kept
    project.execute("INSERT INTO pets_pet (name, legs, owner_id) VALUES ('Tom', 3, 1)")


def test_not_null_alteration_fills_existing_nulls(project: Project) -> None:
    _with_rex(project)
    project.execute("INSERT INTO pets_pet (name, owner_id) VALUES ('Tom', 1)")  # species NULL
    _edit(
        project,
        "    species: Mapped[str | None] = mapped_column(String(50))\n",
        "    species: Mapped[str] = mapped_column(String(50))\n",
    )
    assert_error(
        project.run("makemigrations", "--noinput"),
        "Cannot make pets_pet.species NOT NULL without a default",
    )
    out = _make(project, answers="1\n'unknown'\n")
    assert "~ Fill NULLs in pets_pet.species with 'unknown'" in out
    project.run("migrate", check=True)
    assert sorted(project.execute("SELECT name, species FROM pets_pet")) == [
        ("Rex", "unknown"),
        ("Tom", "unknown"),
    ]
    assert project.run("makemigrations", "--check").returncode == 0


def test_lint_wants_destructive_changes_reviewed(sqlite_project: Project) -> None:
    project = sqlite_project
    assert project.run("makemigrations", "--check", "--lint").returncode == 0
    _edit(project, "    condition: Mapped[str | None] = mapped_column(String(50))\n", "")
    result = project.run("makemigrations", "--check", "--lint")
    assert result.returncode == 1
    assert result.stdout.endswith(
        "Destructive changes not marked as reviewed (add allow_destructive = True to the file):\n"
        "  pets.0002_remove_pet_condition (not written)\n"
        "  ! - Drop column condition from pets_pet\n"
    )
    assert project.run("makemigrations", "--lint").returncode == 1  # written, still unreviewed
    path = project.file("apps/pets/migrations/0002_remove_pet_condition.py")
    assert "! - Drop column condition from pets_pet" in path.read_text()  # said in the file too
    path.write_text(path.read_text() + "\nallow_destructive = True\n")
    assert project.run("makemigrations", "--check", "--lint").returncode == 0
    # narrowing a type and NOT NULL without a default count too; widening does not
    _edit(
        project,
        "name: Mapped[str | None] = mapped_column(String(50))",
        "name: Mapped[str | None] = mapped_column(String(20))",
    )
    out = project.run("makemigrations", "--lint").stdout
    assert "  ! ~ Alter column name of pets_pet (type)\n" in out


TOY = "\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n"
COLLAR = "\n\nclass Collar(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n"


def test_update_folds_changes_into_the_latest_migration(project: Project) -> None:
    project.run("migrate", check=True)
    project.append("apps/pets/models.py", TOY)
    project.run("makemigrations", check=True)
    assert project.migrations("pets") == ["0001_initial.py", "0002_toy.py"]
    project.append("apps/pets/models.py", COLLAR)
    out = project.run("makemigrations", "--update", check=True).stdout
    assert out == (
        "Migrations for 'pets':\n"
        "  apps/pets/migrations/0002_collar_toy.py\n"  # Alembic lists new tables by name
        "    + Create table pets_collar\n"
        "    + Create table pets_toy\n"
    )
    assert project.migrations("pets") == ["0001_initial.py", "0002_collar_toy.py"]
    project.run("migrate", check=True)
    assert {"pets_toy", "pets_collar"} <= project.tables()
    assert project.run("makemigrations", "--check").returncode == 0
    # now applied: no more updates to it
    project.append("apps/pets/models.py", TOY.replace("Toy", "Ball"))
    assert_error(
        project.run("makemigrations", "--update"),
        "pets.0002_collar_toy is applied to the database",
        code=2,
    )


def test_update_keeps_migrations_with_code_of_their_own(sqlite_project: Project) -> None:
    project = sqlite_project
    project.append("apps/owners/models.py", TOY.replace("Toy", "Tag"))
    before = project.snapshot()
    assert_error(
        project.run("makemigrations", "--update"),
        "owners.0002_lowercase_emails has code of its own",
        code=2,
    )
    assert project.snapshot() == before
