"""Data migrations: forward and backward functions with a session, and irreversible ones."""

from __future__ import annotations

import sqlalchemy as sa
from conftest import Project, assert_error

FILL = '''"""pets.0002_fill_condition"""

import sqlalchemy as sa
from sqlalchemy.orm import Session

from project.data import data_migration

revision = "pets_0002_fill_condition"
down_revision = "pets_0001_initial"
branch_labels = None
depends_on = None


def _pets(session: Session) -> sa.Table:
    return sa.Table("pets_pet", sa.MetaData(), autoload_with=session.connection())


def forward(session: Session) -> None:
    pets = _pets(session)
    session.execute(pets.update().where(pets.c.condition.is_(None)).values(condition="unknown"))


def backward(session: Session) -> None:
    pets = _pets(session)
    session.execute(pets.update().where(pets.c.condition == "unknown").values(condition=None))


upgrade, downgrade = data_migration(forward{backward})
'''

AFTER = '''"""pets.0003_after"""

import sqlalchemy as sa
from alembic import op

revision = "pets_0003_after"
down_revision = "pets_0002_fill_condition"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("pets_after", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("pets_after")
'''


def _rows(project: Project) -> list[tuple[object, ...]]:
    engine = project.engine()
    with engine.connect() as connection:
        pets = sa.Table("pets_pet", sa.MetaData(), autoload_with=connection)
        rows = connection.execute(
            sa.select(pets.c.name, pets.c.condition).order_by(pets.c.name)
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def _with_pets(project: Project) -> None:
    project.run("migrate", check=True)
    project.insert("owners_owner", id=1, name="Ann", email="ann@example.com")
    project.insert("pets_pet", name="Rex", condition=None, owner_id=1)
    project.insert("pets_pet", name="Tom", condition="good", owner_id=1)


def test_forward_and_backward(project: Project) -> None:
    _with_pets(project)
    project.file("apps/pets/migrations/0002_fill_condition.py").write_text(
        FILL.format(backward=", backward")
    )
    plan = project.run("migrate", "--plan", check=True).stdout
    assert "pets.0002_fill_condition\n    p Run Python forward()\n" in plan
    project.run("migrate", check=True)
    assert _rows(project) == [("Rex", "unknown"), ("Tom", "good")]
    project.run("migrate", "pets", "0001", check=True)
    assert _rows(project) == [("Rex", None), ("Tom", "good")]


def test_irreversible_migration_stops_before_unapplying_anything(project: Project) -> None:
    _with_pets(project)
    project.file("apps/pets/migrations/0002_fill_condition.py").write_text(FILL.format(backward=""))
    project.file("apps/pets/migrations/0003_after.py").write_text(AFTER)
    project.run("migrate", check=True)
    before = project.snapshot()
    assert_error(
        project.run("migrate", "pets", "0001"),
        "Cannot unapply pets.0002_fill_condition: it is irreversible",
        "Nothing was unapplied",
    )
    assert_error(project.run("migrate", "pets", "zero"), "Cannot unapply pets.0002_fill_condition")
    assert project.snapshot() == before  # pets.0003_after is still applied
    project.run("migrate", "pets", "0002", check=True)  # going back to it is fine
    assert "pets_after" not in project.tables()


def test_the_example_lowercases_emails(project: Project) -> None:
    project.run("migrate", "owners", "0001", check=True)
    project.insert("owners_owner", name="Ann", email="Ann@Example.com")
    if project.backend != "mariadb":  # MariaDB's default collation already ignores case
        project.insert("owners_owner", name="Bob", email="ANN@example.com")
        result = project.run("migrate")
        assert_error(
            result,
            "Applying owners.0002_lowercase_emails failed: ValueError: ",
            "differ only by case",
        )
        emails = sorted(project.execute("SELECT email FROM owners_owner"))
        assert emails == [("ANN@example.com",), ("Ann@Example.com",)]  # nothing changed
        project.execute("DELETE FROM owners_owner WHERE name = 'Bob'")
    project.run("migrate", check=True)
    assert project.execute("SELECT email FROM owners_owner") == [("ann@example.com",)]
