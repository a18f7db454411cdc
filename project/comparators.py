"""Our autogenerate comparators: where Alembic, left alone, reports a change that is none
(a phantom), or misses one. Registered as an Alembic plugin by project.compare."""

from __future__ import annotations

from typing import Any

from alembic.util import PriorityDispatchResult
from sqlalchemy.schema import DefaultClause, Identity

from project.compare import same_server_default

CONTINUE, STOP = PriorityDispatchResult.CONTINUE, PriorityDispatchResult.STOP


def server_default(
    autogen_context: Any,
    alter_column_op: Any,
    schema: str | None,
    table: str,
    column: str,
    reflected: Any,
    model: Any,
) -> PriorityDispatchResult:
    """Equal server defaults in each database's own words are no change; an Identity on a
    database without identity columns (SQLite, MySQL/MariaDB) is its autoincrement."""
    dialect = autogen_context.dialect
    model_default, reflected_default = model.server_default, reflected.server_default
    if isinstance(model_default, Identity) and not dialect.supports_identity_columns:
        return STOP
    both = isinstance(model_default, DefaultClause) and isinstance(reflected_default, DefaultClause)
    if both and same_server_default(
        _text(reflected_default.arg), _compiled(model_default, dialect)
    ):
        return STOP
    return CONTINUE


def _compiled(default: DefaultClause, dialect: Any) -> str:
    if isinstance(default.arg, str):
        return default.arg
    return str(default.arg.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _text(argument: Any) -> str:
    return str(getattr(argument, "text", argument))


def primary_key_nullability(
    autogen_context: Any,
    alter_column_op: Any,
    schema: str | None,
    table: str,
    column: str,
    reflected: Any,
    model: Any,
) -> PriorityDispatchResult:
    """A primary-key column the model leaves nullable is NOT NULL wherever the database
    insists (everywhere but SQLite), as `create_all` makes it: no change."""
    if model.primary_key and autogen_context.dialect.name != "sqlite" and not reflected.nullable:
        alter_column_op.existing_nullable = reflected.nullable
        return STOP
    return CONTINUE


def check_constraints(
    autogen_context: Any,
    modify_table_ops: Any,
    schema: str | None,
    table: str,
    reflected_table: Any,
    model_table: Any,
) -> PriorityDispatchResult:
    """Check constraints by their name in the database (Alembic's checkconstraint_byname
    takes a name a naming convention gives a Boolean's check as no name), those the
    database names itself counted rather than named, and only those CREATE TABLE makes
    on this dialect (a Boolean's check is none where booleans are native)."""
    from alembic.operations import ops
    from sqlalchemy import CheckConstraint

    from project.internals import created_on, final_name

    if reflected_table is None or model_table is None:
        return CONTINUE
    dialect = autogen_context.dialect
    try:
        reflected = autogen_context.inspector.get_check_constraints(table, schema=schema)
    except NotImplementedError:
        return CONTINUE
    reflected = [r for r in reflected if not _is_implicit_check(r, dialect)]
    model = [
        c
        for c in (*model_table.constraints, *(k for col in model_table.c for k in col.constraints))
        if isinstance(c, CheckConstraint) and created_on(c, dialect)
    ]
    named = {name: c for c in model if (name := final_name(c, dialect))}
    unnamed = [c for c in model if not final_name(c, dialect)]
    others = [r for r in reflected if r.get("name") not in named]
    for extra in others[len(unnamed) :]:  # more in the database than the model accounts for
        if extra.get("name"):
            constraint = CheckConstraint(extra["sqltext"], name=extra["name"])
            reflected_table.append_constraint(constraint)
            modify_table_ops.ops.append(ops.DropConstraintOp.from_constraint(constraint))
    for missing in unnamed[len(others) :]:
        modify_table_ops.ops.append(ops.AddConstraintOp.from_constraint(missing))
    have = {r.get("name") for r in reflected}
    for name in sorted(set(named) - have):
        modify_table_ops.ops.append(ops.AddConstraintOp.from_constraint(named[name]))
    return CONTINUE


def _is_implicit_check(reflected: dict[str, Any], dialect: Any) -> bool:
    """MariaDB's JSON is LONGTEXT with a json_valid() check it adds by itself."""
    return dialect.name in ("mysql", "mariadb") and "json_valid(" in str(reflected.get("sqltext"))


def unique_primary_keys(
    autogen_context: Any,
    modify_table_ops: Any,
    schema: str | None,
    table: str,
    reflected_table: Any,
    model_table: Any,
) -> PriorityDispatchResult:
    """PostgreSQL's CREATE TABLE leaves out a UNIQUE on exactly the primary key's columns
    (`create_all` makes none either), so the one Alembic then wants to add is no change."""
    from alembic.operations import ops

    if autogen_context.dialect.name != "postgresql" or model_table is None:
        return CONTINUE
    key = {column.name for column in model_table.primary_key.columns}
    modify_table_ops.ops = [
        op
        for op in modify_table_ops.ops
        if not (
            isinstance(op, ops.CreateUniqueConstraintOp)
            and set(op.columns) == key
            or isinstance(op, ops.AddConstraintOp)
            and getattr(op, "constraint_type", None) == "unique"
            and set(getattr(op, "columns", ())) == key
        )
    ]
    return CONTINUE
