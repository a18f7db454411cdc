"""Render server defaults as SQLAlchemy expressions rather than one database's SQL.

Alembic writes a model's `server_default=func.now()` as the SQL of the database that
makemigrations ran against (`now()` on PostgreSQL, `(CURRENT_TIMESTAMP)` on SQLite), and
`false()` as `0` on SQLite, which PostgreSQL refuses for a boolean. Written as
`sa.func.now()` and `sa.false()`, the migration compiles right on every database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.schema import DefaultClause
from sqlalchemy.sql import elements, functions

PREFIX = "sa."


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Alembic's `render_item` hook; False means "render it your usual way"."""
    if type_ != "server_default" or not isinstance(obj, DefaultClause):
        return False
    expression = obj.arg
    if isinstance(expression, elements.True_):
        return f"{PREFIX}true()"
    if isinstance(expression, elements.False_):
        return f"{PREFIX}false()"
    if isinstance(expression, functions.FunctionElement) and not list(expression.clauses):
        name = getattr(expression, "name", None)
        if isinstance(name, str) and name.isidentifier():
            return f"{PREFIX}func.{name}()"
    return False


def register_renderers() -> None:
    """Teach Alembic to write the operations autogenerate itself never makes."""
    from alembic.autogenerate import renderers
    from alembic.operations import ops

    from project.ambiguities import FillNullsOp

    @renderers.dispatch_for(ops.RenameTableOp, replace=True)
    def _rename_table(autogen_context: Any, op: ops.RenameTableOp) -> str:
        return f"op.rename_table({op.table_name!r}, {op.new_table_name!r})"

    @renderers.dispatch_for(FillNullsOp, replace=True)
    def _fill_nulls(autogen_context: Any, op: FillNullsOp) -> str:
        column = f"{PREFIX}column({op.column_name!r})"
        return (
            f"op.execute(\n    {PREFIX}table({op.table_name!r}, {column})\n"
            f"    .update()\n    .where({column}.is_(None))\n"
            f"    .values({{{op.column_name!r}: {op.value!r}}})\n)"
        )
