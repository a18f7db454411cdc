"""Models and database agree after migrating: no phantom differences on any database,
and every real change is found."""

from __future__ import annotations

import hashlib

from conftest import Project, install_test_app, ordinary_changes


def test_no_phantom_differences(project: Project) -> None:
    install_test_app(project, "alltypes")
    project.run("migrate", check=True)
    out = project.run("makemigrations", "alltypes", check=True).stdout
    assert "apps/alltypes/migrations/0001_initial.py" in out
    project.run("migrate", check=True)
    result = project.run("makemigrations", "--check")
    assert result.returncode == 0, str(result)
    assert result.stdout == "No changes detected\n"


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def _edit(project: Project, old: str, new: str) -> None:
    models = project.file("apps/alltypes/models.py")
    source = models.read_text()
    assert old in source, old
    models.write_text(source.replace(old, new))


def _change(project: Project, old: str, new: str, *expected: str, answers: str = "") -> None:
    """Change the model; makemigrations finds exactly the expected operations, and after
    migrating, models and database agree again."""
    _edit(project, old, new)
    out = project.run("makemigrations", check=True, answers=answers).stdout
    lines = ordinary_changes([line.strip() for line in out.splitlines()[2:]])
    assert lines == list(expected), out
    project.run("migrate", check=True)
    assert project.run("makemigrations", "--check").returncode == 0, project.run(
        "makemigrations", "--dry-run"
    ).stdout


def test_real_changes_are_found(project: Project) -> None:
    install_test_app(project, "alltypes")
    project.run("migrate", check=True)
    project.run("makemigrations", check=True)
    project.run("migrate", check=True)
    table = "alltypes_sample"
    _change(project, "String(100)", "String(120)", f"~ Alter column title of {table} (type)")
    _change(
        project,
        "mapped_column(Integer, server_default",
        "mapped_column(BigInteger, server_default",
        f"~ Alter column quantity of {table} (type)",
    )
    _change(
        project,
        "little: Mapped[int | None]",
        "little: Mapped[int]",
        f"! ~ Alter column little of {table} (nullability)",
        answers="2\n",  # the table is empty: nothing to fill
    )
    _change(
        project,
        'server_default="untitled"',
        'server_default="none"',
        f"~ Alter column title of {table} (server default)",
    )
    _change(
        project,
        'server_default="none", index=True)\n    body: Mapped[str | None] = mapped_column(Text)',
        'server_default="none")\n    body: Mapped[str | None] = mapped_column(Text, index=True)',
        f"- Drop index ix_{table}_title from {table}",
        f"+ Create index ix_{table}_body on {table}",
    ) if project.backend != "mariadb" else None  # MariaDB cannot index a TEXT column without a length
    _change(
        project,
        '        UniqueConstraint("big", "little"),\n',
        "",
        # MySQL/MariaDB keep a unique constraint as a unique index, and drop it as one.
        f"- Drop {'index' if project.backend == 'mariadb' else 'unique constraint'} uq_{table}_big_little from {table}",
    )
    old_check = project.run("makemigrations", "--dry-run").stdout  # nothing pending
    assert old_check == "No changes detected\n"
    _change(
        project,
        'CheckConstraint("quantity >= 0")',
        'CheckConstraint("quantity >= 1")',
        f"- Drop check constraint ck_{table}_{_sha('quantity >= 0')} from {table}",
        f"+ Create check constraint ck_{table}_{_sha('quantity >= 1')} on {table}",
    )


def test_enum_value_added(project: Project) -> None:
    install_test_app(project, "alltypes")
    project.run("migrate", check=True)
    project.run("makemigrations", check=True)
    project.run("migrate", check=True)
    if project.backend == "postgresql":  # a native type of its own: ALTER TYPE
        expected = "~ Add values to enum type sample_size"
    else:  # MariaDB: the column's ENUM(...); SQLite: a VARCHAR as long as the longest value
        expected = "~ Alter column size of alltypes_sample (type)"
    _change(
        project, '    large = "large"\n', '    large = "large"\n    medium = "medium"\n', expected
    )
    project.execute(
        "INSERT INTO alltypes_sample (big, code, size, data) VALUES (1, 'a', 'medium', NULL)"
    )
    assert project.execute("SELECT size FROM alltypes_sample") == [("medium",)]


def test_enum_types_come_and_go_with_their_tables(project: Project) -> None:
    install_test_app(project, "alltypes")
    project.run("migrate", check=True)
    project.run("makemigrations", check=True)
    for _ in range(2):  # on PostgreSQL the type is dropped with the table, so it can come back
        project.run("migrate", check=True)
        project.run("migrate", "alltypes", "zero", check=True)
    assert "alltypes_sample" not in project.tables()
    if project.backend == "postgresql":
        assert project.execute("SELECT count(*) FROM pg_type WHERE typname = 'sample_size'") == [
            (0,)
        ]


def test_foreign_key_change_is_found(project: Project) -> None:
    install_test_app(project, "alltypes")
    project.run("migrate", check=True)
    project.run("makemigrations", check=True)
    project.run("migrate", check=True)
    fk = "fk_alltypes_samplechild_sample_id_alltypes_sample"
    _edit(project, "sample_id: Mapped[int] =", "sample_id: Mapped[int | None] =")
    _change(
        project,
        'ondelete="CASCADE"',
        'ondelete="SET NULL"',
        # foreign keys are dropped first and created last (MySQL/MariaDB need that order)
        f"- Drop foreign key {fk} from alltypes_samplechild",
        "~ Alter column sample_id of alltypes_samplechild (nullability)",
        f"+ Create foreign key {fk} on alltypes_samplechild",
    )


def test_changes_sqlite_cannot_alter_keep_the_data(project: Project) -> None:
    """Dropping a column, changing a type, adding a constraint: batch mode on SQLite
    (the table is re-created, rows copied), plain ALTER elsewhere."""
    project.run("migrate", check=True)
    project.execute(
        "INSERT INTO owners_owner (name, email) VALUES ('Ann', 'ann@example.com')",
        "INSERT INTO pets_pet (name, species, sex, owner_id) VALUES ('Rex', 'dog', 'm', 1)",
    )
    models = project.file("apps/pets/models.py")
    source = models.read_text()
    source = source.replace("    condition: Mapped[str | None] = mapped_column(String(50))\n", "")
    source = source.replace(
        "name: Mapped[str | None] = mapped_column(String(50))",
        "name: Mapped[str | None] = mapped_column(String(80))",
    )
    source = source.replace(
        "class Pet(Model):\n",
        'class Pet(Model):\n    __table_args__ = (CheckConstraint("length(species) > 0"),)\n\n',
    )
    models.write_text(
        source.replace(
            "from sqlalchemy import Date,", "from sqlalchemy import CheckConstraint, Date,"
        )
    )
    out = project.run("makemigrations", check=True).stdout
    assert "  ! - Drop column condition from pets_pet\n" in out
    assert "    ~ Alter column name of pets_pet (type)\n" in out
    assert "    + Create check constraint ck_pets_pet_" in out
    migration = next(project.file("apps/pets/migrations").glob("0002_*.py")).read_text()
    assert ('with op.batch_alter_table("pets_pet"' in migration) == (project.backend == "sqlite")
    project.run("migrate", check=True)
    assert project.execute("SELECT name, species, sex, owner_id FROM pets_pet") == [
        ("Rex", "dog", "m", 1)
    ]
    assert project.run("makemigrations", "--check").returncode == 0
    project.run("migrate", "pets", "0001", check=True)  # and back, keeping the row
    assert project.execute("SELECT name, species FROM pets_pet") == [("Rex", "dog")]
