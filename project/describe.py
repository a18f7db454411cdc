"""Alembic operations in words: one line per change, and a fragment for the migration name.

The glyphs follow Django 5.1's makemigrations output: + addition, - removal, ~ alteration,
s SQL, ? anything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from alembic.operations import ops

# Django caps automatic names at 52 characters and ends them with "_and_more".
MAX_NAME_LENGTH = 52


@dataclass(frozen=True)
class Change:
    glyph: str
    text: str
    table: str | None = None
    fragment: str | None = None  # part of an automatic migration name, None for none
    whole_table: bool = False  # creates or drops the table itself

    def __str__(self) -> str:
        return f"{self.glyph} {self.text}"


def describe_operations(
    operations: Iterable[ops.MigrateOperation], label: str = ""
) -> list[Change]:
    """Flatten per-table containers into one `Change` per operation."""
    return [describe(op, label) for op in flatten(operations)]


def flatten(operations: Iterable[ops.MigrateOperation]) -> Iterator[ops.MigrateOperation]:
    for op in operations:
        if isinstance(op, ops.OpContainer):
            yield from flatten(op.ops)
        else:
            yield op


def suggest_name(changes: list[Change]) -> str:
    """Django's `Migration.suggest_name`: fragments joined, capped, else 'auto'."""
    # An index of a table created (or dropped) in the same migration adds nothing to its name.
    whole = {c.table for c in changes if c.whole_table}
    fragments = list(
        dict.fromkeys(
            c.fragment for c in changes if c.fragment and (c.whole_table or c.table not in whole)
        )
    )
    if not fragments:
        return "auto"
    name = fragments[0]
    for fragment in fragments[1:]:
        if len(f"{name}_{fragment}") > MAX_NAME_LENGTH:
            return f"{name}_and_more"
        name = f"{name}_{fragment}"
    return name[:MAX_NAME_LENGTH]


def describe(op: ops.MigrateOperation, label: str = "") -> Change:
    table = table_of(op)
    short = _short(table or "", label)
    if isinstance(op, ops.CreateTableOp):
        return Change("+", f"Create table {table}", table, short, whole_table=True)
    if isinstance(op, ops.DropTableOp):
        return Change("-", f"Drop table {table}", table, f"delete_{short}", whole_table=True)
    if isinstance(op, ops.AddColumnOp):
        column = op.column.name
        return Change("~", f"Add column {column} to {table}", table, f"{short}_{column}")
    if isinstance(op, ops.DropColumnOp):
        column = op.column_name
        return Change("-", f"Drop column {column} from {table}", table, f"remove_{short}_{column}")
    if isinstance(op, ops.AlterColumnOp):
        return _describe_alter_column(op, table, short)
    if isinstance(op, ops.CreateIndexOp):
        kind = "unique index" if op.unique else "index"
        columns = _column_names(op.columns)
        return Change(
            "+", f"Create {kind} {op.index_name} on {table}", table, f"{short}_{columns}_index"
        )
    if isinstance(op, ops.DropIndexOp):
        return Change(
            "-",
            f"Drop index {op.index_name} from {table}",
            table,
            f"remove_{short}_{_index_suffix(op.index_name)}",
        )
    if isinstance(op, ops.AddConstraintOp):
        kind = _CONSTRAINT_KINDS.get(op.constraint_type, "constraint")
        name = getattr(op, "constraint_name", None)  # every concrete constraint op has one
        return Change(
            "+",
            f"Create {kind} {name} on {table}",
            table,
            f"{short}_{_CONSTRAINT_FRAGMENTS.get(kind, 'constraint')}",
        )
    if isinstance(op, ops.DropConstraintOp):
        kind = _CONSTRAINT_KINDS.get(op.constraint_type or "", "constraint")
        return Change(
            "-",
            f"Drop {kind} {op.constraint_name} from {table}",
            table,
            f"remove_{short}_{_CONSTRAINT_FRAGMENTS.get(kind, 'constraint')}",
        )
    if isinstance(op, ops.RenameTableOp):
        return Change("~", f"Rename table {table} to {op.new_table_name}", table, f"rename_{short}")
    if isinstance(op, (ops.CreateTableCommentOp, ops.DropTableCommentOp)):
        return Change("~", f"Alter comment of table {table}", table, f"alter_{short}_comment")
    if type(op).__name__ in _ENUM_OPERATIONS:  # alembic-postgresql-enum's, on PostgreSQL
        glyph, verb = _ENUM_OPERATIONS[type(op).__name__]
        name = getattr(op, "name", "?")
        return Change(
            glyph, f"{verb} enum type {name}", table, f"alter_{name}" if glyph == "~" else None
        )
    if isinstance(op, ops.ExecuteSQLOp):
        return Change("s", "Run SQL", None, None)
    what = getattr(op, "call_name", None) or type(op).__name__
    return Change("?", f"{what} on {table}" if table else what, table, None)


def table_of(op: ops.MigrateOperation) -> str | None:
    """The table an operation works on (a foreign key's is its source table)."""
    if isinstance(op, ops.CreateForeignKeyOp):
        return str(op.source_table)
    name = getattr(op, "table_name", None)
    return str(name) if name is not None else None


_ENUM_OPERATIONS = {
    "CreateEnumOp": ("+", "Create"),
    "DropEnumOp": ("-", "Drop"),
    "SyncEnumValuesOp": ("~", "Alter values of"),
    "AddEnumValuesOp": ("~", "Add values to"),
}

_CONSTRAINT_KINDS = {
    "foreignkey": "foreign key",
    "unique": "unique constraint",
    "check": "check constraint",
    "primary": "primary key",
    "primarykey": "primary key",
}
_CONSTRAINT_FRAGMENTS = {
    "foreign key": "fk",
    "unique constraint": "unique",
    "check constraint": "check",
}


def _describe_alter_column(op: ops.AlterColumnOp, table: str | None, short: str) -> Change:
    column = op.column_name
    if op.modify_name:
        return Change(
            "~",
            f"Rename column {column} of {table} to {op.modify_name}",
            table,
            f"rename_{short}_{column}",
        )
    what = [
        word
        for word, changed in (
            ("type", op.modify_type is not None),
            ("nullability", op.modify_nullable is not None),
            ("server default", op.modify_server_default is not False),
            ("comment", op.modify_comment is not False),
        )
        if changed
    ]
    detail = f" ({', '.join(what)})" if what else ""
    return Change(
        "~", f"Alter column {column} of {table}{detail}", table, f"alter_{short}_{column}"
    )


def _short(table: str, label: str) -> str:
    prefix = f"{label}_"
    return table[len(prefix) :] if label and table.startswith(prefix) and table != prefix else table


def _column_names(columns: Iterable[Any]) -> str:
    return "_".join(getattr(c, "name", None) or str(c) for c in columns)


def _index_suffix(index_name: str | None) -> str:
    return (index_name or "index").removeprefix("ix_")
