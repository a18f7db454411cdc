"""Names are checked where they are written (issue 13, point 5): app labels, identifier
lengths, `makemigrations -n`, and server defaults holding quotes or SQL text."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import Project, assert_error, with_settings

from project.apps import label_problem
from project.autogen.comparators import _compiled
from project.autogen.compare import same_server_default
from project.engine.model_tables import identifier_limit, named_objects


def test_label_rule() -> None:
    assert label_problem("shop") is None
    assert label_problem("shop_2") is None
    for bad in ("café", "Shop", "2shop", "class", "sh-op", "x" * 27):
        assert label_problem(bad), bad


def test_identifier_limits() -> None:
    assert identifier_limit("sqlite") is None
    assert identifier_limit("postgresql") == (63, "PostgreSQL")
    assert identifier_limit("mysql") == (64, "MySQL")
    assert identifier_limit("mariadb") == (64, "MariaDB")
    assert identifier_limit("sqlite", ("mysql", "postgresql")) == (63, "PostgreSQL")
    assert identifier_limit("mariadb", ("sqlite",)) == (64, "MariaDB")


def test_named_objects_include_generated_names() -> None:
    metadata = sa.MetaData(naming_convention={"ix": "ix_%(table_name)s_%(column_0_name)s"})
    table = sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True, index=True))
    assert ("Index", "ix_t_id") in named_objects(table)
    assert ("Table", "t") in named_objects(table) and ("Column t.", "id") in named_objects(table)


@pytest.mark.parametrize(
    "default", ["it's", "a''b", "'); DROP TABLE x; --", "50% off", "back\\slash"]
)
def test_a_string_default_is_compared_as_the_literal_it_is(default: str) -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    for dialect in (sqlite.dialect(), postgresql.dialect()):
        rendered = _compiled(sa.schema.DefaultClause(default), dialect)
        assert rendered.startswith("'") and rendered.endswith("'")
        assert same_server_default(rendered, rendered)
        assert same_server_default(f"{rendered}::character varying", rendered)
        assert not same_server_default("'other'", rendered)


def test_startapp_and_settings_agree_on_labels(sqlite_project: Project) -> None:
    assert_error(
        sqlite_project.run("startapp", "café"),
        "'café' is not a valid app name: use a lower-case ASCII Python identifier",
    )
    assert not sqlite_project.file("apps/café").exists()
    sqlite_project.file("apps/café").mkdir()
    sqlite_project.file("apps/café/__init__.py").write_text("")
    settings = sqlite_project.file("settings.py")
    settings.write_text(
        settings.read_text().replace('"apps.pets",', '"apps.pets",\n    "apps.café",')
    )
    assert_error(
        sqlite_project.run("showmigrations"),
        "App label 'café' (from 'apps.café') is not valid: use a lower-case ASCII Python identifier",
    )


def test_database_targets_are_validated(sqlite_project: Project) -> None:
    with_settings(sqlite_project, DATABASE_TARGETS=["postgresql", "oracle"])
    assert_error(sqlite_project.run("check"), "DATABASE_TARGETS in 'settings' must be a list")


def _model(project: Project, body: str) -> None:
    project.append(
        "apps/pets/models.py",
        f"\n\nclass Toy(Model):\n    id: Mapped[int] = mapped_column(primary_key=True)\n{body}",
    )


def test_identifiers_longer_than_the_database_allows(project: Project) -> None:
    """63 on PostgreSQL, 64 on MariaDB, none on SQLite, unless DATABASE_TARGETS says more."""
    limit = {"postgresql": 63, "mariadb": 64}.get(project.backend)
    column = "c" * (limit + 1 if limit else 100)
    _model(project, f"    {column}: Mapped[int | None]\n")
    before = project.snapshot()
    result = project.run("makemigrations")
    if limit is None:
        assert result.returncode == 0, str(result)
        with_settings(project, DATABASE_TARGETS=["postgresql", "mysql"])
        project.file("apps/pets/migrations/0002_toy.py").unlink()
        before = project.snapshot()
        assert_error(
            project.run("makemigrations"),
            f"Column pets_toy.{column} of model Toy in apps.pets.models (app 'pets') is 100",
            "PostgreSQL's limit (the strictest of DATABASE_TARGETS) of 63",
        )
    else:
        database = {"postgresql": "PostgreSQL", "mariadb": "MySQL"}[project.backend]  # mysql://
        assert_error(result, f"Column pets_toy.{column}", f"{database}'s limit of {limit}")
    assert project.snapshot() == before


def test_a_generated_index_name_counts_too(make_project) -> None:  # type: ignore[no-untyped-def]
    project = make_project("postgresql")
    column = "c" * 55  # fits, but ix_pets_toy_<column> does not
    _model(project, f"    {column}: Mapped[int | None] = mapped_column(index=True)\n")
    before = project.snapshot()
    assert_error(
        project.run("makemigrations"),
        f"Index 'ix_pets_toy_{column}' of model Toy",
        "PostgreSQL's limit of 63",
        "naming convention",
    )
    assert project.snapshot() == before


def test_migration_names_fit_the_file_name_budget(sqlite_project: Project) -> None:
    project = sqlite_project
    _model(project, "")
    before = project.snapshot()
    assert_error(
        project.run("makemigrations", "-n", "a" * 100),
        "is 100 characters long",
        "at most 75",
    )
    assert project.snapshot() == before
    out = project.run("makemigrations", "-n", "Add" + "a" * 72, check=True).stdout
    stem = "0002_add" + "a" * 72
    assert f"apps/pets/migrations/{stem}.py" in out, out
    assert project.migrations("pets") == ["0001_initial.py", f"{stem}.py"]
    assert f"pets.{stem}" in project.file(f"apps/pets/migrations/{stem}.py").read_text()


@pytest.mark.parametrize(
    ("default", "value"),
    [
        ('"it\'s"', "it's"),
        ('"\'); DROP TABLE pets_pet; --"', "'); DROP TABLE pets_pet; --"),
        ("text(\"'a''b'\")", "a'b"),
        ('"50% off"', "50% off"),
    ],
)
def test_a_server_default_with_quotes_is_no_change_forever(
    project: Project, default: str, value: str
) -> None:
    project.append(
        "apps/pets/models.py",
        "\n\nfrom sqlalchemy import text\n\n\nclass Toy(Model):\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        f"    label: Mapped[str] = mapped_column(String(40), server_default={default})\n",
    )
    project.run("makemigrations", check=True)
    project.run("migrate", check=True)
    assert "pets_pet" in project.tables()
    for mode in ([], ["--from-db"]):
        result = project.run("makemigrations", "--check", *mode)
        assert result.returncode == 0 and "No changes detected" in result.stdout, str(result)
    project.insert("pets_toy")
    assert project.execute("SELECT label FROM pets_toy")[0][0] == value


def test_a_sequence_default_is_the_same_with_postgresql_s_regclass_cast() -> None:
    """`seq.next_value()` renders nextval('s'); PostgreSQL reports nextval('s'::regclass)."""
    reflected = "nextval('archive.pg_note_number_seq'::regclass)"
    assert same_server_default(reflected, "nextval('archive.pg_note_number_seq')")
    assert not same_server_default(reflected, "nextval('archive.other_seq')")
