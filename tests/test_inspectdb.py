"""inspectdb: models for the tables no app owns, which pasted into an app adopt them as
they are (makemigrations, migrate --fake-initial, then nothing left to migrate, no drift)."""

from __future__ import annotations

import ast

import pytest
import sqlalchemy as sa
from conftest import Project, assert_error

from project.autogen.inspection import HEADER, render_models

# The seed's table that no model describes, as its DBA made it, and one with more types:
# lengths, text, boolean, numeric, date and time, a unique constraint, an index, a nullable
# foreign key to an app's table and server defaults.
LEGACY = {
    "sqlite": [
        (
            "CREATE TABLE example_pets (id INTEGER NOT NULL PRIMARY KEY, species VARCHAR(50), "
            "name VARCHAR(50), birthdate DATE, sex VARCHAR(10), condition VARCHAR(50))"
        ),
        (
            "CREATE TABLE legacy_visits (id INTEGER NOT NULL PRIMARY KEY, code VARCHAR(20) NOT NULL, "
            "notes TEXT, paid BOOLEAN NOT NULL DEFAULT 0, fee NUMERIC(10, 2), "
            "visit_date DATE NOT NULL, created_at DATETIME DEFAULT CURRENT_TIMESTAMP, "
            "status VARCHAR(10) NOT NULL DEFAULT 'new', "
            "owner_id INTEGER REFERENCES owners_owner (id), "
            "CONSTRAINT legacy_visits_code_key UNIQUE (code))"
        ),
        "CREATE INDEX legacy_visits_visit_date ON legacy_visits (visit_date)",
    ],
    "postgresql": [
        (
            "CREATE TABLE example_pets (id SERIAL PRIMARY KEY, species VARCHAR(50), "
            "name VARCHAR(50), birthdate DATE, sex VARCHAR(10), condition VARCHAR(50))"
        ),
        (
            "CREATE TABLE legacy_visits (id SERIAL PRIMARY KEY, code VARCHAR(20) NOT NULL UNIQUE, "
            "notes TEXT, paid BOOLEAN NOT NULL DEFAULT false, fee NUMERIC(10, 2), "
            "visit_date DATE NOT NULL, created_at TIMESTAMP DEFAULT now(), "
            "status VARCHAR(10) NOT NULL DEFAULT 'new', "
            "owner_id INTEGER REFERENCES owners_owner (id))"
        ),
        "CREATE INDEX legacy_visits_visit_date ON legacy_visits (visit_date)",
    ],
    "mariadb": [
        (
            "CREATE TABLE example_pets (id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY, "
            "species VARCHAR(50), name VARCHAR(50), birthdate DATE, sex VARCHAR(10), "
            "`condition` VARCHAR(50))"
        ),
        (
            "CREATE TABLE legacy_visits (id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY, "
            "code VARCHAR(20) NOT NULL UNIQUE, notes TEXT, paid BOOLEAN NOT NULL DEFAULT 0, "
            "fee NUMERIC(10, 2), visit_date DATE NOT NULL, "
            "created_at DATETIME DEFAULT CURRENT_TIMESTAMP, "
            "status VARCHAR(10) NOT NULL DEFAULT 'new', owner_id INTEGER, "
            "FOREIGN KEY (owner_id) REFERENCES owners_owner (id))"
        ),
        "CREATE INDEX legacy_visits_visit_date ON legacy_visits (visit_date)",
    ],
}


def test_pasted_models_adopt_the_tables_as_they_are(project: Project) -> None:
    project.run("migrate", check=True)
    project.execute(*LEGACY[project.backend])
    project.insert("owners_owner", name="Ann", email="ann@example.com")
    project.insert("legacy_visits", code="A1", visit_date=sa.func.current_date(), owner_id=1)
    before = project.snapshot()

    result = project.run("inspectdb", check=True)
    assert project.snapshot() == before  # it only reads
    code = result.stdout
    assert code.startswith(HEADER + "\n")
    tree = ast.parse(code)
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    assert classes == {"ExamplePets", "LegacyVisits"}, code  # not owners' table again
    assert "DeclarativeBase" not in code and "from project.db import Model\n" in code
    assert "'owners_owner.id'" in code.replace('"', "'"), code
    assert "alembic_version" not in code and "manage_migrations" not in code
    assert "relationship" not in code
    assert project.run("inspectdb", check=True).stdout == code  # deterministic

    project.run("startapp", "legacy", check=True)
    project.file("apps/legacy/models.py").write_text(code)
    made = project.run("makemigrations", "legacy", check=True)
    assert "0001_initial.py" in made.stdout, str(made)
    migrated = project.run("migrate", "--fake-initial", check=True)
    assert "Applying legacy.0001_initial... FAKED" in migrated.stdout, str(migrated)
    clean = project.run("makemigrations", "--check")
    assert (clean.returncode, clean.stdout) == (0, "No changes detected\n"), str(clean)
    drift = project.run("check", "--drift")
    assert drift.returncode == 0, str(drift)
    assert "The database matches its migration history." in drift.stdout
    assert project.execute("SELECT code FROM legacy_visits") == [("A1",)]
    # Adopted: the tables belong to the app now, so there is nothing left to describe.
    left = project.run("inspectdb", check=True)
    assert "class " not in left.stdout and "no tables to describe" in left.stderr


def test_a_named_table_is_written_even_when_an_app_owns_it(sqlite_project: Project) -> None:
    project = sqlite_project
    project.run("migrate", check=True)
    result = project.run("inspectdb", "owners_owner", check=True)
    assert "class OwnersOwner(Model):" in result.stdout
    assert "__tablename__ = 'owners_owner'" in result.stdout.replace('"', "'")
    assert "belongs to app 'owners'" in result.stderr
    # A table it refers to that no app owns and that is not named: said, not silently left.
    project.execute(
        "CREATE TABLE legacy_kind (id INTEGER PRIMARY KEY)",
        "CREATE TABLE legacy_item (id INTEGER PRIMARY KEY, "
        "kind_id INTEGER REFERENCES legacy_kind (id))",
    )
    result = project.run("inspectdb", "legacy_item", check=True)
    assert "refers to legacy_kind, which no app owns" in result.stderr
    assert "class LegacyKind" not in result.stdout
    both = project.run("inspectdb", check=True)
    assert "class LegacyKind(Model):" in both.stdout and both.stderr == ""


def test_an_unknown_table_is_a_one_line_error(sqlite_project: Project) -> None:
    project = sqlite_project
    project.run("migrate", check=True)
    before = project.snapshot()
    result = project.run("inspectdb", "example_pets", "nope")
    assert_error(result, "'example_pets', 'nope'", code=1)
    assert result.stdout == ""
    assert project.snapshot() == before
    assert_error(project.run("inspectdb", "alembic_version"), "alembic_version", code=2)


def test_help_says_what_it_does(sqlite_project: Project) -> None:
    result = sqlite_project.run("inspectdb", "--help", check=True)
    assert "no app owns" in result.stdout and "[TABLE]..." in result.stdout


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_render_models_adapts_sqlacodegen_to_the_project(dialect: str) -> None:
    """Without a database: a reflected-looking MetaData, rendered for each dialect."""
    from sqlalchemy.dialects import mysql

    from project.db import NAMING_CONVENTION

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    sa.Table("owners_owner", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "model",  # would clash with the base class's name
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("flag", mysql.TINYINT(display_width=1), nullable=False),
        sa.Column("count", mysql.INTEGER(display_width=11)),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners_owner.id")),
    )
    sa.Table("log", metadata, sa.Column("line", sa.Text))  # no primary key
    url = {
        "sqlite": "sqlite://",
        "postgresql": "postgresql+psycopg://",
        "mysql": "mysql+pymysql://",
    }
    engine = sa.create_engine(url[dialect])
    code = render_models(metadata, engine, ["model", "log"])
    assert code.startswith(HEADER + "\n")
    compile(code, "models.py", "exec")
    assert "DeclarativeBase" not in code and "MetaData" not in code and "Optional" not in code
    assert "from project.db import Model" in code
    assert "OwnersOwner" not in code and "ForeignKey('owners_owner.id')" in code
    assert "t_log = Table(\n    'log', Model.metadata," in code
    assert "class Model_(Model):" in code and "__tablename__ = 'model'" in code
    assert "flag: Mapped[bool] = mapped_column(Boolean, nullable=False)" in code
    assert "count: Mapped[int | None] = mapped_column(Integer)" in code
    assert "relationship" not in code
    engine.dispose()
