"""The non-public parts of SQLAlchemy and Alembic that fidelity needs, in one place.

Each use says why no public API serves. When a release breaks one, it breaks here, and
tests/test_internals.py says which.

- `sys._getframe` and a frame's `f_locals` (CPython's): which module's top-level code is
  making a Table, and the class SQLAlchemy's declarative machinery is mapping (its `cls`),
  as the table is made; nothing public says where a table was defined.
- `IdentifierPreparer.format_constraint(constraint, _alembic_quote=False)`: the name a
  constraint really gets on a dialect, after the MetaData's naming convention (a Boolean's
  or an Enum's check constraint is named only when the DDL is compiled). Alembic calls it
  the same way (`sqla_compat._get_constraint_final_name`).
- `Constraint._create_rule`: whether a type's own check constraint is created at all on a
  dialect (a Boolean's is not where the database has a native boolean).
- `Constraint._type_bound`: the check constraint belongs to a column's type (Boolean, Enum).
- `alembic.operations.batch.ApplyBatchImpl._create` (wrapped, by `fix_batch_copies`):
  SQLite's batch mode copies every column's values into the re-created table, generated
  columns too, which SQLite refuses ("cannot INSERT into generated column"); the wrapper
  leaves those out of the copy (the database computes them).
- `DefaultImpl._normalize_computed_default`: Alembic's own way of telling whether a
  generated column's expression changed (it only warns); we recreate the column instead.
- `MetaData._sequences`: the sequences on a MetaData, to say which no column uses (no app
  can then be told to own one; SQLAlchemy has no public list).
- `alembic.autogenerate.render._render_modify_table`: a SQLite batch is written with the
  unnamed check constraints its re-created table must keep, as `table_args` (Alembic's
  batch mode leaves them out of the copy, with a warning); no hook adds arguments there.
- `alembic.autogenerate.render._alter_column` and `_render_server_default`: an identity
  column whose options change needs `existing_server_default=sa.Identity(...)`, which
  PostgreSQL's ALTER needs (SET, not ADD), and Alembic writes it only when the default
  itself does not change.
- `alembic.autogenerate.render._add_table` and `_render_constraint`, with
  `CreateTableOp._namespace_metadata` and `Constraint._creation_order`: Alembic writes a
  new table's constraints sorted as text, where CREATE TABLE takes them in the model's
  order, and MySQL/MariaDB number the names of unnamed ones (`t_ibfk_1`, `CONSTRAINT_1`)
  in that order; we put them back in the model's order.
- `alembic.autogenerate.render._render_column` and `_repr_type`: Alembic's rendering of a
  column and of a type, which we extend with what it leaves out (an explicit Sequence, the
  element type of a PostgreSQL ARRAY written where another dialect renders); `render_item`
  can only replace them.
- `async_creator_fn` in the connect arguments of SQLAlchemy's aiomysql and asyncmy
  adapters (their `dbapi.connect` takes it; the public `async_creator` does too, but then
  the URL's host, user and options are not applied): the driver's connect, wrapped in one
  deadline. Their `connect_timeout` ends once TCP connects, and neither has a read timeout,
  so a server that never sends its greeting would hang the command.

Two of these act on the whole process once registered, for any Alembic use in it: the
renderers project.autogen.render replaces (CreateTableOp, AlterColumnOp, ModifyTableOps and
RenameTableOp; each calls Alembic's own and only adds to it), and `fix_batch_copies`.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Column, Constraint, Index
    from sqlalchemy.engine import Dialect


def module_making() -> str | None:
    """The module whose top-level code runs the innermost frame of the stack's module level
    (the one being imported, or the program's main module)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "<module>":
        frame = frame.f_back  # type: ignore[assignment]
    name = frame.f_globals.get("__name__") if frame is not None else None
    return name if isinstance(name, str) else None


def class_being_mapped() -> type | None:
    """The class SQLAlchemy's declarative machinery is mapping right now, if any."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "<module>":
        name = frame.f_globals.get("__name__")
        if isinstance(name, str) and name.startswith("sqlalchemy.orm"):
            candidate = frame.f_locals.get("cls")
            if isinstance(candidate, type):
                return candidate
        frame = frame.f_back  # type: ignore[assignment]
    return None


def final_name(constraint: Constraint | Index, dialect: Dialect) -> str | None:
    """The constraint's name in the database, or None when the database will choose one."""
    if constraint.name is None:
        return None
    name = dialect.identifier_preparer.format_constraint(constraint, _alembic_quote=False)
    return str(name) if name is not None else None


def created_on(constraint: Constraint, dialect: Dialect) -> bool:
    """Whether CREATE TABLE on this dialect makes the constraint (a type's check may not)."""
    rule = getattr(constraint, "_create_rule", None)
    return rule is None or bool(rule(SimpleNamespace(dialect=dialect)))


def is_type_bound(constraint: Constraint) -> bool:
    return bool(getattr(constraint, "_type_bound", False))


def render_column(column: Column[Any], autogen_context: Any) -> str:
    from alembic.autogenerate.render import _render_column

    return str(_render_column(column, autogen_context))


def render_type(type_: Any, autogen_context: Any) -> str:
    from alembic.autogenerate.render import _repr_type

    return str(_repr_type(type_, autogen_context))


def render_modify_table(op: Any, autogen_context: Any) -> list[str]:
    from alembic.autogenerate.render import _render_modify_table

    return list(_render_modify_table(autogen_context, op))


def in_model_order(constraints: Any) -> list[Any]:
    """Constraints in the order the model made them (a table keeps them in a set)."""
    return sorted(constraints, key=lambda c: c._creation_order)


def render_create_table(op: Any, autogen_context: Any) -> str:
    from alembic.autogenerate.render import _add_table

    return str(_add_table(autogen_context, op))


def render_constraints_in_model_order(op: Any, autogen_context: Any) -> list[str]:
    """Each of a new table's constraints as Alembic renders it, in the model's order, the
    primary key first (as SQLAlchemy's CREATE TABLE has them)."""
    from alembic.autogenerate.render import _render_constraint
    from sqlalchemy import Column, PrimaryKeyConstraint

    constraints = sorted(
        (item for item in op.columns if not isinstance(item, Column)),
        key=lambda c: (not isinstance(c, PrimaryKeyConstraint), c._creation_order),
    )
    rendered = (_render_constraint(c, autogen_context, op._namespace_metadata) for c in constraints)
    return [text for text in rendered if text]


def normalized_computed(autogen_context: Any, sqltext: str) -> str:
    impl = autogen_context.migration_context.impl
    return str(impl._normalize_computed_default(sqltext))


def check_sql(constraint: Any, dialect: Dialect) -> str:
    """A check constraint's SQL as CREATE TABLE writes it (`visit_check_constraint`)."""
    from sqlalchemy.schema import CreateTable

    compiler = dialect.ddl_compiler(dialect, CreateTable(constraint.table))
    return str(
        compiler.sql_compiler.process(constraint.sqltext, include_table=False, literal_binds=True)
    )


def unnamed_checks(table: Any, dialect: Dialect) -> list[tuple[str, str | None]]:
    """(SQL, the column whose type makes it, or None) of a table's check constraints that
    the database names itself, as CREATE TABLE writes them (`visit_check_constraint`)."""
    from sqlalchemy import CheckConstraint

    found = []
    for constraint in (*table.constraints, *(c for col in table.columns for c in col.constraints)):
        if not isinstance(constraint, CheckConstraint) or not created_on(constraint, dialect):
            continue
        if final_name(constraint, dialect) is None:
            sql = check_sql(constraint, dialect)
            columns = [c.name for c in constraint.columns] if is_type_bound(constraint) else []
            found.append((sql, columns[0] if columns else None))
    return found


def fix_batch_copies() -> None:
    """See the module docstring; idempotent."""
    from alembic.operations.batch import ApplyBatchImpl

    original = ApplyBatchImpl._create
    if getattr(original, "_leaves_out_generated", False):
        return

    def create(self: Any, op_impl: Any) -> None:
        for name, column in self.columns.items():
            if getattr(column, "computed", None) is not None:
                self.column_transfers.get(name, {}).pop("expr", None)
        original(self, op_impl)

    create._leaves_out_generated = True  # type: ignore[attr-defined]
    ApplyBatchImpl._create = create  # type: ignore[method-assign]


def parsed_call(rendered: str) -> Any:
    """Alembic's rendering of one call, to extend; any other form is ours to be told about."""
    import ast

    from project.errors import ProjectError

    try:
        call = ast.parse(rendered, mode="eval").body
    except SyntaxError:
        call = None
    if not isinstance(call, ast.Call):
        raise ProjectError(
            f"This Alembic release renders `{rendered[:60]}...` in a form manage.py cannot extend "
            "(project/internals.py); please report it, with your Alembic version."
        )
    return call


def render_alter_column(op: Any, autogen_context: Any) -> str:
    """Alembic's alter_column, with the identity it changes from (see the docstring)."""
    import ast

    from alembic.autogenerate.render import _alter_column, _render_server_default
    from sqlalchemy.schema import Identity

    rendered = str(_alter_column(autogen_context, op))
    existing = op.existing_server_default
    if not (isinstance(op.modify_server_default, Identity) and isinstance(existing, Identity)):
        return rendered
    call = parsed_call(rendered)
    value = ast.parse(str(_render_server_default(existing, autogen_context)), mode="eval").body
    call.keywords.append(ast.keyword(arg="existing_server_default", value=value))
    return ast.unparse(call)


def metadata_sequences(metadata: Any) -> list[Any]:
    return list(getattr(metadata, "_sequences", {}).values())


def connect_within(driver: str, timeout: float) -> dict[str, Any]:
    """Connect arguments that make an asyncio MySQL driver's whole connect (TCP, greeting,
    login) fail after `timeout` seconds (see the docstring)."""
    import asyncio
    import importlib

    connect = importlib.import_module(driver).connect

    async def connect_in_time(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.wait_for(connect(*args, **kwargs), timeout)

    return {"async_creator_fn": connect_in_time}
