"""What Alembic writes into a migration file, where its own rendering falls short.

- Server defaults as SQLAlchemy expressions rather than one database's SQL: Alembic writes
  `server_default=func.now()` as the SQL of the database makemigrations ran against
  (`now()` on PostgreSQL, `(CURRENT_TIMESTAMP)` on SQLite), and `false()` as `0` on SQLite,
  which PostgreSQL refuses for a boolean. `sa.func.now()` and `sa.false()` compile right on
  every database.
- A project's own types (a TypeDecorator, a UserDefinedType, a type compiled with
  `@compiles`) as `module.Type(...)` with `import module` added, as Django's writer does;
  Alembic writes the name without the import. The written call is tried first: a type whose
  repr does not re-create it is an error that says how to fix it.
- A string server default as the string it is: Alembic strips a quote at either end.
- What Alembic leaves out of a column or a table: a column's Sequence, the convention name
  of a Boolean's or Enum's check, a new table's constraints in the model's order (MySQL
  numbers unnamed ones by position), the identity an identity column changes from, and on
  SQLite the `table_args` and `naming_convention` a batch needs (project.autogen.per_app).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.schema import DefaultClause
from sqlalchemy.sql import elements, functions

PREFIX = "sa."


def render_item(
    type_: str,
    obj: Any,
    autogen_context: Any,
    check_names: dict[tuple[str, str], str] | None = None,
) -> str | bool:
    """Alembic's `render_item` hook; False means "render it your usual way".

    `check_names`: {(table, column): the name the check constraint of the column's Boolean
    or Enum type gets from the model's naming convention} (see `type_check_names`).
    """
    global _column_of_type
    if type_ == "type":
        column, _column_of_type = _column_of_type, None  # Alembic renders a column's type next
        if check_names and column in check_names:
            return _named_check_type(obj, check_names[column], autogen_context)
        return _user_type(obj, autogen_context)
    if type_ == "column":
        table = getattr(obj.table, "name", None) if hasattr(obj, "table") else None
        _column_of_type = (table, obj.name) if table else None
        return _column_with_sequence(obj, autogen_context)
    if type_ != "server_default" or not isinstance(obj, DefaultClause):
        return False
    expression = obj.arg
    if isinstance(expression, str):  # a string literal; Alembic strips a leading or
        return repr(expression)  # trailing quote off it ("'); x" became "); x")
    if isinstance(expression, functions.next_value):  # server_default=seq.next_value()
        from project.engine.operations import render_sequence

        return f"{render_sequence(expression.sequence, PREFIX)}.next_value()"
    if isinstance(expression, elements.True_):
        return f"{PREFIX}true()"
    if isinstance(expression, elements.False_):
        return f"{PREFIX}false()"
    if isinstance(expression, functions.FunctionElement) and not list(expression.clauses):
        name = getattr(expression, "name", None)
        if isinstance(name, str) and name.isidentifier():
            return f"{PREFIX}func.{name}()"
    return False


# The column whose type Alembic renders next (render_item gets the type alone).
_column_of_type: tuple[str, str] | None = None


def type_check_names(tables: Any, dialect: Any) -> dict[tuple[str, str], str]:
    """A Boolean's or non-native Enum's check constraint is named by the model's naming
    convention only as its CREATE TABLE is compiled; a migration's tables have no naming
    convention, so the type is written with that name."""
    from sqlalchemy import CheckConstraint

    from project.adapter.internals import final_name, is_type_bound

    names: dict[tuple[str, str], str] = {}
    for table in tables:
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint) and is_type_bound(constraint):
                name = final_name(constraint, dialect)
                for column in constraint.columns:
                    # A native Enum's name is its database type's (PostgreSQL): not renamed.
                    native = getattr(column.type, "native_enum", False)
                    if name and not native and name != getattr(column.type, "name", None):
                        names[(table.name, column.name)] = name
    return names


def _named_check_type(type_: Any, name: str, autogen_context: Any) -> str:
    import copy

    from project.adapter.internals import render_type

    named = copy.copy(type_)
    named.name = name
    return render_type(named, autogen_context)


_rendering_column = False


def _column_with_sequence(column: Any, autogen_context: Any) -> str | bool:
    """Alembic leaves a column's Sequence out: `sa.Column("id", sa.Integer(),
    sa.Sequence("t_id_seq"), ...)` keeps SQLAlchemy from making it SERIAL or AUTO_INCREMENT."""
    global _rendering_column
    from sqlalchemy.schema import Sequence

    if _rendering_column or not isinstance(column.default, Sequence):
        return False
    import ast

    from project.adapter.internals import parsed_call, render_column
    from project.engine.operations import render_sequence

    _rendering_column = True
    try:
        rendered = render_column(column, autogen_context)
    finally:
        _rendering_column = False
    call = parsed_call(rendered)
    call.args.insert(2, ast.parse(render_sequence(column.default, PREFIX), mode="eval").body)
    return ast.unparse(call)


def _postgresql_type(type_: Any, autogen_context: Any) -> str | bool:
    """PostgreSQL's JSON, JSONB and ARRAY the same on every database. Alembic renders their
    inner type only when comparing on PostgreSQL: elsewhere (a `with_variant` written on
    SQLite) it wrote `postgresql.JSONB(astext_type=Text())`, which does not run."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.types import Text

    from project.adapter.internals import render_type

    if isinstance(type_, postgresql.ARRAY):
        arguments = [render_type(type_.item_type, autogen_context)]
        arguments += [
            f"{key}={getattr(type_, key)!r}"
            for key, default in (("as_tuple", False), ("dimensions", None), ("zero_indexes", False))
            if getattr(type_, key) != default
        ]
    elif isinstance(type_, (postgresql.JSON, postgresql.JSONB)):
        arguments = (
            []
            if type(type_.astext_type) is Text
            else [f"astext_type={render_type(type_.astext_type, autogen_context)}"]
        )
        if type_.none_as_null:
            arguments.append("none_as_null=True")
    else:
        return False
    if autogen_context.imports is not None:
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
    return f"postgresql.{type(type_).__name__}({', '.join(arguments)})"


def _user_type(type_: Any, autogen_context: Any) -> str | bool:
    """`apps.shop.types.Money(precision=12)`, importing `apps.shop.types`."""
    module = type(type_).__module__
    if module.startswith("sqlalchemy.dialects.postgresql"):
        return _postgresql_type(type_, autogen_context)
    if module.startswith("sqlalchemy.") or module == "builtins":
        return False
    rendered = f"{module}.{type_!r}"
    _require_round_trip(type_, module, rendered)
    if autogen_context.imports is not None:
        autogen_context.imports.add(f"import {module}")
    return rendered


def _require_round_trip(type_: Any, module: str, rendered: str) -> None:
    import importlib

    from project.errors import ProjectError

    namespace = {module.partition(".")[0]: importlib.import_module(module.partition(".")[0])}
    importlib.import_module(module)
    try:
        rebuilt = eval(rendered, namespace)
        same = repr(rebuilt) == repr(type_)
        problem = f"it makes {rebuilt!r}"
    except Exception as exc:  # noqa: BLE001 - any failure is the user's to see
        same, problem = False, f"{type(exc).__name__}: {exc}"
    if not same:
        name = type(type_).__name__
        raise ProjectError(
            f"A migration would write the type {name} of your models as {rendered}, which does "
            f"not re-create it ({problem}). Give {name} a __repr__ that returns a call "
            're-creating it, e.g. f"{name}()".'
        )


def _constraints_in_model_order(op: Any, autogen_context: Any) -> str:
    """Alembic's create_table, its constraints in the model's order rather than sorted as text:
    MySQL/MariaDB name unnamed ones by their position (`t_ibfk_1`), as create_all() makes them."""
    import ast

    from project.adapter.internals import render_constraints_in_model_order, render_create_table

    rendered = render_create_table(op, autogen_context)
    call = ast.parse(rendered, mode="eval").body
    if not isinstance(call, ast.Call) or any(isinstance(a, ast.Starred) for a in call.args):
        return rendered  # over 255 arguments: Alembic writes *[...], left as it is
    order = [
        ast.dump(ast.parse(text, mode="eval").body)
        for text in render_constraints_in_model_order(op, autogen_context)
    ]
    position = {dump: index for index, dump in enumerate(order)}
    columns = [a for a in call.args[1:] if ast.dump(a) not in position]
    constraints = sorted(
        (a for a in call.args[1:] if ast.dump(a) in position), key=lambda a: position[ast.dump(a)]
    )
    call.args = [call.args[0], *columns, *constraints]
    return ast.unparse(call)


def register_renderers() -> None:
    """Teach Alembic to write the operations autogenerate itself never makes, and to
    write some of its own as we need them (project.adapter.internals.replace_renderers)."""
    from alembic.operations import ops

    from project.adapter.internals import replace_renderers
    from project.engine.operations import FillNullsOp

    def _modify_table(autogen_context: Any, op: ops.ModifyTableOps) -> list[str]:
        from project.adapter.internals import render_modify_table

        lines = render_modify_table(op, autogen_context)
        opening = ") as batch_op:"
        if not (lines and lines[0].startswith("with op.batch_alter_table(")):
            return lines
        extra = []
        if checks := getattr(op, "batch_checks", None):
            kept = "".join(f"{PREFIX}CheckConstraint({check!r}), " for check in checks)
            extra.append(f"table_args=({kept.rstrip()})")
        if convention := getattr(op, "batch_naming_convention", None):
            extra.append(f"naming_convention={convention!r}")
        if extra and lines[0].endswith(opening):
            lines[0] = f"{lines[0][: -len(opening)]}, {', '.join(extra)}{opening}"
        return lines

    def _alter_column(autogen_context: Any, op: ops.AlterColumnOp) -> str:
        from project.adapter.internals import render_alter_column

        return render_alter_column(op, autogen_context)

    def _create_table(autogen_context: Any, op: ops.CreateTableOp) -> str:
        return _constraints_in_model_order(op, autogen_context)

    def _rename_table(autogen_context: Any, op: ops.RenameTableOp) -> str:
        schema = f", schema={op.schema!r}" if op.schema else ""
        return f"op.rename_table({op.table_name!r}, {op.new_table_name!r}{schema})"

    def _fill_nulls(autogen_context: Any, op: FillNullsOp) -> str:
        column = f"{PREFIX}column({op.column_name!r})"
        return (
            f"op.execute(\n    {PREFIX}table({op.table_name!r}, {column})\n"
            f"    .update()\n    .where({column}.is_(None))\n"
            f"    .values({{{op.column_name!r}: {op.value!r}}})\n)"
        )

    replace_renderers(
        {
            ops.ModifyTableOps: _modify_table,
            ops.AlterColumnOp: _alter_column,
            ops.CreateTableOp: _create_table,
            ops.RenameTableOp: _rename_table,
            FillNullsOp: _fill_nulls,
        }
    )
