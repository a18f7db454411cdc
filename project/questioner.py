"""Questions instead of data loss: renames, and NOT NULL columns on tables that may have rows.

Alembic sees a renamed column as one dropped and one added; Django and Piccolo ask. So do
we: interactively, or from answers given on the command line. Without an answer (scripts,
`--noinput`) an ambiguous change stops the command: Django silently answers "not a
rename" and aerich silently answers "rename"; both lose data somebody cared about.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from alembic.operations import ops

from project.errors import ProjectError, UsageError

Ask = Callable[[str], str]  # shows a prompt, returns the answer; EOFError when there is none


@dataclass(frozen=True)
class Rename:
    """A removed table or column and an added one of the same shape, in one app."""

    app: str
    table: str  # the table (for a column), or the old table
    old: str  # old column or table name
    new: str  # new column or table name
    shape: str  # e.g. "String(10)", or the table's column count
    is_table: bool = False

    @property
    def key(self) -> str:
        """How `--rename` names it: app.model.column, or app.model for a table."""
        model = _short(self.table if not self.is_table else self.old, self.app)
        return f"{self.app}.{model}" if self.is_table else f"{self.app}.{model}.{self.old}"

    @property
    def new_key_value(self) -> str:
        return _short(self.new, self.app) if self.is_table else self.new

    @property
    def removed(self) -> str:
        return f"table {self.old}" if self.is_table else f"{self.table}.{self.old}"

    @property
    def added(self) -> str:
        return (
            f"table {self.new} ({self.shape})"
            if self.is_table
            else f"{self.table}.{self.new} ({self.shape})"
        )

    def question(self) -> str:
        return f"Did you rename {self.removed} to {self.added.removeprefix('table ')}?"


@dataclass
class Questioner:
    """Answers from the command line first, then from the user, else an error."""

    ask: Ask | None = None  # None: --noinput
    renames: dict[str, str] = field(default_factory=dict)  # --rename key=new
    not_renames: set[str] = field(default_factory=set)  # --no-rename key

    def is_rename(self, candidate: Rename) -> bool:
        key = candidate.key
        if key in self.renames:
            return self.renames[key] == candidate.new_key_value
        if key in self.not_renames:
            return False
        unanswered = ProjectError(
            f"{candidate.removed} was removed and {candidate.added} added: a rename? Say so with "
            f"--rename {key}={candidate.new_key_value}, or with --no-rename {key} to drop one "
            "and add the other."
        )
        reply = self._ask(f"{candidate.question()} [y/N] ", unanswered)
        return reply.strip().lower() in ("y", "yes")

    def one_off_default(self, table: str, column: str, altering: bool) -> tuple[str, Any]:
        """("fill", value), or ("ignore", None) for an alteration the user will handle."""
        what = (
            f"make {table}.{column} NOT NULL"
            if altering
            else f"add the NOT NULL column {table}.{column}"
        )
        unanswered = ProjectError(
            f"Cannot {what} without a default: rows may exist. Give it a server_default in the "
            "model, or make it nullable, or run makemigrations interactively to give a one-off "
            "default for the existing rows."
        )
        choices = ["Provide a one-off default now (used only for the existing rows)"]
        if altering:
            choices.append("Ignore for now: existing rows holding NULL will be handled by hand")
        choices.append("Quit, and let me add a default in the model")
        menu = "\n".join(f" {n}) {text}" for n, text in enumerate(choices, 1))
        answer = self._ask(
            f"It is impossible to {what} without a default: rows may exist.\n{menu}\nSelect an option: ",
            unanswered,
        )
        if answer.strip() == "1":
            return "fill", self._literal(unanswered)
        if altering and answer.strip() == "2":
            return "ignore", None
        raise ProjectError(
            f"Stopped: add a default for {table}.{column} in the model, then run makemigrations."
        )

    def unmatched(self, keys: set[str]) -> list[str]:
        """Answers given on the command line that no candidate has: typos, stale answers."""
        return sorted((set(self.renames) | self.not_renames) - keys)

    def _literal(self, unanswered: ProjectError) -> Any:
        while True:
            prompt = "Enter the default value as a Python literal (e.g. 0, 'none', True): "
            text = self._ask(prompt, unanswered)
            try:
                value = ast.literal_eval(text.strip())
            except (ValueError, SyntaxError):
                continue
            if value is not None and isinstance(value, (bool, int, float, str)):
                return value

    def _ask(self, prompt: str, unanswered: ProjectError) -> str:
        """The user's answer; `unanswered` is raised with --noinput or when input ends."""
        if self.ask is None:
            raise unanswered
        try:
            return self.ask(prompt)
        except EOFError:
            raise unanswered from None


def parse_renames(values: Iterable[str]) -> dict[str, str]:
    renames = {}
    for value in values:
        key, sep, new = value.partition("=")
        if not sep or not new or key.count(".") not in (1, 2):
            raise UsageError(
                f"--rename takes app.model=new_model or app.model.column=new_column, not '{value}'."
            )
        renames[key] = new
    return renames


def rename_candidates(
    context: Any, operations: list[ops.MigrateOperation], owner_of: Callable[[str], str | None]
) -> list[tuple[Rename, Any]]:
    """Pairs of (removed, added) tables and columns of the same shape in one app, in order,
    each with what the database has (the removed column, or table)."""
    found: list[tuple[Rename, Any]] = []
    created = [op for op in operations if isinstance(op, ops.CreateTableOp)]
    for gone_table in operations:
        if not isinstance(gone_table, ops.DropTableOp) or gone_table._reverse is None:
            continue
        for new_table in created:
            app = owner_of(new_table.table_name)
            same_app = app is not None and app == owner_of(gone_table.table_name)
            if same_app and _same_table(context, gone_table._reverse, new_table):
                shape = f"{len(_columns(new_table))} columns"
                old = gone_table.table_name
                rename = Rename(str(app), old, old, new_table.table_name, shape, True)
                found.append((rename, gone_table._reverse))
    for group in operations:
        if not isinstance(group, ops.ModifyTableOps):
            continue
        app = owner_of(group.table_name)
        added = [op for op in group.ops if isinstance(op, ops.AddColumnOp)]
        for gone in group.ops:
            if not isinstance(gone, ops.DropColumnOp) or gone._reverse is None or not app:
                continue
            for new in added:
                if _same_column(context, gone._reverse.column, new.column):
                    shape = type_name(new.column.type)
                    rename = Rename(app, group.table_name, gone.column_name, new.column.name, shape)
                    found.append((rename, gone._reverse.column))
    return found


def type_name(type_: Any) -> str:
    """String(10), Numeric(10, 2), Integer."""
    args = [
        getattr(type_, a)
        for a in ("length", "precision", "scale")
        if getattr(type_, a, None) is not None
    ]
    name = type(type_).__name__
    return f"{name}({', '.join(map(str, args))})" if args else name


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


def _short(table: str, app: str) -> str:
    return table.removeprefix(f"{app}_")


# NOT NULL


class FillNullsOp(ops.MigrateOperation):
    """UPDATE table SET column = value WHERE column IS NULL, before making it NOT NULL."""

    def __init__(self, table_name: str, column_name: str, value: Any) -> None:
        self.table_name, self.column_name, self.value = table_name, column_name, value


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
    with_default = column._copy()
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
