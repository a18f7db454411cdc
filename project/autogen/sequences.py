"""Explicit sequences compared like tables: a model's `Sequence` the database lacks is
created, one whose options changed is altered, one no model has any more is dropped.

Only sequences a column uses (`mapped_column(Integer, Sequence("x_id_seq"), ...)`) are the
models'; `optional=True` ones are made only where nothing else autoincrements, so on none
of ours. On PostgreSQL the sequences SERIAL and identity columns make for themselves belong
to their column and are never compared here. SQLite and MySQL have no sequences: there the
history says which exist (the option HISTORY_OPTION), so that a migration made on SQLite
still creates the sequence where the history is applied to PostgreSQL; the operations do
nothing on such databases, as `create_all` does nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alembic.util import PriorityDispatchResult
from sqlalchemy import Connection, Table, text
from sqlalchemy.schema import Sequence

from project.engine.model_tables import column_sequence
from project.engine.operations import (
    OPTIONS,
    AlterSequenceOp,
    CreateSequenceOp,
    DropSequenceOp,
    sequence_options,
)

# configure() option: a function giving {sequence name: its options} for the sequences the
# history leaves created, asked only on databases without sequences (it reads migration
# files): so a team on SQLite still writes the alter_sequence PostgreSQL needs.
HISTORY_OPTION = "manage_history_sequences"


def model_sequences(tables: Iterable[Table]) -> dict[str, tuple[Sequence, Table]]:
    """{name: (sequence, the table using it)} for the sequences create_all makes."""
    found: dict[str, tuple[Sequence, Table]] = {}
    for table in tables:
        for column in table.columns:
            sequence = column_sequence(column)
            if sequence is not None and not sequence.optional:
                found.setdefault(_key(sequence.schema, sequence.name), (sequence, table))
    return found


def compare_sequences(
    autogen_context: Any, upgrade_ops: Any, schemas: Iterable[str | None]
) -> PriorityDispatchResult:
    """Alembic "schema" comparator."""
    if autogen_context.metadata is None:
        return PriorityDispatchResult.CONTINUE
    # Every model sequence counts, also in a schema the database lacks (it is created first).
    wanted = model_sequences(autogen_context.sorted_tables)
    schemas = set(schemas) | {sequence.schema for sequence, _ in wanted.values()}
    existing: dict[str, dict[str, Any]] = {}
    if autogen_context.dialect.supports_sequences:
        present = set(autogen_context.inspector.get_schema_names()) | {None}
        for schema in schemas & present:
            for name, options in reflect_sequences(autogen_context.connection, schema).items():
                existing[_key(schema, name)] = options
    else:  # nothing to ask: the history says which exist, and with what options
        existing.update(autogen_context.opts.get(HISTORY_OPTION, dict)())
    for key, (sequence, table) in sorted(wanted.items()):
        options = sequence_options(sequence)
        if key not in existing:
            upgrade_ops.ops.append(
                CreateSequenceOp(sequence.name, sequence.schema, table.name, **options)
            )
            continue
        changed = {k: v for k, v in options.items() if existing[key].get(k) != v}
        if changed:
            before = {k: existing[key].get(k) for k in changed}
            upgrade_ops.ops.append(
                AlterSequenceOp(sequence.name, sequence.schema, table.name, before, **changed)
            )
    for key in sorted(set(existing) - set(wanted)):
        schema, _, name = key.rpartition(".")
        sequence = Sequence(name, schema=schema or None)
        if autogen_context.run_object_filters(sequence, name, "sequence", True, None):
            upgrade_ops.ops.append(DropSequenceOp(name, schema or None, None, **existing[key]))
    return PriorityDispatchResult.CONTINUE


def reflect_sequences(connection: Connection, schema: str | None) -> dict[str, dict[str, Any]]:
    """{name: options} of the explicit sequences in a schema (None: the default one)."""
    if connection.dialect.name == "postgresql":
        return _postgresql(connection, schema)
    if connection.dialect.name in ("mysql", "mariadb") and connection.dialect.supports_sequences:
        return _mariadb(connection, schema)
    return {}


def _postgresql(connection: Connection, schema: str | None) -> dict[str, dict[str, Any]]:
    rows = connection.execute(
        text(
            "SELECT s.sequencename, s.start_value, s.increment_by, s.min_value, s.max_value, "
            "s.cycle, s.cache_size FROM pg_sequences s "
            "JOIN pg_namespace n ON n.nspname = s.schemaname "
            "JOIN pg_class c ON c.relname = s.sequencename AND c.relnamespace = n.oid "
            "WHERE s.schemaname = coalesce(:schema, current_schema()) AND NOT EXISTS ("
            "  SELECT 1 FROM pg_depend d WHERE d.objid = c.oid"
            "  AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))"
        ),
        {"schema": schema},
    )
    return {row[0]: dict(zip(OPTIONS, row[1:])) for row in rows}


def _mariadb(connection: Connection, schema: str | None) -> dict[str, dict[str, Any]]:
    names = connection.dialect.get_sequence_names(connection, schema=schema)
    found = {}
    preparer = connection.dialect.identifier_preparer
    for name in names:
        quoted = (
            preparer.quote(name)
            if not schema
            else f"{preparer.quote(schema)}.{preparer.quote(name)}"
        )
        row = connection.exec_driver_sql(
            "SELECT start_value, increment, minimum_value, maximum_value, cycle_option, "
            f"cache_size FROM {quoted}"
        ).one()
        options = dict(zip(OPTIONS, row))
        options["cycle"] = bool(options["cycle"])
        found[name] = options
    return found


def _key(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def compare_schemas(
    autogen_context: Any, upgrade_ops: Any, schemas: Iterable[str | None]
) -> PriorityDispatchResult:
    """Alembic "schema" comparator: a schema the models use and the database lacks is
    created, once for each table that will be created in it (each app says so itself, and
    CREATE SCHEMA IF NOT EXISTS makes the second one nothing)."""
    from project.engine.operations import CreateSchemaOp

    if autogen_context.metadata is None or autogen_context.dialect.name != "postgresql":
        return PriorityDispatchResult.CONTINUE
    present = set(autogen_context.inspector.get_schema_names())
    for table in autogen_context.sorted_tables:
        if table.schema and table.schema not in present:
            upgrade_ops.ops.insert(0, CreateSchemaOp(table.schema, table.name))
    return PriorityDispatchResult.CONTINUE
