"""Read what a migration file does from its source, without running it.

Used to list the operations of a migration in `migrate --plan` and to know which tables an
app's history created. Code other than literal `op.*` calls is invisible here; a table
created that way is treated as owned by no app, so it is never dropped automatically.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from alembic.operations import ops
from sqlalchemy import Column, Computed, DefaultClause
from sqlalchemy.types import NullType, TypeEngine

from project.engine.operations import FillNullsOp

_BATCH = "batch_alter_table"


def read_operations(path: Path, function: str = "upgrade") -> list[ops.MigrateOperation]:
    """The `op.*` calls of `upgrade()` (or `downgrade()`) as Alembic operation objects."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    data = _data_functions(tree)
    if data is not None:  # upgrade, downgrade = data_migration(forward, backward)
        name = data[0] if function == "upgrade" else data[1]
        return [PythonOp(name)] if name else []
    body = next(
        (
            node.body
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name == function
        ),
        [],
    )
    return [
        op for call, table in _calls(body, batch_table=None) if (op := _to_operation(call, table))
    ]


def _calls(body: list[ast.stmt], batch_table: str | None) -> Iterator[tuple[ast.Call, str | None]]:
    """Each `op.x(...)` call, or `batch_op.x(...)` call with its batch's table, in order."""
    for statement in body:
        if isinstance(statement, ast.With):
            for item in statement.items:
                call = item.context_expr
                if isinstance(call, ast.Call) and _method(call) == _BATCH:
                    yield from _calls(statement.body, _string(call.args[0]) if call.args else None)
                    break
            else:
                yield from _calls(statement.body, batch_table)
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if (
                    isinstance(owner, ast.Name)
                    and owner.id in ("op", "batch_op")
                    and node.func.attr != "f"
                ):
                    yield node, batch_table if owner.id == "batch_op" else None


def _to_operation(call: ast.Call, batch_table: str | None) -> ops.MigrateOperation | None:
    name = _method(call)
    args = [_value(a) for a in call.args]
    kwargs = {k.arg: _value(k.value) for k in call.keywords if k.arg}
    if batch_table is not None:
        args.insert(_BATCH_TABLE_POSITION.get(name, 0), batch_table)
    if name == "execute" and call.args and (filled := _filled_column(call.args[0])):
        return FillNullsOp(*filled, None)
    build = _BUILDERS.get(name)
    if build is None:
        return None if name in _IGNORED else _Unknown(name)
    try:
        return build(args, kwargs)
    except (IndexError, TypeError):
        return _Unknown(name)


def foreign_key_targets(path: Path) -> set[str]:
    """Tables the foreign keys that upgrade() creates point at (ForeignKey("t.c"),
    ForeignKeyConstraint([...], ["t.c"]), create_foreign_key(name, source, "t", ...))."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    upgrade = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None
    )
    targets: set[str] = set()
    for node in ast.walk(upgrade) if upgrade else ():
        if not isinstance(node, ast.Call):
            continue
        name = _method(node) or getattr(node.func, "id", "")
        references: list[Any] = []
        if name == "ForeignKey" and node.args:
            references = [_value(node.args[0])]
        elif name == "ForeignKeyConstraint" and len(node.args) > 1:
            references = list(_value(node.args[1]) or [])
        elif name == "create_foreign_key":
            owner = getattr(node.func, "value", None)
            position = 1 if isinstance(owner, ast.Name) and owner.id == "batch_op" else 2
            if len(node.args) > position and (table := _string(node.args[position])):
                targets.add(table)
        targets.update(
            r.rsplit(".", 1)[0].rsplit(".", 1)[-1]
            for r in references
            if isinstance(r, str) and "." in r
        )
    return targets


class PythonOp(ops.MigrateOperation):
    """A data migration's function."""

    def __init__(self, function: str) -> None:
        self.function = function


def _data_functions(tree: ast.Module) -> tuple[str | None, str | None] | None:
    """(forward, backward) names of `upgrade, downgrade = data_migration(forward, backward)`."""
    for node in tree.body:
        call = node.value if isinstance(node, ast.Assign) else None
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "data_migration":
            names = [a.id if isinstance(a, ast.Name) else None for a in call.args]
            return (names + [None, None])[0], (names + [None, None])[1]
    return None


class _Unknown(ops.MigrateOperation):
    """A call we don't know how to describe, e.g. `op.bulk_insert`."""

    def __init__(self, name: str) -> None:
        self.call_name = f"op.{name}"


def _method(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else ""


def _string(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and _method(node) == "f" and node.args:  # op.f("name")
        return _string(node.args[0])
    return None


def _value(node: ast.expr) -> Any:
    """Literals as values; `sa.Column("name", type, nullable=..., server_default=...)` as such
    a column; `sa.String(length=80)` and other SQLAlchemy types as types; lists of those."""
    if isinstance(node, ast.Call) and _method(node) == "Column" and node.args:
        return _column(node)
    if isinstance(node, ast.Call) and (type_ := _type(node)) is not None:
        return type_
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(element) for element in node.elts]
    if isinstance(node, ast.Constant):
        return node.value
    text = _string(node)
    return text if text is not None else node


def _column(node: ast.Call) -> Column[Any] | None:
    name = _string(node.args[0])
    if name is None:
        return None
    keywords = {k.arg: k.value for k in node.keywords if k.arg}
    type_ = _value(node.args[1]) if len(node.args) > 1 else None
    nullable = keywords.get("nullable")
    column: Column[Any] = Column(
        name,
        type_ if isinstance(type_, TypeEngine) else NullType(),
        nullable=not (isinstance(nullable, ast.Constant) and nullable.value is False),
    )
    if "server_default" in keywords:
        column.server_default = _server_default(keywords["server_default"])
    if any(isinstance(a, ast.Call) and _method(a) == "Computed" for a in node.args[2:]):
        column.server_default = Computed("?")  # a generated column
    return column


def _server_default(node: ast.expr) -> DefaultClause:
    """The default as written, when it is a literal, `sa.text("...")` or `sa.func.name()`
    (the lock lint tells a volatile one, which rewrites the table); else a placeholder."""
    from sqlalchemy import text

    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return DefaultClause(node.value)
    if isinstance(node, ast.Call) and _method(node) == "text" and node.args:
        written = _string(node.args[0])
        if written is not None:
            return DefaultClause(text(written))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = node.func.value
        if (
            isinstance(owner, ast.Attribute)
            and owner.attr == "func"
            or (isinstance(owner, ast.Name) and owner.id == "func")
        ):
            return DefaultClause(text(f"{node.func.attr}()"))
    return DefaultClause("?")  # only whether there is one is known


def _type(node: ast.Call) -> TypeEngine[Any] | None:
    """`sa.VARCHAR(length=100)` and the like, when every argument is a literal."""
    import sqlalchemy.types

    candidate = getattr(sqlalchemy.types, _method(node), None)
    if not (isinstance(candidate, type) and issubclass(candidate, TypeEngine)):
        return None
    literals = [a for a in node.args if isinstance(a, ast.Constant)]
    keywords = {
        k.arg: k.value.value for k in node.keywords if k.arg and isinstance(k.value, ast.Constant)
    }
    if len(literals) != len(node.args) or len(keywords) != len(node.keywords):
        return None
    try:
        return candidate(*(a.value for a in literals), **keywords)
    except TypeError:
        return None


def _filled_column(node: ast.expr) -> tuple[str, str] | None:
    """`sa.table("t", sa.column("c")).update()...` (our one-off fill of NULLs) -> (t, c)."""
    for call in ast.walk(node):
        if isinstance(call, ast.Call) and _method(call) == "table" and len(call.args) == 2:
            table, column = call.args
            if isinstance(column, ast.Call) and _method(column) == "column" and column.args:
                names = _string(table), _string(column.args[0])
                if names[0] and names[1]:
                    return names[0], names[1]
    return None


# Where a batch operation's implicit table goes among the positional arguments.
_BATCH_TABLE_POSITION = {
    "create_index": 1,
    "create_unique_constraint": 1,
    "create_check_constraint": 1,
    "create_primary_key": 1,
    "create_foreign_key": 1,
    "drop_constraint": 1,
    "drop_index": 1,
}
_IGNORED = {"get_bind", "get_context", "inline_literal", "implementation_for", "invoke"}

_Builder = Callable[[list[Any], dict[str, Any]], ops.MigrateOperation]
_BUILDERS: dict[str, _Builder] = {
    "create_table": lambda a, k: ops.CreateTableOp(
        a[0], [c for c in a[1:] if isinstance(c, Column)]
    ),
    "drop_table": lambda a, k: ops.DropTableOp(a[0]),
    "rename_table": lambda a, k: ops.RenameTableOp(a[0], a[1]),
    "add_column": lambda a, k: ops.AddColumnOp(a[0], a[1]),
    "drop_column": lambda a, k: ops.DropColumnOp(a[0], a[1]),
    "alter_column": lambda a, k: ops.AlterColumnOp(
        a[0],
        a[1],
        modify_name=k.get("new_column_name"),
        modify_type=k.get("type_"),
        existing_type=k.get("existing_type"),
        existing_nullable=k.get("existing_nullable"),
        modify_nullable=k.get("nullable"),
        modify_server_default=k.get("server_default", False),
        modify_comment=k.get("comment", False),
    ),
    "create_index": lambda a, k: ops.CreateIndexOp(
        a[0], a[1], a[2] if len(a) > 2 else [], unique=bool(k.get("unique")), **_concurrently(k)
    ),
    "drop_index": lambda a, k: ops.DropIndexOp(
        a[0], a[1] if len(a) > 1 else k.get("table_name"), **_concurrently(k)
    ),
    "create_foreign_key": lambda a, k: ops.CreateForeignKeyOp(
        a[0], a[1], a[2], [], [], **_not_valid(k)
    ),
    "create_unique_constraint": lambda a, k: ops.CreateUniqueConstraintOp(a[0], a[1], []),
    "create_check_constraint": lambda a, k: ops.CreateCheckConstraintOp(
        a[0], a[1], "", **_not_valid(k)
    ),
    "create_primary_key": lambda a, k: ops.CreatePrimaryKeyOp(a[0], a[1], []),
    "drop_constraint": lambda a, k: ops.DropConstraintOp(a[0], a[1], type_=k.get("type_")),
    "create_table_comment": lambda a, k: ops.CreateTableCommentOp(a[0], None),
    "drop_table_comment": lambda a, k: ops.DropTableCommentOp(a[0]),
    "execute": lambda a, k: ops.ExecuteSQLOp(""),
    "create_sequence": lambda a, k: _sequence_op("CreateSequenceOp", a, k),
    "drop_sequence": lambda a, k: _sequence_op("DropSequenceOp", a, k),
    "alter_sequence": lambda a, k: _sequence_op("AlterSequenceOp", a, k),
    "create_schema": lambda a, k: _schema_op(a[0]),
    "alter_table_options": lambda a, k: _table_options_op(a[0]),
    "create_index_concurrently": lambda a, k: _online_op(
        "CreateIndexConcurrentlyOp", a[0], a[1], a[2] if len(a) > 2 else [], unique=k.get("unique")
    ),
    "drop_index_concurrently": lambda a, k: _online_op(
        "DropIndexConcurrentlyOp", a[0], table_name=a[1] if len(a) > 1 else k.get("table_name")
    ),
    "validate_constraint": lambda a, k: _online_op("ValidateConstraintOp", a[0], a[1]),
    "create_unique_constraint_concurrently": lambda a, k: _online_op(
        "CreateUniqueConstraintConcurrentlyOp", a[0], a[1], a[2] if len(a) > 2 else []
    ),
    "add_not_null_check": lambda a, k: _online_op("AddNotNullCheckOp", a[0], a[1], a[2]),
    "drop_not_null_check": lambda a, k: _online_op("DropNotNullCheckOp", a[0], a[1]),
}


def _not_valid(kwargs: dict[str, Any]) -> dict[str, Any]:
    """`postgresql_not_valid=True`: added without checking the rows (project.engine.online)."""
    return {"postgresql_not_valid": True} if kwargs.get("postgresql_not_valid") is True else {}


def _concurrently(kwargs: dict[str, Any]) -> dict[str, Any]:
    """`postgresql_concurrently=True` written by hand: it takes no lock that blocks writes."""
    concurrently = kwargs.get("postgresql_concurrently") is True
    return {"postgresql_concurrently": True} if concurrently else {}


def _online_op(name: str, *args: Any, **kwargs: Any) -> ops.MigrateOperation:
    from project.engine import online

    kind: type[ops.MigrateOperation] = getattr(online, name)
    return kind(*args, **{key: value for key, value in kwargs.items() if value is not None})


def _table_options_op(table: str) -> ops.MigrateOperation:
    from project.engine.operations import AlterTableOptionsOp

    return AlterTableOptionsOp(table)


def _schema_op(name: str) -> ops.MigrateOperation:
    from project.engine.operations import CreateSchemaOp

    return CreateSchemaOp(name)


def _sequence_op(name: str, args: list[Any], kwargs: dict[str, Any]) -> ops.MigrateOperation:
    """With the options written as literals (start=, increment=, ...)."""
    from project.engine import operations

    schema = kwargs.get("schema")
    options = {
        key: value
        for key, value in kwargs.items()
        if key in operations.OPTIONS and isinstance(value, (int, bool))
    }
    kind: type[ops.MigrateOperation] = getattr(operations, name)
    return kind(args[0], schema if isinstance(schema, str) else None, **options)  # type: ignore[call-arg]
