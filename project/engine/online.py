"""Lock-safe operations: what makemigrations writes for a table that already exists on
PostgreSQL, so that migrating it blocks no writes for longer than a moment.

Each operation does the lock-safe thing on PostgreSQL and the ordinary thing elsewhere, so
one history still serves every database:

- `op.create_index_concurrently(...)`: CREATE INDEX CONCURRENTLY, outside the migration's
  transaction (Alembic's `autocommit_block`). An INVALID index of that name, left by a build
  that failed or was interrupted, is dropped and built again.
- `op.drop_index_concurrently(...)`: DROP INDEX CONCURRENTLY IF EXISTS, the same way.
- `op.validate_constraint(...)`: VALIDATE CONSTRAINT of a foreign key or check added
  NOT VALID, in a transaction of its own (it scans the table, but under a lock that lets
  reads and writes go on). Nothing elsewhere: there the constraint was checked when added.
- `op.create_unique_constraint_concurrently(...)`: a unique index built CONCURRENTLY, then
  attached as the constraint (`ADD CONSTRAINT ... UNIQUE USING INDEX`, a brief lock).
- `op.add_not_null_check(...)` / `op.drop_not_null_check(...)`: the `CHECK (c IS NOT NULL)
  NOT VALID` that, once validated, lets SET NOT NULL skip its scan (PostgreSQL 12+).

These run in a migration of their own (makemigrations writes it after the ordinary one, and
marks it `atomic = False`): it commits step by step, and every step is idempotent, so a run
that failed or was interrupted is simply run again. The statements that take only SHARE
UPDATE EXCLUSIVE (the concurrent builds, VALIDATE) run without a lock timeout: they block
no reads or writes while they wait, and a build cut short by one leaves an invalid index.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from alembic.autogenerate import renderers
from alembic.operations import MigrateOperation, Operations, ops
from sqlalchemy import text

POSTGRESQL = "postgresql"
NOT_NULL_CHECK_SUFFIX = "_not_null"
NAME_LIMIT = 63  # PostgreSQL's identifier length


def not_null_check_name(table: str, column: str) -> str:
    """`ck_pets_pet_name_not_null`, cut to PostgreSQL's 63 characters from the front."""
    name = f"ck_{table}_{column}{NOT_NULL_CHECK_SUFFIX}"
    return name if len(name) <= NAME_LIMIT else name[len(name) - NAME_LIMIT :].lstrip("_")


@Operations.register_operation("create_index_concurrently")
class CreateIndexConcurrentlyOp(ops.CreateIndexOp):
    """An index built without blocking writes (see the module docstring)."""

    @classmethod
    def create_index_concurrently(
        cls,
        operations: Operations,
        index_name: str,
        table_name: str,
        columns: Sequence[Any],
        *,
        schema: str | None = None,
        unique: bool = False,
        **kw: Any,
    ) -> None:
        operations.invoke(cls(index_name, table_name, columns, schema=schema, unique=unique, **kw))

    def reverse(self) -> DropIndexConcurrentlyOp:
        return DropIndexConcurrentlyOp.from_index(self.to_index())  # type: ignore[return-value]


@Operations.register_operation("drop_index_concurrently")
class DropIndexConcurrentlyOp(ops.DropIndexOp):
    """An index dropped without blocking reads or writes."""

    @classmethod
    def drop_index_concurrently(
        cls,
        operations: Operations,
        index_name: str,
        table_name: str | None = None,
        *,
        schema: str | None = None,
        **kw: Any,
    ) -> None:
        operations.invoke(cls(index_name, table_name=table_name, schema=schema, **kw))

    def reverse(self) -> CreateIndexConcurrentlyOp:
        return CreateIndexConcurrentlyOp.from_index(self.to_index())  # type: ignore[return-value]


class _ConstraintOp(MigrateOperation):
    """An operation on one named constraint of a table."""

    def __init__(self, constraint_name: str, table_name: str, schema: str | None = None) -> None:
        self.constraint_name, self.table_name, self.schema = constraint_name, table_name, schema


@Operations.register_operation("validate_constraint")
class ValidateConstraintOp(_ConstraintOp):
    """VALIDATE CONSTRAINT of a foreign key or check added NOT VALID (PostgreSQL)."""

    @classmethod
    def validate_constraint(
        cls,
        operations: Operations,
        constraint_name: str,
        table_name: str,
        *,
        schema: str | None = None,
    ) -> None:
        operations.invoke(cls(constraint_name, table_name, schema))


@Operations.register_operation("create_unique_constraint_concurrently")
class CreateUniqueConstraintConcurrentlyOp(ops.CreateUniqueConstraintOp):
    """A unique constraint from a unique index built CONCURRENTLY (PostgreSQL)."""

    def reverse(self) -> ops.DropConstraintOp:
        """DROP CONSTRAINT IF EXISTS: a downgrade run again after an interrupted one finds it
        dropped already."""
        return ops.DropConstraintOp(
            self.constraint_name, self.table_name, "unique", schema=self.schema, if_exists=True
        )

    @classmethod
    def create_unique_constraint_concurrently(
        cls,
        operations: Operations,
        constraint_name: str,
        table_name: str,
        columns: Sequence[str],
        *,
        schema: str | None = None,
    ) -> None:
        operations.invoke(cls(constraint_name, table_name, columns, schema=schema))


@Operations.register_operation("add_not_null_check")
class AddNotNullCheckOp(MigrateOperation):
    """CHECK (column IS NOT NULL) NOT VALID (PostgreSQL): the first step of SET NOT NULL."""

    def __init__(
        self, constraint_name: str, table_name: str, column_name: str, schema: str | None = None
    ) -> None:
        self.constraint_name, self.table_name = constraint_name, table_name
        self.column_name, self.schema = column_name, schema

    @classmethod
    def add_not_null_check(
        cls,
        operations: Operations,
        constraint_name: str,
        table_name: str,
        column_name: str,
        *,
        schema: str | None = None,
    ) -> None:
        operations.invoke(cls(constraint_name, table_name, column_name, schema))

    def reverse(self) -> DropNotNullCheckOp:
        return DropNotNullCheckOp(self.constraint_name, self.table_name, self.schema)


@Operations.register_operation("drop_not_null_check")
class DropNotNullCheckOp(_ConstraintOp):
    """DROP CONSTRAINT IF EXISTS of the check, once SET NOT NULL has made it redundant."""

    @classmethod
    def drop_not_null_check(
        cls,
        operations: Operations,
        constraint_name: str,
        table_name: str,
        *,
        schema: str | None = None,
    ) -> None:
        operations.invoke(cls(constraint_name, table_name, schema))


# Reversing these undoes nothing: a validated constraint is dropped with its table's other
# changes, and the not-null check is dropped by the reverse of its add.
UNDONE_BY_OTHERS = ("ValidateConstraintOp", "DropNotNullCheckOp")


def _on_postgresql(operations: Operations) -> bool:
    return operations.migration_context.dialect.name == POSTGRESQL


def _table(operations: Operations, table: str, schema: str | None) -> str:
    preparer = operations.migration_context.dialect.identifier_preparer
    quoted = preparer.quote(table)
    return f"{preparer.quote_schema(schema)}.{quoted}" if schema else quoted


def _alter_table(operations: Operations, op: Any, clause: str) -> None:
    """ALTER TABLE of the operation's table (and schema), then `clause`."""
    operations.execute(f"ALTER TABLE {_table(operations, op.table_name, op.schema)} {clause}")


def _quote(operations: Operations, name: str) -> str:
    return str(operations.migration_context.dialect.identifier_preparer.quote(name))


@contextmanager
def _outside_transaction(operations: Operations) -> Iterator[None]:
    """Alembic's autocommit block, without a lock timeout (see the module docstring); the
    session's own timeout is back once the block ends."""
    context = operations.migration_context
    with context.autocommit_block():
        if context.as_sql:
            yield
            return
        connection = context.connection
        assert connection is not None
        previous = connection.exec_driver_sql("SHOW lock_timeout").scalar()
        connection.exec_driver_sql("SET lock_timeout = 0")
        try:
            yield
        finally:
            connection.exec_driver_sql(f"SET lock_timeout = '{previous}'")


def _index_validity(operations: Operations, name: str, schema: str | None) -> bool | None:
    """None: no such index; else whether PostgreSQL may use it (an interrupted
    CREATE INDEX CONCURRENTLY leaves it INVALID)."""
    context = operations.migration_context
    if context.as_sql or context.connection is None:
        return None
    query = "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"
    found = context.connection.execute(text(query), {"name": _table(operations, name, schema)})
    return found.scalar()


def _constraint_validated(
    operations: Operations, name: str, table: str, schema: str | None
) -> bool | None:
    """None: the table has no such constraint; else whether its rows have been checked.
    Offline (sqlmigrate) it is taken as there and not validated: every statement is shown."""
    context = operations.migration_context
    if context.as_sql or context.connection is None:
        return False
    query = (
        "SELECT convalidated FROM pg_constraint "
        "WHERE conname = :name AND conrelid = to_regclass(:table)"
    )
    found = context.connection.execute(
        text(query), {"name": name, "table": _table(operations, table, schema)}
    )
    return found.scalar()


def _constraint_exists(operations: Operations, name: str, table: str, schema: str | None) -> bool:
    context = operations.migration_context
    if context.as_sql or context.connection is None:
        return False
    return _constraint_validated(operations, name, table, schema) is not None


def _build_concurrently(operations: Operations, op: ops.CreateIndexOp) -> None:
    """Build the index CONCURRENTLY, first dropping an invalid one of its name."""
    name = str(op.index_name)
    if _index_validity(operations, name, op.schema) is False:
        operations.execute(
            f"DROP INDEX CONCURRENTLY IF EXISTS {_table(operations, name, op.schema)}"
        )
    concurrent = ops.CreateIndexOp(
        op.index_name,
        op.table_name,
        op.columns,
        schema=op.schema,
        unique=op.unique,
        if_not_exists=True,
        **{**op.kw, "postgresql_concurrently": True},
    )
    operations.impl.create_index(
        concurrent.to_index(operations.migration_context), if_not_exists=True
    )


@Operations.implementation_for(CreateIndexConcurrentlyOp)
def _create_index_concurrently(operations: Operations, op: CreateIndexConcurrentlyOp) -> None:
    if not _on_postgresql(operations):
        index = ops.CreateIndexOp(
            op.index_name, op.table_name, op.columns, schema=op.schema, unique=op.unique, **op.kw
        )
        operations.impl.create_index(index.to_index(operations.migration_context))
        return
    with _outside_transaction(operations):
        _build_concurrently(operations, op)


@Operations.implementation_for(DropIndexConcurrentlyOp)
def _drop_index_concurrently(operations: Operations, op: DropIndexConcurrentlyOp) -> None:
    index = ops.DropIndexOp(op.index_name, table_name=op.table_name, schema=op.schema)
    if not _on_postgresql(operations):
        operations.impl.drop_index(index.to_index(operations.migration_context))
        return
    with _outside_transaction(operations):
        operations.execute(
            f"DROP INDEX CONCURRENTLY IF EXISTS {_table(operations, str(op.index_name), op.schema)}"
        )


@Operations.implementation_for(ValidateConstraintOp)
def _validate_constraint(operations: Operations, op: ValidateConstraintOp) -> None:
    """Nothing when already validated, or gone: a run again after a later step failed finds
    the not-null check dropped already (the recipe's last step)."""
    if not _on_postgresql(operations):
        return
    if _constraint_validated(operations, op.constraint_name, op.table_name, op.schema) is not False:
        return
    with _outside_transaction(operations):
        _alter_table(
            operations, op, f"VALIDATE CONSTRAINT {_quote(operations, op.constraint_name)}"
        )


@Operations.implementation_for(CreateUniqueConstraintConcurrentlyOp)
def _create_unique_concurrently(
    operations: Operations, op: CreateUniqueConstraintConcurrentlyOp
) -> None:
    if not _on_postgresql(operations):
        plain = ops.CreateUniqueConstraintOp(
            op.constraint_name, op.table_name, op.columns, schema=op.schema
        )
        operations.impl.add_constraint(plain.to_constraint(operations.migration_context))
        return
    name = str(op.constraint_name)
    if _constraint_exists(operations, name, op.table_name, op.schema):
        return  # attached by an earlier run
    index = ops.CreateIndexOp(name, op.table_name, list(op.columns), schema=op.schema, unique=True)
    with _outside_transaction(operations):
        _build_concurrently(operations, index)
    quoted = _quote(operations, name)
    _alter_table(operations, op, f"ADD CONSTRAINT {quoted} UNIQUE USING INDEX {quoted}")


@Operations.implementation_for(AddNotNullCheckOp)
def _add_not_null_check(operations: Operations, op: AddNotNullCheckOp) -> None:
    if not _on_postgresql(operations):
        return
    if _constraint_exists(operations, op.constraint_name, op.table_name, op.schema):
        return
    check = f"CHECK ({_quote(operations, op.column_name)} IS NOT NULL) NOT VALID"
    _alter_table(operations, op, f"ADD CONSTRAINT {_quote(operations, op.constraint_name)} {check}")


@Operations.implementation_for(DropNotNullCheckOp)
def _drop_not_null_check(operations: Operations, op: DropNotNullCheckOp) -> None:
    if not _on_postgresql(operations):
        return
    _alter_table(
        operations, op, f"DROP CONSTRAINT IF EXISTS {_quote(operations, op.constraint_name)}"
    )


def _arguments(*values: Any, schema: str | None = None, **options: Any) -> str:
    parts = [repr(value) for value in values]
    parts += [f"{key}={value!r}" for key, value in options.items() if value]
    if schema:
        parts.append(f"schema={schema!r}")
    return ", ".join(parts)


@renderers.dispatch_for(CreateIndexConcurrentlyOp)
def _render_create_index(autogen_context: Any, op: CreateIndexConcurrentlyOp) -> str:
    """Alembic's own `op.create_index(...)`, under the concurrent name."""
    plain: str = renderers.dispatch(ops.CreateIndexOp)(autogen_context, op)
    return plain.replace("create_index(", "create_index_concurrently(", 1)


@renderers.dispatch_for(DropIndexConcurrentlyOp)
def _render_drop_index(autogen_context: Any, op: DropIndexConcurrentlyOp) -> str:
    plain: str = renderers.dispatch(ops.DropIndexOp)(autogen_context, op)
    return plain.replace("drop_index(", "drop_index_concurrently(", 1)


@renderers.dispatch_for(ValidateConstraintOp)
def _render_validate(autogen_context: Any, op: ValidateConstraintOp) -> str:
    return (
        f"op.validate_constraint({_arguments(op.constraint_name, op.table_name, schema=op.schema)})"
    )


@renderers.dispatch_for(CreateUniqueConstraintConcurrentlyOp)
def _render_unique(autogen_context: Any, op: CreateUniqueConstraintConcurrentlyOp) -> str:
    arguments = _arguments(op.constraint_name, op.table_name, list(op.columns), schema=op.schema)
    return f"op.create_unique_constraint_concurrently({arguments})"


@renderers.dispatch_for(AddNotNullCheckOp)
def _render_add_check(autogen_context: Any, op: AddNotNullCheckOp) -> str:
    arguments = _arguments(op.constraint_name, op.table_name, op.column_name, schema=op.schema)
    return f"op.add_not_null_check({arguments})"


@renderers.dispatch_for(DropNotNullCheckOp)
def _render_drop_check(autogen_context: Any, op: DropNotNullCheckOp) -> str:
    arguments = _arguments(op.constraint_name, op.table_name, schema=op.schema)
    return f"op.drop_not_null_check({arguments})"
