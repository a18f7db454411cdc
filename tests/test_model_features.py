"""Models as real projects write them (tests/apps/fidelity: their own declarative base and
MetaData, a second MetaData of plain Tables, custom types, identity columns, sequences, ...):
`migrate` builds exactly what `create_all()` builds, and `makemigrations --check` is clean."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from conftest import Project, install_test_app, ordinary_changes
from fidelity import schema_differences


def test_migrate_builds_what_create_all_builds(
    project: Project, request: pytest.FixtureRequest
) -> None:
    install_test_app(project, "fidelity")
    project.run("makemigrations", "fidelity", check=True)
    project.run("migrate", check=True)
    result = project.run("makemigrations", "--check")
    assert result.returncode == 0, str(result)
    assert schema_differences(project, request) == []


def test_the_comparison_sees_a_change_no_migration_made(
    sqlite_project: Project, request: pytest.FixtureRequest
) -> None:
    """The check above is not vacuous: a model edited after migrating differs."""
    install_test_app(sqlite_project, "fidelity")
    sqlite_project.run("makemigrations", "fidelity", check=True)
    sqlite_project.run("migrate", check=True)
    models = sqlite_project.file("apps/fidelity/models.py")
    models.write_text(
        models.read_text().replace('Column("tag", String(30)', 'Column("tag", String(31)')
    )
    found = schema_differences(sqlite_project, request)
    assert found == ["table fid_event_tag, column tag: type VARCHAR(31) != VARCHAR(30)"], found


def test_postgresql_schemas_gin_arrays_and_deferrable_keys(
    make_project: Callable[[str], Project], request: pytest.FixtureRequest
) -> None:
    project = make_project("postgresql")
    install_test_app(project, "pgfeatures")
    out = project.run("makemigrations", "pgfeatures", check=True).stdout
    assert "    + Create schema archive\n" in out
    project.run("migrate", check=True)
    assert project.run("makemigrations", "--check").returncode == 0
    assert schema_differences(project, request, schemas=(None, "archive")) == []
    project.run("migrate", "pgfeatures", "zero", check=True)
    project.run("migrate", check=True)  # the schema stayed: CREATE SCHEMA IF NOT EXISTS
    assert schema_differences(project, request, schemas=(None, "archive")) == []


def _edit(project: Project, *replacements: tuple[str, str]) -> None:
    models = project.file("apps/fidelity/models.py")
    source = models.read_text()
    for old, new in replacements:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    models.write_text(source)


def _changes(project: Project, expected: dict[str, set[str]]) -> None:
    """makemigrations finds what this database can tell (all: on every one), migrate
    applies it, and models and database agree again."""
    out = project.run("makemigrations", "fidelity", check=True).stdout
    found = set(ordinary_changes([line.strip() for line in out.splitlines()[2:]]))
    wanted = expected.get("all", set()) | expected.get(project.backend, set())
    assert found == wanted, out
    project.run("migrate", check=True)
    result = project.run("makemigrations", "--check")
    assert result.returncode == 0, str(result)


def test_real_changes_of_each_feature_are_found_and_applied(
    project: Project, request: pytest.FixtureRequest
) -> None:
    install_test_app(project, "fidelity")
    project.run("makemigrations", "fidelity", check=True)
    project.run("migrate", check=True)
    _edit(
        project,
        ("Money(12)", "Money(14)"),
        (
            'Sequence("fid_invoice_id_seq", start=100)',
            'Sequence("fid_invoice_id_seq", start=100, increment=5)',
        ),
        ("Identity(start=1000, increment=10)", "Identity(start=1000, increment=20)"),
        ('mysql.BINARY(16), "mysql"', 'mysql.BINARY(20), "mysql"'),
        ('"label", mysql_length=10', '"label", mysql_length=12'),
        ('postgresql_where=text("room > 0")', 'postgresql_where=text("room > 1")'),
        ('sqlite_where=text("room > 0")', 'sqlite_where=text("room > 1")'),
        ('comment="shown"', 'comment="shown to people"'),
        ("server_default=text(\"'new'\")", "server_default=text(\"'fresh'\")"),
        ('    blue = "blue"', '    blue = "blue"\n    green = "green"'),
        (
            '{"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"},)',
            '{"mysql_engine": "Aria", "mysql_charset": "latin1"},)',
        ),
    )
    label_index = {
        "- Drop index ix_fid_sample_label from fid_sample",
        "+ Create index ix_fid_sample_label on fid_sample",
    }
    partial_index = {
        "- Drop index ix_fid_book_partial from fid_book",
        "+ Create index ix_fid_book_partial on fid_book",
    }
    _changes(
        project,
        {
            "all": {
                "~ Alter column total of fid_invoice (type)",
                # SQLite has no sequences: the history says which options it had
                "~ Alter sequence fid_invoice_id_seq",
                # A non-native Enum's check, by the values in it
                "- Drop check constraint color from fid_sample",
                "+ Create check constraint color on fid_sample",
            },
            "postgresql": {
                "~ Alter column number of fid_ticket (server default)",
                "~ Alter column label of fid_sample (server default, comment)",
                *partial_index,
            },
            "mariadb": {
                "~ Alter column digest of fid_sample (type)",
                "~ Alter column label of fid_sample (server default, comment)",
                "~ Alter options of table fid_code",
                *label_index,
            },
            # No comments; identity columns are its rowid.
            "sqlite": {"~ Alter column label of fid_sample (server default)", *partial_index},
        },
    )
    _edit(
        project,
        ('Computed("amount * 2", persisted=True)', 'Computed("amount * 3", persisted=True)'),
        (
            "    amount: Mapped[int]",
            "    archived = mapped_column(Boolean(create_constraint=True))\n    amount: Mapped[int]",
        ),
    )
    _changes(
        project,
        {
            "all": {
                # a generated column is recreated, with its index
                "- Drop index ix_fid_sample_doubled from fid_sample",
                "- Drop column doubled from fid_sample",
                "~ Add column doubled to fid_sample",
                "+ Create index ix_fid_sample_doubled on fid_sample",
                "~ Add column archived to fid_sample",
            }
        },
    )
    receipt = (
        "\n\nclass Receipt(Base):\n"
        '    __tablename__ = "fid_receipt"\n'
        '    id: Mapped[int] = mapped_column(Integer, Sequence("fid_receipt_id_seq"), primary_key=True)\n'
        '    invoice_id: Mapped[int] = mapped_column(ForeignKey("fid_invoice.id", ondelete="CASCADE"))\n'
    )
    _edit(
        project,
        (
            "\n\n# Plain tables on a second MetaData",
            receipt + "\n\n# Plain tables on a second MetaData",
        ),
    )
    _changes(
        project, {"all": {"+ Create sequence fid_receipt_id_seq", "+ Create table fid_receipt"}}
    )
    assert schema_differences(project, request, column_order=False) == []
    _edit(
        project,
        (receipt, ""),
        ('ondelete="SET NULL", onupdate="CASCADE"', 'ondelete="CASCADE"'),
        ('postgresql_where=text("room > 1"),', ""),  # an index option removed
        ('sqlite_where=text("room > 1"),', ""),
    )
    # An unnamed foreign key: the database's name for it goes (SQLite keeps none: its batch
    # names it by Alembic's recipe); the new one is named, so that its downgrade can drop it.
    dropped = {
        "postgresql": "fid_book_ticket_id_fkey",
        "mariadb": "fid_book_ibfk_2",
        "sqlite": "fk_fid_book_ticket_id_fid_ticket",
    }
    _changes(
        project,
        {
            "all": {
                "! - Drop table fid_receipt",
                "- Drop sequence fid_receipt_id_seq",
                "+ Create foreign key fk_fid_book_ticket_id_fid_ticket on fid_book",
            },
            project.backend: {f"- Drop foreign key {dropped[project.backend]} from fid_book"}
            | (set() if project.backend == "mariadb" else partial_index),  # where: removed
        },
    )
    found = schema_differences(project, request, column_order=False)
    # The one difference from create_all(): the name of the foreign key added later (and on
    # SQLite of the other one, which the recipe named; MariaDB names a key's index after it).
    named = "table fid_book, foreign key fk_fid_book_ticket_id_fid_ticket: unexpected"
    renamed = {
        "postgresql": ["table fid_book, foreign key fid_book_ticket_id_fkey: missing", named],
        "mariadb": [
            "table fid_book, foreign key fid_book_ibfk_2: missing",
            named,
            "table fid_book, index fk_fid_book_ticket_id_fid_ticket: unexpected",
            "table fid_book, index ticket_id: missing",
        ],
        "sqlite": [
            "table fid_book, foreign key (room, position) -> fid_shelf(room, position): missing",
            "table fid_book, foreign key (ticket_id) -> fid_ticket(id): missing",
            "table fid_book, foreign key fk_fid_book_room_fid_shelf: unexpected",
            named,
        ],
    }
    assert found == renamed[project.backend]


# Run in the project: makemigrations three times in one process, then how many check
# constraints the model's table has (comparing must never add any to the user's models).
REPEATED = """
from project.cli.registry import call_command
for _ in range(3):
    call_command("makemigrations", dry_run=True, settings="settings", verbosity=0)
import apps.fidelity.models as models
import sqlalchemy as sa
print(sum(isinstance(c, sa.CheckConstraint) for c in models.Sample.__table__.constraints))
"""


def test_constraints_added_and_removed_later_come_and_go(project: Project) -> None:
    """Unnamed ones on a base without a naming convention: named when added to an existing
    table, so that the downgrade can drop them; a removed named check is the one dropped."""
    install_test_app(project, "fidelity")
    project.run("makemigrations", "fidelity", check=True)
    project.run("migrate", check=True)
    checks = project.python(REPEATED)
    assert checks.returncode == 0, str(checks)
    _edit(
        project,
        (
            'CheckConstraint("length(label) > 0"),',
            (
                'CheckConstraint("length(label) > 0"),\n        CheckConstraint("amount < 1000000"),\n'
                '        UniqueConstraint("guid"),'
            ),
        ),
        ("    amount: Mapped[int]", "    level = mapped_column(Integer)\n    amount: Mapped[int]"),
    )
    again = project.python(REPEATED)
    assert int(again.stdout.split()[-1]) == int(checks.stdout.split()[-1]) + 1, str(again)
    check = "ck_fid_sample_" + hashlib.sha1(b"amount < 1000000").hexdigest()[:8]
    _changes(
        project,
        {
            "all": {
                f"+ Create check constraint {check} on fid_sample",
                "+ Create unique constraint uq_fid_sample_guid on fid_sample",
                "~ Add column level to fid_sample",
            }
        },
    )
    project.run("migrate", "fidelity", "0001", check=True)  # the downgrade drops them by name
    project.run("migrate", check=True)
    _edit(
        project,
        ('        CheckConstraint("amount >= 0", name="fid_sample_amount_positive"),\n', ""),
    )
    _changes(
        project, {"all": {"- Drop check constraint fid_sample_amount_positive from fid_sample"}}
    )
    project.run("migrate", "fidelity", "0002", check=True)
    project.run("migrate", check=True)
    if project.backend == "postgresql":
        return  # native booleans: no check; and no cast from integer without USING
    _edit(
        project,
        (
            "    level = mapped_column(Integer)",
            "    level = mapped_column(Boolean(create_constraint=True))",
        ),
    )
    _changes(project, {"all": {"! ~ Alter column level of fid_sample (type)"}})
    project.run("migrate", "fidelity", "0003", check=True)
    project.run("migrate", check=True)
