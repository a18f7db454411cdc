"""Alembic operations in words: one line per change, and a fragment for the migration name.

The glyphs follow Django 5.1's makemigrations output: + addition, - removal, ~ alteration,
s SQL, ? anything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from alembic.operations import ops
from sqlalchemy.schema import Computed

from project.adapter.internals import reflected, type_affinity
from project.autogen.locks import rewrites_table
from project.engine import online

# Django caps automatic names at 52 characters and ends them with "_and_more".
MAX_NAME_LENGTH = 52


@dataclass(frozen=True)
class Change:
    glyph: str
    text: str
    table: str | None = None
    fragment: str | None = None  # part of an automatic migration name, None for none
    whole_table: bool = False  # creates or drops the table itself
    destructive: bool = False  # may lose data or fail on existing rows
    rewrites: bool = False  # copies every row of an existing table (project.autogen.locks)
    # The operation described, for the lock lint (project.autogen.lint); None for a drift.
    operation: ops.MigrateOperation | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.glyph} {self.text}"

    @property
    def marked(self) -> str:
        """`! - Drop column ...` for a destructive change, `  + Create ...` otherwise."""
        return f"{'!' if self.destructive else ' '} {self}"

    @property
    def notes(self) -> list[str]:
        """Lines said under the change (in makemigrations' output and the docstring)."""
        return [REWRITE_NOTE] if self.rewrites else []


REWRITE_NOTE = "rewrites the table: every row is copied while the table is locked"


def describe_operations(
    operations: Iterable[ops.MigrateOperation], label: str = ""
) -> list[Change]:
    """Flatten per-table containers into one `Change` per operation, marking the ones that
    may lose data or fail on existing rows."""
    flat = list(flatten(operations))
    created = {str(op.table_name) for op in flat if isinstance(op, ops.CreateTableOp)}
    filled = {
        (getattr(op, "table_name", None), getattr(op, "column_name", None))
        for op in flat
        if type(op).__name__ == "FillNullsOp"
    }
    # A generated column dropped and added again with a new expression loses nothing.
    readded = {
        (str(op.table_name), op.column.name)
        for op in flat
        if isinstance(op, ops.AddColumnOp) and isinstance(op.column.server_default, Computed)
    }
    return [
        replace(
            describe(op, label),
            destructive=_destructive(op, created, filled, readded),
            rewrites=str(getattr(op, "table_name", "")) not in created and rewrites_table(op),
            operation=op,
        )
        for op in flat
    ]


def _destructive(
    op: ops.MigrateOperation,
    created: set[str],
    filled: set[tuple[Any, Any]],
    readded: set[tuple[str, str]],
) -> bool:
    if isinstance(op, ops.DropColumnOp):
        reverse = reflected(op)
        dropped = reverse.column.server_default if reverse is not None else Computed("")
        recreated = (str(op.table_name), op.column_name) in readded
        return not (recreated and isinstance(dropped, Computed))
    if isinstance(op, ops.DropTableOp):
        return True
    if isinstance(op, ops.AddColumnOp):  # NOT NULL without a default, on a table with rows
        column = op.column
        return (
            not column.nullable and column.server_default is None and op.table_name not in created
        )
    if isinstance(op, ops.AlterColumnOp):
        if op.modify_nullable is False and op.existing_nullable is not False:
            return (op.table_name, op.column_name) not in filled
        return narrows(op.existing_type, op.modify_type)
    return False


def narrows(old: Any, new: Any) -> bool:
    """Whether values of type `old` may not fit in type `new` (a shorter string, a smaller
    number, another kind of type)."""
    from sqlalchemy import BigInteger, Integer, Numeric, SmallInteger, String

    if old is None or new is None or type_affinity(old) is None:
        return False
    if isinstance(old, Integer) and isinstance(new, Integer):
        rank = {SmallInteger: 1, BigInteger: 3}
        return rank.get(type(new), 2) < rank.get(type(old), 2)
    if isinstance(old, String) and isinstance(new, String):
        return new.length is not None and (old.length is None or new.length < old.length)
    if isinstance(old, Numeric) and isinstance(new, Numeric) and not isinstance(old, Integer):
        return (new.precision or 0) < (old.precision or 0) or (new.scale or 0) < (old.scale or 0)
    return bool(type_affinity(old) is not type_affinity(new))


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
    online_change = _describe_online(op, table, short)
    if online_change is not None:
        return online_change
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
        not_valid = " (not valid)" if getattr(op, "kw", {}).get("postgresql_not_valid") else ""
        return Change(
            "+",
            (f"Create {kind} {name} on {table}" if name else f"Create {kind} on {table}")
            + not_valid,
            table,
            f"{short}_{_CONSTRAINT_FRAGMENTS.get(kind, 'constraint')}",
        )
    if isinstance(op, ops.DropConstraintOp):
        kind = _CONSTRAINT_KINDS.get(op.constraint_type or "", "constraint")
        return Change(
            "-",
            f"Drop {kind} {op.constraint_name} from {table}"
            if op.constraint_name
            else f"Drop {kind} from {table}",
            table,
            f"remove_{short}_{_CONSTRAINT_FRAGMENTS.get(kind, 'constraint')}",
        )
    if isinstance(op, ops.RenameTableOp):
        new = op.new_table_name
        # Its index and constraint changes are carried by the new name: they add nothing to the name.
        return Change(
            "~", f"Rename table {table} to {new}", new, f"rename_{short}_{_short(new, label)}", True
        )
    if isinstance(op, (ops.CreateTableCommentOp, ops.DropTableCommentOp)):
        return Change("~", f"Alter comment of table {table}", table, f"alter_{short}_comment")
    if type(op).__name__ in _ENUM_OPERATIONS:  # alembic-postgresql-enum's, on PostgreSQL
        glyph, verb = _ENUM_OPERATIONS[type(op).__name__]
        name = getattr(op, "name", "?")
        return Change(
            glyph, f"{verb} enum type {name}", table, f"alter_{name}" if glyph == "~" else None
        )
    if type(op).__name__ in _SEQUENCE_OPERATIONS:
        glyph, verb = _SEQUENCE_OPERATIONS[type(op).__name__]
        name = getattr(op, "sequence_name", "?")
        fragment = {"+": name, "-": f"delete_{name}", "~": f"alter_{name}"}[glyph]
        return Change(glyph, f"{verb} sequence {name}", table, fragment)
    if type(op).__name__ == "AlterTableOptionsOp":
        return Change("~", f"Alter options of table {table}", table, f"alter_{short}_options")
    if type(op).__name__ == "CreateSchemaOp":
        return Change("+", f"Create schema {getattr(op, 'schema_name', '?')}", table, None)
    if type(op).__name__ == "PythonOp":
        return Change("p", f"Run Python {getattr(op, 'function', '?')}()", None, None)
    if type(op).__name__ == "FillNullsOp":
        column, value = getattr(op, "column_name", "?"), getattr(op, "value", None)
        return Change("~", f"Fill NULLs in {table}.{column} with {value!r}", table, None)
    if isinstance(op, ops.ExecuteSQLOp):
        return Change("s", "Run SQL", None, None)
    what = getattr(op, "call_name", None) or type(op).__name__
    return Change("?", f"{what} on {table}" if table else what, table, None)


def _describe_online(op: ops.MigrateOperation, table: str | None, short: str) -> Change | None:
    """The lock-safe operations (project.engine.online), named like the plain ones they
    stand for, so a migration's name does not change with them."""
    if isinstance(op, online.CreateIndexConcurrentlyOp):
        kind = "unique index" if op.unique else "index"
        fragment = f"{short}_{_column_names(op.columns)}_index"
        return Change(
            "+", f"Create {kind} {op.index_name} on {table} (concurrently)", table, fragment
        )
    if isinstance(op, online.DropIndexConcurrentlyOp):
        fragment = f"remove_{short}_{_index_suffix(op.index_name)}"
        return Change(
            "-", f"Drop index {op.index_name} from {table} (concurrently)", table, fragment
        )
    if isinstance(op, online.CreateUniqueConstraintConcurrentlyOp):
        text = f"Create unique constraint {op.constraint_name} on {table} (concurrently)"
        return Change("+", text, table, f"{short}_unique")
    if isinstance(op, online.ValidateConstraintOp):
        return Change("~", f"Validate constraint {op.constraint_name} on {table}", table, None)
    if isinstance(op, online.AddNotNullCheckOp):
        text = (
            f"Create check constraint {op.constraint_name} on {table} "
            f"({op.column_name} IS NOT NULL, not valid)"
        )
        return Change("+", text, table, f"alter_{short}_{op.column_name}")
    if isinstance(op, online.DropNotNullCheckOp):
        return Change("-", f"Drop check constraint {op.constraint_name} from {table}", table, None)
    return None


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

_SEQUENCE_OPERATIONS = {
    "CreateSequenceOp": ("+", "Create"),
    "DropSequenceOp": ("-", "Drop"),
    "AlterSequenceOp": ("~", "Alter"),
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
