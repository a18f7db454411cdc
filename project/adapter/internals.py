"""SQLAlchemy's and Alembic's non-public parts for schema objects, operations, rendering
and drivers: what fidelity needs (the constraints a table really gets, Alembic's renderers
extended, batch copies fixed, a connect deadline).

Each use, and why no public API serves, is listed in project/adapter/__init__.py; when a
release breaks one, it breaks here, and tests/test_internals.py says which.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
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
            "(project/adapter/internals.py); please report it, with your Alembic version."
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


def reflected_check_constraints(inspector: Any, table: str, schema: str | None) -> list[Any]:
    """`inspector.get_check_constraints(table)`, read from what Alembic's comparison reflected
    for every table at once where it has (one query in all; a query per table otherwise).
    Names are marked final (`conv`), as Alembic marks those of the constraints it reflects:
    a drop is written `op.f(name)`, which no naming convention renames."""
    from sqlalchemy.sql.elements import conv

    found = _from_alembics_reflection(inspector, "check_constraints", table, schema)
    return [
        {**check, "name": None if check["name"] is None else conv(check["name"])} for check in found
    ]


def reflected_table_options(inspector: Any, table: str, schema: str | None) -> dict[str, Any]:
    """`inspector.get_table_options(table)`, from Alembic's reflection of all tables where
    it has one."""
    return dict(_from_alembics_reflection(inspector, "table_options", table, schema))


def _from_alembics_reflection(inspector: Any, kind: str, table: str, schema: str | None) -> Any:
    """`inspector.get_<kind>(table)`, from the entry Alembic's comparison keeps in the
    inspector's cache (`alembic_<kind>`: every table's, reflected at once) where it has one."""
    cached = inspector.info_cache.get(f"alembic_{kind}")
    if isinstance(cached, dict) and (schema, table) in cached:
        return cached[(schema, table)]
    return getattr(inspector, f"get_{kind}")(table, schema=schema)


def reflected(op: Any) -> Any | None:
    """What a drop that autogenerate made removes, as the database has it (the table, column,
    index or constraint the comparison reflected), as the operation that would undo it."""
    return getattr(op, "_reverse", None)


def drop_with_reflected(drop: Any, reflected_op: Any) -> Any:
    """`drop`, knowing what it removes (as autogenerate's own drops do): its downgrade then
    makes it again."""
    drop._reverse = reflected_op
    return drop


def copy_column(column: Column[Any]) -> Column[Any]:
    """A copy of a column not attached to any table (SQLAlchemy's `copy()` is deprecated)."""
    return column._copy()


def type_affinity(type_: Any) -> Any:
    """The generic type a type is a kind of (String for VARCHAR), or None for a non-type."""
    return getattr(type_, "_type_affinity", None)


def is_mysql_integer(type_: Any) -> bool:
    """One of the MySQL dialect's integer types (with display width, unsigned, zerofill)."""
    from sqlalchemy.dialects.mysql.types import _IntegerType

    return isinstance(type_, _IntegerType)


def replace_renderers(renderers: dict[type, Any]) -> None:
    """Make each function Alembic's renderer of its operation class, for the process (see the
    package docstring); idempotent."""
    from alembic.autogenerate.render import renderers as alembic_renderers

    for op_class, render in renderers.items():
        alembic_renderers.dispatch_for(op_class, replace=True)(render)


def no_read_timeout(dbapi_connection: Any) -> None:
    """Turn off a PyMySQL connection's read timeout once it is connected."""
    dbapi_connection._read_timeout = None  # PyMySQL applies it to the socket on each read


def scoped_metadata(metadata: Any, tables: Iterable[Any]) -> Any:
    """A MetaData showing only `tables` to Alembic's autogenerate (its `tables` and
    `sorted_tables`), with `metadata`'s naming convention. The tables stay on `metadata`,
    where their foreign keys resolve; in the sort, one pointing at a table outside is no
    dependency (its target may not even be imported). Private: the tables go into
    MetaData.tables (a read-only dict) without being re-parented."""
    from sqlalchemy import MetaData
    from sqlalchemy.schema import sort_tables

    class ScopedMetaData(MetaData):
        @property
        def sorted_tables(self) -> list[Any]:
            keys = set(self.tables)

            def outside(fk: Any) -> bool:  # a ForeignKey, whatever the stubs say
                return str(fk.target_fullname).rsplit(".", 1)[0] not in keys

            tables: list[Any] = sorted(self.tables.values(), key=lambda t: str(t.key))
            return sort_tables(tables, skip_fn=outside)

    scoped = ScopedMetaData(
        schema=metadata.schema, naming_convention=metadata.naming_convention, info=metadata.info
    )
    for table in tables:
        dict.__setitem__(scoped.tables, table.key, table)
    return scoped
