"""Split an app's changes on PostgreSQL into what runs in a transaction and the lock-safe
steps that follow it (project.engine.online), for tables that already exist.

A table created in the same migration is empty and seen by nobody yet: it needs none of
this. For an existing table:

- an index is created or dropped CONCURRENTLY, in the second part (outside a transaction);
- a foreign key or a check is added NOT VALID in the first part and validated in the second;
- a unique constraint is built as a unique index CONCURRENTLY, then attached, in the second;
- SET NOT NULL: a `CHECK (c IS NOT NULL) NOT VALID` in the first part; in the second, its
  validation, SET NOT NULL (PostgreSQL 12+ skips the scan) and the check dropped.

Everything else stays in the first part, in its place. Pure functions over Alembic's
operation objects; the inputs are not changed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from alembic.operations import ops

from project.engine import online

Parts = tuple[list[ops.MigrateOperation], list[ops.MigrateOperation]]


def split_lock_safe(operations: Iterable[ops.MigrateOperation]) -> Parts:
    """(the operations of the ordinary migration, the lock-safe steps after it)."""
    operations = list(operations)
    # Tables the migration creates (nobody sees them yet) or drops: left as they are.
    untouched = {
        op.table_name for op in operations if isinstance(op, (ops.CreateTableOp, ops.DropTableOp))
    }
    dropped = _dropped_columns(operations)
    referenced = _referenced_keys(operations)
    first: list[ops.MigrateOperation] = []
    second: list[ops.MigrateOperation] = []
    for op in operations:
        if isinstance(op, ops.ModifyTableOps) and op.table_name not in untouched:
            now: list[ops.MigrateOperation] = []
            later: list[ops.MigrateOperation] = []
            for change in op.ops:
                before, after = _split(change, dropped, referenced)
                now += before
                later += after
            if now:
                first.append(ops.ModifyTableOps(op.table_name, now, schema=op.schema))
            if later:
                second.append(ops.ModifyTableOps(op.table_name, later, schema=op.schema))
        elif getattr(op, "table_name", None) not in untouched:
            before, after = _split(op, dropped, referenced)
            first += before
            second += after
        else:
            first.append(op)
    return first, second


def _dropped_columns(operations: list[ops.MigrateOperation]) -> set[tuple[str, str]]:
    return {
        (op.table_name, change.column_name)
        for op in operations
        if isinstance(op, ops.ModifyTableOps)
        for change in op.ops
        if isinstance(change, ops.DropColumnOp)
    }


def _referenced_keys(operations: list[ops.MigrateOperation]) -> set[tuple[str, tuple[str, ...]]]:
    """(table, columns) that the foreign keys these operations add point at: a unique
    constraint or index on them must exist before them, in the first part."""
    from sqlalchemy import Column, ForeignKeyConstraint

    from project.autogen.describe import flatten

    keys: set[tuple[str, tuple[str, ...]]] = set()
    for op in flatten(operations):
        if isinstance(op, ops.CreateForeignKeyOp):
            keys.add((op.referent_table, tuple(op.remote_cols)))
            continue
        items = op.columns if isinstance(op, ops.CreateTableOp) else []
        items = [op.column] if isinstance(op, ops.AddColumnOp) else items
        for item in items:
            if isinstance(item, Column):
                keys.update(_target(key.target_fullname) for key in item.foreign_keys)
            elif isinstance(item, ForeignKeyConstraint) and item.elements:
                targets = [_target(element.target_fullname) for element in item.elements]
                keys.add((targets[0][0], tuple(column for _, (column,) in targets)))
    return keys


def _target(fullname: str) -> tuple[str, tuple[str, ...]]:
    """ "schema.table.column" -> ("table", ("column",))."""
    table, _, column = fullname.rpartition(".")
    return table.rpartition(".")[2], (column,)


def _split(
    change: ops.MigrateOperation,
    dropped: set[tuple[str, str]],
    referenced: set[tuple[str, tuple[str, ...]]],
) -> Parts:
    kind = type(change)  # exact: the lock-safe subclasses are already what they should be
    if _needed_by_a_foreign_key(change, referenced):
        return [change], []
    if kind is ops.CreateIndexOp:
        return [], [_concurrent_index(change)]  # type: ignore[arg-type]
    if kind is ops.DropIndexOp and not _loses_a_column(change, dropped):  # type: ignore[arg-type]
        return [], [online.DropIndexConcurrentlyOp.from_index(change.to_index())]  # type: ignore[attr-defined]
    if kind in (ops.CreateForeignKeyOp, ops.CreateCheckConstraintOp):
        return _not_valid_then_validated(change)
    if kind is ops.CreateUniqueConstraintOp and _plain_columns(change):
        unique: Any = change
        return [], [
            online.CreateUniqueConstraintConcurrentlyOp(
                unique.constraint_name,
                unique.table_name,
                list(unique.columns),
                schema=unique.schema,
            )
        ]
    if kind is ops.AlterColumnOp and _sets_not_null(change):  # type: ignore[arg-type]
        return _not_null_through_a_check(change)  # type: ignore[arg-type]
    return [change], []


def _needed_by_a_foreign_key(
    change: ops.MigrateOperation, referenced: set[tuple[str, tuple[str, ...]]]
) -> bool:
    """A unique constraint or index that a foreign key added by the same migration needs:
    PostgreSQL wants it there when the key is added, even NOT VALID."""
    if isinstance(change, ops.CreateUniqueConstraintOp):
        key = (change.table_name, tuple(str(c) for c in change.columns))
    elif isinstance(change, ops.CreateIndexOp) and change.unique:
        key = (change.table_name, tuple(getattr(c, "name", str(c)) for c in change.columns))
    else:
        return False
    return key in referenced


def _concurrent_index(index: ops.CreateIndexOp) -> ops.MigrateOperation:
    return online.CreateIndexConcurrentlyOp(
        index.index_name,
        index.table_name,
        index.columns,
        schema=index.schema,
        unique=index.unique,
        **index.kw,
    )


def _loses_a_column(drop: ops.DropIndexOp, dropped: set[tuple[str, str]]) -> bool:
    """An index on a column the migration drops goes with the column (in its transaction),
    and its downgrade needs the column back first."""
    columns = {getattr(c, "name", c) for c in drop.to_index().columns}
    return any((drop.table_name, column) in dropped for column in columns) or not columns


def _plain_columns(unique: Any) -> bool:
    return bool(unique.constraint_name) and all(isinstance(c, str) for c in unique.columns)


def _not_valid_then_validated(constraint: Any) -> Parts:
    """ADD CONSTRAINT ... NOT VALID now (no scan), VALIDATE CONSTRAINT later (a scan that
    lets writes go on)."""
    if not constraint.constraint_name:
        return [constraint], []
    added = copy.copy(constraint)
    added.kw = {**constraint.kw, "postgresql_not_valid": True}
    if isinstance(constraint, ops.CreateForeignKeyOp):
        table, schema = constraint.source_table, constraint.kw.get("source_schema")
    else:
        table, schema = constraint.table_name, constraint.schema
    return [added], [online.ValidateConstraintOp(constraint.constraint_name, table, schema)]


def _sets_not_null(alter: ops.AlterColumnOp) -> bool:
    """NOT NULL on a column that allowed NULLs, and nothing that rewrites the table anyway
    (a type change checks the rows as it copies them) or renames the column."""
    return (
        alter.modify_nullable is False
        and alter.existing_nullable is not False
        and alter.modify_type is None
        and alter.modify_name is None
    )


def _not_null_through_a_check(alter: ops.AlterColumnOp) -> Parts:
    table, column, schema = alter.table_name, alter.column_name, alter.schema
    check = online.not_null_check_name(table, column)
    rest = copy.copy(alter)
    rest.modify_nullable = None
    first: list[ops.MigrateOperation] = [rest] if _still_changes(rest) else []
    first.append(online.AddNotNullCheckOp(check, table, column, schema))
    server_default = (
        alter.modify_server_default
        if alter.modify_server_default is not False
        else alter.existing_server_default
    )
    comment = alter.modify_comment if alter.modify_comment is not False else alter.existing_comment
    set_not_null = ops.AlterColumnOp(
        table,
        column,
        schema=schema,
        modify_nullable=False,
        existing_type=alter.existing_type,
        existing_nullable=True,
        existing_server_default=server_default,
        existing_comment=comment,
    )
    second = [
        online.ValidateConstraintOp(check, table, schema),
        set_not_null,
        online.DropNotNullCheckOp(check, table, schema),
    ]
    return first, second


def _still_changes(alter: ops.AlterColumnOp) -> bool:
    return (
        alter.modify_server_default is not False
        or alter.modify_comment is not False
        or alter.modify_nullable is not None
    )


def explanation(operations: Iterable[ops.MigrateOperation], follows: bool) -> list[str]:
    """The docstring's lines on the lock-safe steps: `follows` for the migration of the
    steps, else for the ordinary one before it."""
    from project.autogen.describe import flatten

    kinds = {type(op).__name__ for op in flatten(operations)}
    if not follows:
        added = [
            op
            for op in flatten(operations)
            if getattr(op, "kw", {}).get("postgresql_not_valid") is True
        ]
        if not added and "AddNotNullCheckOp" not in kinds:
            return ["The lock-safe steps of these changes follow, in the next migration."]
        return [
            "Constraints are added NOT VALID here (no scan of the rows, a brief lock) and",
            "validated in the next migration, which lets reads and writes go on meanwhile.",
        ]
    lines = ["Lock-safe steps (PostgreSQL), each committed on its own; reads and writes go on:"]
    if kinds & {"CreateIndexConcurrentlyOp", "DropIndexConcurrentlyOp"}:
        lines.append("- indexes are built and dropped CONCURRENTLY, outside a transaction;")
    if "ValidateConstraintOp" in kinds:
        lines.append("- VALIDATE CONSTRAINT scans the rows under a lock that blocks no writes;")
    if "CreateUniqueConstraintConcurrentlyOp" in kinds:
        lines.append("- a unique constraint is attached to a unique index built CONCURRENTLY;")
    if "DropNotNullCheckOp" in kinds:
        lines.append("- SET NOT NULL trusts the validated check (no scan), which is then dropped.")
    return lines
