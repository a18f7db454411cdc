"""The ambiguous changes among Alembic's operations, and the questioner's answers applied.

A removed and an added column (or table) of the same shape may be a rename; a NOT NULL
column meeting rows that may exist needs a value for them. project.autogen.questioner asks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic.operations import ops

from project.adapter.internals import copy_column, reflected
from project.autogen.questioner import Questioner, Rename, type_name
from project.engine.operations import FillNullsOp


def rename_candidates(
    context: Any, operations: list[ops.MigrateOperation], owner_of: Callable[[str], str | None]
) -> list[tuple[Rename, Any]]:
    """Pairs of (removed, added) tables and columns of the same shape in one app, in order,
    each with what the database has (the removed column, or table)."""
    found: list[tuple[Rename, Any]] = []
    created = [op for op in operations if isinstance(op, ops.CreateTableOp)]
    for gone_table in operations:
        if (
            not isinstance(gone_table, ops.DropTableOp)
            or (old_table := reflected(gone_table)) is None
        ):
            continue
        for new_table in created:
            app = owner_of(new_table.table_name)
            same_app = app is not None and app == owner_of(gone_table.table_name)
            same_schema = new_table.schema == gone_table.schema
            if same_app and same_schema and _same_table(context, old_table, new_table):
                shape = f"{len(_columns(new_table))} columns"
                old = gone_table.table_name
                rename = Rename(
                    str(app), old, old, new_table.table_name, shape, True, gone_table.schema
                )
                found.append((rename, old_table))
    for group in operations:
        if not isinstance(group, ops.ModifyTableOps):
            continue
        app = owner_of(group.table_name)
        added = [op for op in group.ops if isinstance(op, ops.AddColumnOp)]
        for gone in group.ops:
            if (
                not isinstance(gone, ops.DropColumnOp)
                or (reflected_add := reflected(gone)) is None
                or not app
            ):
                continue
            for new in added:
                if new.column.name == gone.column_name:
                    continue  # a column recreated (project.autogen.comparators.computed_columns)
                if _same_column(context, reflected_add.column, new.column):
                    shape = type_name(new.column.type)
                    rename = Rename(
                        app,
                        group.table_name,
                        gone.column_name,
                        new.column.name,
                        shape,
                        schema=group.schema,
                    )
                    found.append((rename, reflected_add.column))
    return found


def _same_column(context: Any, reflected: Any, model: Any) -> bool:
    return not context.impl.compare_type(reflected, model) and bool(reflected.nullable) == bool(
        model.nullable
    )


def _same_table(context: Any, reflected: ops.CreateTableOp, model: ops.CreateTableOp) -> bool:
    old = {c.name: c for c in _columns(reflected)}
    new = {c.name: c for c in _columns(model)}
    return old.keys() == new.keys() and all(
        _same_column(context, old[name], new[name]) for name in old
    )


def _columns(table: ops.CreateTableOp) -> list[Any]:
    from sqlalchemy import Column

    return [c for c in table.columns if isinstance(c, Column)]


# NOT NULL


def with_not_null_answers(
    operations: list[ops.MigrateOperation], questioner: Questioner
) -> list[ops.MigrateOperation]:
    """Ask for one-off defaults where a NOT NULL column meets rows that may exist."""
    created = {op.table_name for op in operations if isinstance(op, ops.CreateTableOp)}
    result: list[ops.MigrateOperation] = []
    for op in operations:
        if not isinstance(op, ops.ModifyTableOps) or op.table_name in created:
            result.append(op)
            continue
        inner: list[ops.MigrateOperation] = []
        later: list[ops.MigrateOperation] = []  # after the table has its new columns
        for change in op.ops:
            if isinstance(change, ops.AddColumnOp) and _needs_default(change.column):
                answer, value = questioner.one_off_default(
                    op.table_name, change.column.name, altering=False
                )
                add, drop_default = _add_with_default(op.table_name, change.column, value)
                inner.append(add)
                later.append(drop_default)
            elif (
                isinstance(change, ops.AlterColumnOp)
                and change.modify_nullable is False
                and change.existing_nullable is not False
            ):
                answer, value = questioner.one_off_default(
                    op.table_name, change.column_name, altering=True
                )
                if answer == "fill":
                    result.append(FillNullsOp(op.table_name, change.column_name, value))
                inner.append(change)
            else:
                inner.append(change)
        result.append(ops.ModifyTableOps(op.table_name, inner, schema=op.schema))
        if later:  # a step of its own: SQLite's batch mode would fold it into the add
            result.append(ops.ModifyTableOps(op.table_name, later, schema=op.schema))
    return result


def _needs_default(column: Any) -> bool:
    return (
        not column.nullable
        and column.server_default is None
        and not column.primary_key
        and column.computed is None
    )


def _add_with_default(
    table: str, column: Any, value: Any
) -> tuple[ops.AddColumnOp, ops.AlterColumnOp]:
    """Add the column with the value as its server default, then drop the default (Django's way)."""
    from sqlalchemy import DefaultClause

    default = DefaultClause(server_default_expression(value))
    with_default = copy_column(column)
    with_default.server_default = default
    drop_default = ops.AlterColumnOp(
        table,
        column.name,
        modify_server_default=None,
        existing_type=column.type,
        existing_nullable=False,
        existing_server_default=default,
    )
    return ops.AddColumnOp(table, with_default), drop_default


def server_default_expression(value: Any) -> Any:
    from sqlalchemy import false, text, true

    if isinstance(value, bool):
        return true() if value else false()
    if isinstance(value, (int, float)):
        return text(repr(value))
    return str(value)
