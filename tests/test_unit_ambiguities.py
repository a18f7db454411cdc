"""project.autogen.ambiguities in process: which of autogenerate's operations may be renames,
and the one-off defaults a NOT NULL column gets for the rows that may exist. Compared on a
real SQLite database, with the options makemigrations uses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import produce_migrations
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext

from project.autogen.ambiguities import (
    rename_candidates,
    server_default_expression,
    with_not_null_answers,
)
from project.autogen.compare import autogenerate_options
from project.autogen.questioner import Questioner, Rename
from project.engine.operations import FillNullsOp
from project.errors import ProjectError

Compare = Callable[[sa.MetaData], tuple[MigrationContext, list[ops.MigrateOperation]]]


def _owner(table: str) -> str | None:
    return table.split("_", 1)[0] if "_" in table else None


@pytest.fixture
def database() -> Iterator[sa.Connection]:
    """An in-memory SQLite database holding shop_item, shop_old and crm_lead."""
    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        for statement in (
            (
                "CREATE TABLE shop_item (id INTEGER NOT NULL PRIMARY KEY, title VARCHAR(50), "
                "code VARCHAR(10) NOT NULL, note TEXT)"
            ),
            "CREATE TABLE shop_old (id INTEGER NOT NULL PRIMARY KEY, label VARCHAR(20))",
            "CREATE TABLE crm_lead (id INTEGER NOT NULL PRIMARY KEY, label VARCHAR(20))",
        ):
            connection.exec_driver_sql(statement)
        yield connection
    engine.dispose()


@pytest.fixture
def compare(database: sa.Connection) -> Compare:
    """The operations autogenerate finds between the database and `metadata`."""

    def run(metadata: sa.MetaData) -> tuple[MigrationContext, list[ops.MigrateOperation]]:
        options = autogenerate_options("sqlite", metadata, lambda *args: True)
        context = MigrationContext.configure(database, opts=options)
        script = produce_migrations(context, metadata)
        assert script.upgrade_ops is not None
        return context, list(script.upgrade_ops.ops)

    return run


def _models(
    item: list[sa.Column[Any]] | None = None,
    old: bool = True,
    lead: bool = True,
    extra: Callable[[sa.MetaData], object] | None = None,
) -> sa.MetaData:
    metadata = sa.MetaData()
    default_item = [
        sa.Column("title", sa.String(50)),
        sa.Column("code", sa.String(10), nullable=False),
        sa.Column("note", sa.Text),
    ]
    sa.Table(
        "shop_item",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        *(item or default_item),
    )
    if old:
        sa.Table(
            "shop_old",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("label", sa.String(20)),
        )
    if lead:
        sa.Table(
            "crm_lead",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("label", sa.String(20)),
        )
    if extra:
        extra(metadata)
    return metadata


def _renames(found: list[tuple[Rename, Any]]) -> list[Rename]:
    return [rename for rename, _ in found]


def test_a_column_of_the_same_type_and_nullability_may_be_a_rename(compare: Compare) -> None:
    item = [
        sa.Column("name", sa.String(50)),  # was title
        sa.Column("code", sa.String(10), nullable=False),
        sa.Column("note", sa.Text),
    ]
    context, operations = compare(_models(item))
    ((rename, reflected),) = rename_candidates(context, operations, _owner)
    assert rename == Rename("shop", "shop_item", "title", "name", "String(50)")
    assert rename.key == "shop.item.title" and rename.new_key_value == "name"
    assert reflected.name == "title" and isinstance(reflected.type, sa.String)


def test_a_column_of_another_type_or_nullability_is_no_rename(compare: Compare) -> None:
    item = [
        sa.Column("name", sa.String(80)),  # title, longer
        sa.Column("key", sa.String(10)),  # code, now nullable
        sa.Column("note", sa.Text),
    ]
    context, operations = compare(_models(item))
    kinds = {type(op).__name__ for group in operations for op in getattr(group, "ops", [])}
    assert {"AddColumnOp", "DropColumnOp"} <= kinds
    assert rename_candidates(context, operations, _owner) == []


def test_each_removed_column_is_offered_every_added_one_of_its_shape(compare: Compare) -> None:
    item = [
        sa.Column("first", sa.String(50)),
        sa.Column("second", sa.String(50)),
        sa.Column("code", sa.String(10), nullable=False),
        sa.Column("note", sa.Text),
    ]
    context, operations = compare(_models(item))
    found = _renames(rename_candidates(context, operations, _owner))
    assert [(r.old, r.new) for r in found] == [("title", "first"), ("title", "second")]


def test_a_table_of_the_same_columns_in_the_same_app_may_be_a_rename(compare: Compare) -> None:
    def newer(metadata: sa.MetaData) -> None:
        sa.Table(
            "shop_newer",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("label", sa.String(20)),
        )

    context, operations = compare(_models(old=False, extra=newer))
    ((rename, reflected),) = rename_candidates(context, operations, _owner)
    assert rename == Rename("shop", "shop_old", "shop_old", "shop_newer", "2 columns", True)
    assert rename.key == "shop.old" and rename.new_key_value == "newer"
    assert isinstance(reflected, ops.CreateTableOp) and reflected.table_name == "shop_old"


def test_a_table_in_another_app_or_of_other_columns_is_no_rename(compare: Compare) -> None:
    def others(metadata: sa.MetaData) -> None:
        # crm_lead's columns, but in shop; shop_old's columns, plus one
        sa.Table(
            "shop_lead",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("label", sa.String(20)),
        )
        sa.Table(
            "crm_older",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("label", sa.String(20)),
            sa.Column("more", sa.Integer),
        )

    context, operations = compare(_models(old=False, lead=False, extra=others))
    found = _renames(rename_candidates(context, operations, _owner))
    assert [(r.old, r.new) for r in found] == [("shop_old", "shop_lead")]  # same app, same shape
    assert rename_candidates(context, operations, lambda table: None) == []  # nobody's tables


def _scripted(*answers: str) -> Questioner:
    replies = iter(answers)
    return Questioner(ask=lambda prompt: next(replies))


def _add_not_null(compare: Compare) -> list[ops.MigrateOperation]:
    item = [
        sa.Column("title", sa.String(50)),
        sa.Column("code", sa.String(10), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("stock", sa.Integer, nullable=False),
    ]
    _, operations = compare(_models(item))
    return operations


def test_a_not_null_column_added_gets_the_answer_as_a_default_dropped_after(
    compare: Compare,
) -> None:
    (result_add, result_drop) = with_not_null_answers(_add_not_null(compare), _scripted("1", "7"))
    assert isinstance(result_add, ops.ModifyTableOps) and result_add.table_name == "shop_item"
    (add,) = result_add.ops
    assert isinstance(add, ops.AddColumnOp) and add.column.name == "stock"
    assert str(add.column.server_default.arg) == "7"  # type: ignore[union-attr]
    assert isinstance(result_drop, ops.ModifyTableOps)  # a step of its own, after the add
    (drop_default,) = result_drop.ops
    assert isinstance(drop_default, ops.AlterColumnOp)
    assert drop_default.column_name == "stock" and drop_default.modify_server_default is None


def test_a_not_null_column_without_an_answer_stops(compare: Compare) -> None:
    with pytest.raises(ProjectError, match="Cannot add the NOT NULL column shop_item.stock"):
        with_not_null_answers(_add_not_null(compare), Questioner())
    with pytest.raises(ProjectError, match="Stopped: add a default for shop_item.stock"):
        with_not_null_answers(_add_not_null(compare), _scripted("2"))  # 2 is "quit" here


def test_a_new_tables_not_null_columns_ask_nothing(compare: Compare) -> None:
    def new(metadata: sa.MetaData) -> None:
        sa.Table(
            "shop_new",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("n", sa.Integer, nullable=False),
        )

    _, operations = compare(_models(extra=new))
    assert with_not_null_answers(operations, Questioner()) == operations


def _made_not_null(compare: Compare) -> list[ops.MigrateOperation]:
    item = [
        sa.Column("title", sa.String(50), nullable=False),
        sa.Column("code", sa.String(10), nullable=False),
        sa.Column("note", sa.Text),
    ]
    _, operations = compare(_models(item))
    return operations


def test_a_column_made_not_null_has_its_nulls_filled_first(compare: Compare) -> None:
    fill, group = with_not_null_answers(_made_not_null(compare), _scripted("1", "'untitled'"))
    assert isinstance(fill, FillNullsOp)
    assert (fill.table_name, fill.column_name, fill.value) == ("shop_item", "title", "untitled")
    assert isinstance(group, ops.ModifyTableOps)
    (alter,) = group.ops
    assert isinstance(alter, ops.AlterColumnOp) and alter.modify_nullable is False


def test_a_column_made_not_null_may_be_left_to_the_user(compare: Compare) -> None:
    (group,) = with_not_null_answers(_made_not_null(compare), _scripted("2"))  # 2 is "ignore"
    assert isinstance(group, ops.ModifyTableOps)
    assert [type(op) for op in group.ops] == [ops.AlterColumnOp]


@pytest.mark.parametrize(
    ("value", "sql"),
    [(True, "true"), (False, "false"), (0, "0"), (2.5, "2.5"), ("it's", "it's")],
)
def test_server_default_expression(value: object, sql: str) -> None:
    expression = server_default_expression(value)
    assert str(expression) == sql
    if isinstance(value, str):
        assert expression == value  # a string stays a string: SQLAlchemy quotes it
