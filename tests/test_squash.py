"""squashmigrations: one migration replacing a range; old and new databases both work."""

from __future__ import annotations

from conftest import Project, assert_error

TOY = "\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n"
BALL = TOY.replace("Toy", "Ball")


def _three_pet_migrations(project: Project) -> None:
    project.append("apps/pets/models.py", TOY)
    project.run("makemigrations", check=True)
    project.run("migrate", check=True)
    project.append("apps/pets/models.py", BALL)
    project.run("makemigrations", check=True)


def test_squash_replaces_the_range(project: Project) -> None:
    project.run("migrate", check=True)
    _three_pet_migrations(project)
    project.run("migrate", check=True)
    out = project.run("squashmigrations", "pets", "0003", check=True).stdout
    assert out.startswith(
        "Squashed 3 migrations of 'pets' into:\n  apps/pets/migrations/0001_squashed_0003_ball.py\n"
    )
    assert "    + Create table pets_ball\n" in out and "    + Create table pets_pet\n" in out
    source = project.file("apps/pets/migrations/0001_squashed_0003_ball.py").read_text()
    assert 'replaces = ("pets_0001_initial", "pets_0002_toy", "pets_0003_ball")' in source
    # A database that applied the range sees the squashed migration as applied.
    assert project.run("showmigrations", "pets", check=True).stdout == (
        "pets\n [X] 0001_squashed_0003_ball (3 squashed migrations)\n"
    )
    assert project.run("migrate", check=True).stdout.endswith("No migrations to apply.\n")
    assert "pets_0001_squashed_0003" in project.versions()  # restamped
    assert project.run("makemigrations", "--check").returncode == 0
    # A new database runs only the squashed one, and it can be unapplied and applied again.
    project.run("migrate", "pets", "zero", check=True)
    assert not {"pets_pet", "pets_toy", "pets_ball"} & project.tables()
    out = project.run("migrate", check=True).stdout
    assert "  Applying pets.0001_squashed_0003_ball... OK\n" in out and "0002_toy" not in out
    assert {"pets_pet", "pets_toy", "pets_ball"} <= project.tables()
    # Later migrations follow the squashed one.
    project.append("apps/pets/models.py", TOY.replace("Toy", "Leash"))
    assert "apps/pets/migrations/0004_leash.py" in project.run("makemigrations", check=True).stdout
    project.run("migrate", check=True)
    assert project.run("makemigrations", "--check").returncode == 0


def test_a_database_in_the_middle_of_the_range_keeps_the_old_migrations(
    sqlite_project: Project,
) -> None:
    project = sqlite_project
    project.run("migrate", check=True)
    _three_pet_migrations(project)
    partial = {"DATABASE_URL": f"sqlite:///{project.path / 'partial.sqlite3'}"}
    project.run("migrate", "pets", "0002", env=partial, check=True)
    project.run("squashmigrations", "pets", "0003", check=True)
    assert project.run("showmigrations", "pets", env=partial, check=True).stdout == (
        "pets\n [X] 0001_initial\n [X] 0002_toy\n [ ] 0003_ball\n"
    )
    out = project.run("migrate", env=partial, check=True).stdout
    assert "  Applying pets.0003_ball... OK\n" in out
    assert project.run("showmigrations", "pets", env=partial, check=True).stdout == (
        "pets\n [X] 0001_squashed_0003_ball (3 squashed migrations)\n"
    )
    # Once every database is past the range, its files can go (keep `replaces`).
    for name in ("0001_initial.py", "0002_toy.py", "0003_ball.py"):
        project.file(f"apps/pets/migrations/{name}").unlink()
    project.run("migrate", env=partial, check=True)
    assert project.run("makemigrations", "--check").returncode == 0


def test_squash_refuses_what_it_cannot_rebuild(sqlite_project: Project) -> None:
    project = sqlite_project
    assert_error(project.run("squashmigrations", "pets", "0001"), "Nothing to squash", code=2)
    assert_error(
        project.run("squashmigrations", "pets", "0009"),
        "Cannot find a migration matching '0009'",
        code=2,
    )
    project.run("makemigrations", "--empty", "pets", check=True)
    assert_error(
        project.run("squashmigrations", "pets", "0002"),
        "pets.0002_manual has code of its own",
        code=2,
    )


def test_squash_keeps_the_sequences_of_the_range(project: Project) -> None:
    """A reflected schema has no column sequences: the squash takes them from the files."""
    project.append(
        "apps/pets/models.py",
        "\n\nfrom sqlalchemy import Integer, Sequence\n\n\nclass Tag(Model):\n"
        '    id: Mapped[int] = mapped_column(Integer, Sequence("pets_tag_id_seq", start=5), primary_key=True)\n',
    )
    project.run("makemigrations", check=True)
    project.run("migrate", check=True)
    project.file("apps/pets/models.py").write_text(
        project.file("apps/pets/models.py").read_text().replace("start=5)", "start=5, increment=2)")
    )
    project.run("makemigrations", check=True)
    project.run("migrate", check=True)
    project.run("squashmigrations", "pets", "0003", check=True)
    squashed = next(project.file("apps/pets/migrations").glob("0001_squashed_0003_*.py"))
    source = squashed.read_text()
    assert 'op.create_sequence("pets_tag_id_seq", start=5, increment=2)' in source, source
    project.run("migrate", "pets", "zero", check=True)
    project.run("migrate", check=True)  # the squashed migration alone, on an empty schema
    assert project.run("makemigrations", "--check").returncode == 0


def test_a_squash_after_0001_keeps_checks_indexes_and_foreign_keys(project: Project) -> None:
    """Issue 14's bug: a squash of 0002-0003 that adds a check constraint (the squash
    compared without them once), an index and a foreign key, then a fresh database."""
    project.append("apps/pets/models.py", TOY)
    project.run("makemigrations", check=True)  # 0002_toy
    project.append(
        "apps/pets/models.py",
        "\n\nclass Tag(Model):\n"
        "    __table_args__ = (CheckConstraint('length(label) > 0', name='label_not_empty'),)\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        "    label: Mapped[str] = mapped_column(String(20), index=True)\n"
        "    toy_id: Mapped[int] = mapped_column(ForeignKey('pets_toy.id'))\n",
    )
    models = project.file("apps/pets/models.py")
    models.write_text("from sqlalchemy import CheckConstraint\n" + models.read_text())
    project.run("makemigrations", check=True)  # 0003_tag
    out = project.run("squashmigrations", "pets", "0002", "0003", check=True).stdout
    assert "apps/pets/migrations/0002_squashed_0003_tag.py" in out, out
    source = project.file("apps/pets/migrations/0002_squashed_0003_tag.py").read_text()
    assert "label_not_empty" in source and "ix_pets_tag_label" in source
    assert "ForeignKeyConstraint" in source
    # A fresh database runs the squashed migration and matches the models exactly.
    project.run("migrate", check=True)
    assert {"pets_toy", "pets_tag"} <= project.tables()
    assert project.run("makemigrations", "--check").returncode == 0
    checked = project.run("check", "--drift")
    assert checked.returncode == 0, str(checked)
