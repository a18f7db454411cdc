"""Coming from Alembic: a project whose database a plain Alembic history (one `versions/`
folder, its own declarative base) brought to its head, moved into an app and adopted with
`migrate --fake-initial`, on every database."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Project, assert_error

# The old project's models, moved as they were into apps/library/models.py: their own
# base, no naming convention (the database's own constraint names).
MODELS = """
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Numeric, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "library_author"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    born: Mapped[date | None] = mapped_column(Date)


class Book(Base):
    __tablename__ = "library_book"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("library_author.id", ondelete="CASCADE"))
    price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    added_at: Mapped[datetime] = mapped_column(server_default=func.now())
"""

# The plain Alembic environment the old project had (`alembic init`, then its env.py
# pointed at the models); OLD_TABLES limits autogenerate, to write the history in steps.
ENV_PY = """
import os

from alembic import context
from sqlalchemy import create_engine

from apps.library.models import Base

only = os.environ.get("OLD_TABLES")


def include_object(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and only and name not in only.split(","))


engine = create_engine(os.environ["OLD_DATABASE_URL"])
with engine.connect() as connection:
    context.configure(
        connection=connection, target_metadata=Base.metadata, include_object=include_object
    )
    with context.begin_transaction():
        context.run_migrations()
"""


class OldAlembic:
    """`alembic ...` in the project folder, as the old project ran it."""

    def __init__(self, project: Project) -> None:
        self.project = project

    def __call__(self, *args: str, tables: str = "") -> str:
        env = {**self.project.env, "OLD_DATABASE_URL": self.project.driver_url}
        env["OLD_TABLES"] = tables
        completed = subprocess.run(
            [sys.executable, "-m", "alembic", *args],
            cwd=self.project.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        return completed.stdout + completed.stderr

    def head(self) -> str:
        return self("heads").split()[0]


def _plain_alembic_project(project: Project, at_head: bool = True) -> tuple[OldAlembic, list[str]]:
    """The library app's models, an old Alembic history of two revisions (authors, then
    books) applied to the database, and the app installed alone; returns its revisions."""
    library = project.file("apps/library")
    (library / "migrations").mkdir(parents=True)
    (library / "__init__.py").write_text("")
    (library / "models.py").write_text(MODELS)
    settings = project.file("settings.py")
    settings.write_text(
        settings.read_text().replace('"apps.owners",\n    "apps.pets",', '"apps.library",')
    )
    alembic = OldAlembic(project)
    alembic("init", "old_migrations")
    project.file("old_migrations/env.py").write_text(ENV_PY)
    alembic("revision", "--autogenerate", "-m", "authors", tables="library_author")
    alembic("upgrade", "head")
    first = alembic.head()
    alembic("revision", "--autogenerate", "-m", "books")
    if at_head:
        alembic("upgrade", "head")
    return alembic, [first, alembic.head()]


def _snapshot(project: Project) -> dict[str, str]:
    """Files, tables and version rows; SQLite's migration lock file comes and stays."""
    return {k: v for k, v in project.snapshot().items() if not k.endswith("-lock")}


def _schema(project: Project) -> dict[str, Any]:
    engine = project.engine()
    try:
        inspector = sa.inspect(engine)
        return {
            table: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
                sorted(str(i) for i in inspector.get_indexes(table)),
                sorted(str(u) for u in inspector.get_unique_constraints(table)),
                sorted(str(f) for f in inspector.get_foreign_keys(table)),
            )
            for table in ("library_author", "library_book")
        }
    finally:
        engine.dispose()


def test_a_plain_alembic_project_is_adopted(project: Project) -> None:
    _, (_, old_head) = _plain_alembic_project(project)
    project.insert("library_author", name="Tolstoy")
    assert project.versions() == {old_head}
    made = project.run("makemigrations", check=True).stdout
    assert "+ Create table library_author" in made and "+ Create table library_book" in made
    before = _schema(project)

    # A plain migrate says what the database is and what to do, and changes nothing.
    assert_error(project.run("migrate"), f"revision '{old_head}'", "'migrate --fake-initial'")
    assert project.versions() == {old_head}
    shown = project.run("showmigrations", check=True).stdout
    assert f" [?] {old_head} (in the version table, but no app has it" in shown
    assert "'migrate --fake-initial'" in shown

    adopted = project.run("migrate", "--fake-initial", check=True).stdout
    assert f"Adopted the database of a plain Alembic history at revision '{old_head}'" in adopted
    assert adopted.endswith("  Applying library.0001_initial... FAKED\n")
    assert project.versions() == {"library_0001_initial"}
    kept = project.execute(
        f"SELECT app, revision, faked FROM manage_migrations WHERE revision = '{old_head}'"
    )
    assert [(app, revision, bool(faked)) for app, revision, faked in kept] == [
        ("(alembic)", old_head, True)
    ]
    assert _schema(project) == before  # no table was touched
    assert project.execute("SELECT name FROM library_author") == [("Tolstoy",)]
    shown = project.run("showmigrations", check=True).stdout
    assert shown == "library\n [X] 0001_initial\n"
    assert "No changes detected" in project.run("makemigrations", "--check", check=True).stdout
    assert project.run("check", "--drift").returncode == 0
    # Pruning forgets missing files' records, not the adopted history's.
    project.run("migrate", "--prune", check=True)
    assert project.execute(f"SELECT app FROM manage_migrations WHERE revision = '{old_head}'")

    # The next model change migrates as usual.
    project.file("apps/library/models.py").write_text(
        MODELS.replace(
            "    born: Mapped[date | None] = mapped_column(Date)\n",
            "    born: Mapped[date | None] = mapped_column(Date)\n"
            "    country: Mapped[str | None] = mapped_column(String(60))\n",
        )
    )
    assert "0002_author_country.py" in project.run("makemigrations", check=True).stdout
    assert "Applying library.0002_author_country... OK" in project.run("migrate", check=True).stdout
    assert "country" in [c for c, _, _ in _schema(project)["library_author"][0]]
    assert project.run("makemigrations", "--check").returncode == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_an_old_history_not_at_its_head_is_refused(project: Project) -> None:
    _, (first, _) = _plain_alembic_project(project, at_head=False)
    project.run("makemigrations", check=True)
    before = _snapshot(project)
    refused = project.run("migrate", "--fake-initial")
    assert_error(
        refused,
        f"Cannot adopt the database at revision '{first}'",
        "+ Create table library_book",
        "alembic upgrade head",
    )
    assert _snapshot(project) == before
    assert "manage_migrations" not in project.tables()


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"], indirect=True)
def test_models_ahead_of_the_old_history_are_refused(project: Project) -> None:
    _plain_alembic_project(project)
    models = project.file("apps/library/models.py")
    models.write_text(
        models.read_text().replace(
            "    price:", "    pages: Mapped[int | None] = mapped_column()\n    price:"
        )
    )
    project.run("makemigrations", check=True)
    before = _snapshot(project)
    refused = project.run("migrate", "--fake-initial")
    assert_error(refused, "Cannot adopt", "Add column pages to library_book")
    assert _snapshot(project) == before


def test_adopting_takes_every_app(sqlite_project: Project) -> None:
    project = sqlite_project
    _plain_alembic_project(project)
    project.run("makemigrations", check=True)
    before = _snapshot(project)
    assert_error(project.run("migrate", "library", "--fake-initial"), "without an app label")
    assert _snapshot(project) == before
