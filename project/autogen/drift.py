"""The live database compared with the schema a migration history builds (replayed by
project.engine.scratch): `check --drift`, and adopting a database with `migrate --fake-initial`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from project.engine.recorder import TABLES as HISTORY_TABLES

if TYPE_CHECKING:
    from sqlalchemy import Connection, MetaData

    from project.autogen.describe import Change

BOOKKEEPING = {"alembic_version", *HISTORY_TABLES}  # the tables that record migrations


def all_sequences(connection: Connection) -> dict[str, dict[str, Any]]:
    from project.autogen.sequences import reflect_sequences

    return reflect_sequences(connection, None)


def reflect_schema(connection: Connection) -> MetaData:
    from sqlalchemy import MetaData

    metadata = MetaData()
    metadata.reflect(connection, only=lambda name, _: name not in BOOKKEEPING)
    return metadata


def schema_differences(
    live: Connection, expected: MetaData, sequences: dict[str, dict[str, Any]]
) -> list[Change]:
    """What `live` would need to become `expected` (bookkeeping tables aside). A reflected
    schema carries no column sequences: they are compared as reflected."""
    from alembic.autogenerate import produce_migrations
    from alembic.runtime.migration import MigrationContext

    from project.autogen.describe import describe_operations
    from project.engine.operations import AlterSequenceOp, CreateSequenceOp, DropSequenceOp

    context = MigrationContext.configure(live, opts=compare_options(live.dialect.name, expected))
    operations = list(produce_migrations(context, expected).upgrade_ops.ops)  # type: ignore[union-attr]
    there = all_sequences(live)
    operations += [CreateSequenceOp(n) for n in sorted(set(sequences) - set(there))]
    operations += [DropSequenceOp(n) for n in sorted(set(there) - set(sequences))]
    operations += [
        AlterSequenceOp(n) for n in sorted(set(there) & set(sequences)) if there[n] != sequences[n]
    ]
    return describe_operations(operations)


def compare_options(dialect: str, expected: MetaData) -> dict[str, Any]:
    """makemigrations' options (autogenerate_options), with the sequences compared apart
    and the reflected bookkeeping tables left out."""
    from project.autogen.compare import autogenerate_options

    def include(obj: Any, name: str | None, type_: str, *_: Any) -> bool:
        return type_ != "sequence" and not (type_ == "table" and name in BOOKKEEPING)

    return autogenerate_options(dialect, expected, include)
