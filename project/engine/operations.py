"""Operations Alembic lacks, registered through its public plugin API (`register_operation`,
`implementation_for`, `renderers.dispatch_for`): explicit sequences, and the PostgreSQL
schema a model's `schema="..."` needs.

A model's `Sequence("pets_pet_id_seq")` is created by `create_all`, but Alembic neither
writes it into a migration nor notices it is missing. Migrations then say
`op.create_sequence("pets_pet_id_seq")`; on a database without sequences (SQLite, MySQL)
the operation does nothing, as `create_all` does, so one history serves every database.
Registered on import, before any migration file runs (project.autogen.compare imports this).
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import renderers
from alembic.operations import MigrateOperation, Operations
from sqlalchemy.schema import CreateSchema, CreateSequence, DropSequence, Sequence

# The options a model's Sequence may set, as CREATE SEQUENCE takes them.
OPTIONS = ("start", "increment", "minvalue", "maxvalue", "cycle", "cache")


def sequence_options(sequence: Sequence) -> dict[str, Any]:
    """The options the model set (None ones are the database's defaults)."""
    return {key: value for key in OPTIONS if (value := getattr(sequence, key, None)) is not None}


class _SequenceOp(MigrateOperation):
    def __init__(
        self,
        sequence_name: str,
        schema: str | None = None,
        table_name: str | None = None,  # the table that uses it: its app owns the sequence
        **options: Any,
    ) -> None:
        self.sequence_name = sequence_name
        self.schema = schema
        self.table_name = table_name
        self.options = options

    def sequence(self) -> Sequence:
        return Sequence(self.sequence_name, schema=self.schema, **self.options)


@Operations.register_operation("create_sequence")
class CreateSequenceOp(_SequenceOp):
    @classmethod
    def create_sequence(
        cls, operations: Operations, sequence_name: str, schema: str | None = None, **options: Any
    ) -> None:
        """`op.create_sequence("name", start=1, ...)`: CREATE SEQUENCE, where sequences exist."""
        operations.invoke(cls(sequence_name, schema, **options))

    def reverse(self) -> DropSequenceOp:
        return DropSequenceOp(self.sequence_name, self.schema, self.table_name, **self.options)


@Operations.register_operation("drop_sequence")
class DropSequenceOp(_SequenceOp):
    @classmethod
    def drop_sequence(
        cls, operations: Operations, sequence_name: str, schema: str | None = None, **options: Any
    ) -> None:
        """`op.drop_sequence("name")`; the options say what a downgrade re-creates."""
        operations.invoke(cls(sequence_name, schema, **options))

    def reverse(self) -> CreateSequenceOp:
        return CreateSequenceOp(self.sequence_name, self.schema, self.table_name, **self.options)


@Operations.register_operation("alter_sequence")
class AlterSequenceOp(_SequenceOp):
    """Options changed; `existing` are the ones the database had, for the downgrade."""

    def __init__(
        self,
        sequence_name: str,
        schema: str | None = None,
        table_name: str | None = None,
        existing: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(sequence_name, schema, table_name, **options)
        self.existing = existing or {}

    @classmethod
    def alter_sequence(
        cls,
        operations: Operations,
        sequence_name: str,
        schema: str | None = None,
        existing: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        """`op.alter_sequence("name", increment=5, existing={"increment": 1})`."""
        operations.invoke(cls(sequence_name, schema, None, existing, **options))

    def reverse(self) -> AlterSequenceOp:
        return AlterSequenceOp(
            self.sequence_name, self.schema, self.table_name, dict(self.options), **self.existing
        )


def _has_sequences(operations: Operations) -> bool:
    return bool(operations.migration_context.dialect.supports_sequences)


@Operations.implementation_for(CreateSequenceOp)
def _create_sequence(operations: Operations, op: CreateSequenceOp) -> None:
    if _has_sequences(operations):
        operations.execute(CreateSequence(op.sequence()))


@Operations.implementation_for(DropSequenceOp)
def _drop_sequence(operations: Operations, op: DropSequenceOp) -> None:
    if _has_sequences(operations):
        operations.execute(DropSequence(op.sequence()))


@Operations.implementation_for(AlterSequenceOp)
def _alter_sequence(operations: Operations, op: AlterSequenceOp) -> None:
    if not _has_sequences(operations):
        return
    dialect = operations.migration_context.dialect
    sequence = op.sequence()
    name = dialect.identifier_preparer.format_sequence(sequence)
    changes = dialect.ddl_compiler(dialect, CreateSequence(sequence)).get_identity_options(sequence)
    if changes:
        operations.execute(f"ALTER SEQUENCE {name} {changes}")


def _arguments(op: _SequenceOp, **extra: Any) -> str:
    parts = [repr(op.sequence_name)]
    if op.schema:
        parts.append(f"schema={op.schema!r}")
    parts += [f"{key}={value!r}" for key, value in {**op.options, **extra}.items()]
    return ", ".join(parts)


@renderers.dispatch_for(CreateSequenceOp)
def _render_create(autogen_context: Any, op: CreateSequenceOp) -> str:
    return f"op.create_sequence({_arguments(op)})"


@renderers.dispatch_for(DropSequenceOp)
def _render_drop(autogen_context: Any, op: DropSequenceOp) -> str:
    return f"op.drop_sequence({_arguments(op)})"


@renderers.dispatch_for(AlterSequenceOp)
def _render_alter(autogen_context: Any, op: AlterSequenceOp) -> str:
    existing = {"existing": op.existing} if op.existing else {}
    return f"op.alter_sequence({_arguments(op, **existing)})"


def render_sequence(sequence: Sequence, prefix: str = "sa.") -> str:
    """`sa.Sequence("name", start=10)`, as a column's argument."""
    parts = [repr(sequence.name)]
    if sequence.schema:
        parts.append(f"schema={sequence.schema!r}")
    if sequence.optional:
        parts.append("optional=True")
    parts += [f"{key}={value!r}" for key, value in sequence_options(sequence).items()]
    return f"{prefix}Sequence({', '.join(parts)})"


@Operations.register_operation("create_schema")
class CreateSchemaOp(MigrateOperation):
    """`op.create_schema("archive")`: CREATE SCHEMA IF NOT EXISTS, before the first table of
    an app in it. Downgrades leave it: other apps' tables, or other programs', may be there."""

    def __init__(self, schema_name: str, table_name: str | None = None) -> None:
        self.schema_name = schema_name
        self.table_name = table_name  # the table that needs it: its app creates the schema

    @classmethod
    def create_schema(cls, operations: Operations, schema_name: str) -> None:
        operations.invoke(cls(schema_name))

    def reverse(self) -> CreateSchemaOp:
        """Nothing to undo (see above); project.autogen.per_app.reverse_operations leaves it out."""
        return self


@Operations.implementation_for(CreateSchemaOp)
def _create_schema(operations: Operations, op: CreateSchemaOp) -> None:
    operations.execute(CreateSchema(op.schema_name, if_not_exists=True))


@renderers.dispatch_for(CreateSchemaOp)
def _render_create_schema(autogen_context: Any, op: CreateSchemaOp) -> str:
    return f"op.create_schema({op.schema_name!r})"


@Operations.register_operation("alter_table_options")
class AlterTableOptionsOp(MigrateOperation):
    """`op.alter_table_options("t", mysql_charset="latin1", existing={...})`: a MySQL/MariaDB
    table's engine, character set or collation. The columns are converted too (CONVERT TO
    CHARACTER SET), as create_all() would have made them, MariaDB's JSON columns included,
    where create_all() would keep them utf8mb4_bin. Nothing on other databases."""

    def __init__(
        self,
        table_name: str,
        schema: str | None = None,
        existing: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        self.table_name = table_name
        self.schema = schema
        self.existing = existing or {}
        self.options = options

    @classmethod
    def alter_table_options(
        cls,
        operations: Operations,
        table_name: str,
        schema: str | None = None,
        existing: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        operations.invoke(cls(table_name, schema, existing, **options))

    def reverse(self) -> AlterTableOptionsOp:
        return AlterTableOptionsOp(
            self.table_name, self.schema, dict(self.options), **self.existing
        )


@Operations.implementation_for(AlterTableOptionsOp)
def _alter_table_options(operations: Operations, op: AlterTableOptionsOp) -> None:
    dialect = operations.migration_context.dialect
    if dialect.name not in ("mysql", "mariadb"):
        return
    preparer = dialect.identifier_preparer
    table = preparer.quote(op.table_name)
    if op.schema:
        table = f"{preparer.quote_schema(op.schema)}.{table}"
    if engine := op.options.get("mysql_engine"):
        operations.execute(f"ALTER TABLE {table} ENGINE={engine}")
    collate = op.options.get("mysql_collate")
    charset = op.options.get("mysql_charset") or (collate.split("_")[0] if collate else None)
    if charset:
        clause = f" COLLATE {collate}" if collate else ""
        operations.execute(f"ALTER TABLE {table} CONVERT TO CHARACTER SET {charset}{clause}")


@renderers.dispatch_for(AlterTableOptionsOp)
def _render_alter_table_options(autogen_context: Any, op: AlterTableOptionsOp) -> str:
    parts = [repr(op.table_name)]
    if op.schema:
        parts.append(f"schema={op.schema!r}")
    parts += [f"{key}={value!r}" for key, value in op.options.items()]
    if op.existing:
        parts.append(f"existing={op.existing!r}")
    return f"op.alter_table_options({', '.join(parts)})"


class FillNullsOp(MigrateOperation):
    """UPDATE table SET column = value WHERE column IS NULL, before making it NOT NULL."""

    def __init__(self, table_name: str, column_name: str, value: Any) -> None:
        self.table_name, self.column_name, self.value = table_name, column_name, value


def load_dialect_plugins(dialect: str) -> None:
    """Register what a dialect needs beyond Alembic, before comparing or migrating.

    Every dialect: our operations (project.engine.operations: `op.create_sequence` and its
    kin), which migration files may call, registered as this module is imported. Each
    database's own (alembic-postgresql-enum on PostgreSQL): its backend's load_plugins.
    """
    from project.backends import backend_for

    backend_for(dialect).load_plugins()


from project.engine import online  # noqa: F401 - registers the lock-safe operations
