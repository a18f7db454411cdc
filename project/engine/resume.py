"""Resuming a MySQL/MariaDB migration that stopped partway (a kill, a crash, a failure).

There DDL commits as it runs, so a migration can stop with some of its operations applied.
The runner records each operation as it completes (project.engine.recorder's progress table); the
next run replays the migration's `upgrade()` with the operations recorded as done skipped,
checks the one that was in flight against the live schema, and carries on after it.

Operations are counted where Alembic runs them: `Operations.invoke`, which every `op.*`
call goes through. Alembic has no per-operation hook (`on_version_apply` is per migration,
and a cursor event sees statements, not operations), so `tracking_operations` wraps
`Operations.invoke` for the run and restores it after: the one Alembic internal used here.
SQL a migration runs outside an operation (`op.get_bind().execute`, a data migration's
session, a batch block's statements) gets a step of its own, recorded just before the next
operation runs: MySQL commits that row with the SQL itself (the implicit commit before the
next DDL, or the next operation's row). A run that finds such a step done cannot skip the
SQL on a replay, so it refuses; one that finds it not done runs it (what ran of it before was
rolled back), unless it commits by itself (then whether it ran is unknown: refused).

An operation that fails with nothing of it committed gets a "failed" row at its position
(MySQL DDL is atomic per statement), so the next run runs it again instead of checking it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from project.errors import ProjectError

if TYPE_CHECKING:
    from alembic.operations import Operations
    from alembic.operations.ops import MigrateOperation
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import Connection

    from project.engine.history import Migration
    from project.engine.recorder import Progress

SHOWN = 80  # characters of an operation's SQL in a description
# First words of the statements after which MySQL/MariaDB have committed (implicitly, before
# and after running them): DDL and a few administrative statements.
COMMITTING = {
    "ALTER", "ANALYZE", "BEGIN", "COMMIT", "CREATE", "DROP", "FLUSH", "GRANT", "INSTALL",
    "LOCK", "OPTIMIZE", "RENAME", "REPAIR", "REVOKE", "TRUNCATE", "UNINSTALL", "UNLOCK",
}  # fmt: skip
DML = {"INSERT", "UPDATE", "DELETE", "REPLACE", "SELECT", "WITH"}
DATA = "dml"  # the check of an operation that only changes rows (transactional)
FAILED = "failed"  # the check of a row that says the operation at its position did not complete
OUTSIDE = "SQL outside operations"  # the description of such a step


class ResumeRefused(ProjectError):
    pass


@dataclass(frozen=True)
class Resume:
    """Where a partly applied migration carries on."""

    done: int  # operations recorded as completed (the first `done` are skipped)
    descriptions: tuple[str, ...]  # of those
    afresh: bool = False  # everything it recorded was undone by hand: it runs from the start
    failed: bool = False  # the operation after them failed and did not apply: it runs again


def commits(statement: str) -> bool:
    """Whether MySQL/MariaDB commit around this statement (everything before it stays)."""
    words = statement.lstrip().split(None, 2)
    if not words:
        return False
    first = words[0].upper()
    if first == "CREATE" and len(words) > 1 and words[1].upper() == "TEMPORARY":
        return False
    return first in COMMITTING


def describe(operation: MigrateOperation) -> str:
    """A short name of the operation, for messages: `create table pets_toy`."""
    from alembic.operations import ops

    if isinstance(operation, ops.CreateTableOp):
        return f"create table {operation.table_name}"
    if isinstance(operation, ops.DropTableOp):
        return f"drop table {operation.table_name}"
    if isinstance(operation, ops.AddColumnOp):
        return f"add column {operation.table_name}.{operation.column.name}"
    if isinstance(operation, ops.DropColumnOp):
        return f"drop column {operation.table_name}.{operation.column_name}"
    if isinstance(operation, ops.CreateIndexOp):
        return f"create index {operation.index_name} on {operation.table_name}"
    if isinstance(operation, ops.DropIndexOp):
        return f"drop index {operation.index_name}"
    if isinstance(operation, ops.ExecuteSQLOp):
        text = " ".join(str(operation.sqltext).split())
        return f"execute {text if len(text) <= SHOWN else text[: SHOWN - 1] + '…'}"
    if isinstance(operation, ops.BulkInsertOp):
        return f"bulk insert into {operation.table.name}"
    name = type(operation).__name__.removesuffix("Op")
    table = getattr(operation, "table_name", None)
    return "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip() + (
        f" on {table}" if table else ""
    )


def check_of(operation: MigrateOperation, context: MigrationContext, created: Any = None) -> str:
    """How the live schema shows the operation done: `table:t`, `column:t.c`, `index:t.i`,
    `no-table:t`… joined by `;` (all must hold); DATA for row changes; "" when it cannot.
    `created`: the Table a create_table just made. Building one more from the operation
    (`to_table`) before it runs would re-attach its columns' type constraints (a Boolean's
    check) and change the order MySQL numbers unnamed constraints in (CONSTRAINT_1 …)."""
    from alembic.operations import ops

    if isinstance(operation, ops.CreateTableOp):
        table = created if created is not None else operation.to_table(context)
        return ";".join(
            [f"table:{table.name}"]
            + sorted(f"index:{table.name}.{index.name}" for index in table.indexes if index.name)
        )
    if isinstance(operation, ops.DropTableOp):
        return f"no-table:{operation.table_name}"
    if isinstance(operation, ops.AddColumnOp):
        return f"column:{operation.table_name}.{operation.column.name}"
    if isinstance(operation, ops.DropColumnOp):
        return f"no-column:{operation.table_name}.{operation.column_name}"
    if isinstance(operation, ops.CreateIndexOp) and operation.index_name:
        return f"index:{operation.table_name}.{operation.index_name}"
    if isinstance(operation, ops.DropIndexOp) and operation.table_name:
        return f"no-index:{operation.table_name}.{operation.index_name}"
    if isinstance(operation, ops.BulkInsertOp):
        return DATA
    if isinstance(operation, ops.ExecuteSQLOp):
        words = str(operation.sqltext).split(None, 1)
        return DATA if words and words[0].upper() in DML else ""
    return ""


def live_state(connection: Connection, check: str) -> bool | None:
    """True: the live schema shows the check's effect; False: it shows none of it; None:
    it cannot say (row changes, an operation without a check, or only part of it there)."""
    import sqlalchemy as sa

    if not check or check == DATA:
        return None
    inspector = sa.inspect(connection)
    tables = set(inspector.get_table_names())
    found = []
    for part in check.split(";"):
        kind, _, name = part.partition(":")
        absent = kind.startswith("no-")
        kind = kind.removeprefix("no-")
        table, _, item = name.partition(".")
        if kind == "table":
            present = table in tables
        elif kind == "column":
            present = table in tables and item in {c["name"] for c in inspector.get_columns(table)}
        elif kind == "index":
            present = table in tables and item in {i["name"] for i in inspector.get_indexes(table)}
        else:
            return None
        found.append(present != absent)
    return True if all(found) else False if not any(found) else None


def plan_resume(
    connection: Connection, migration: Migration, rows: list[Progress], checksum: str
) -> Resume:
    """What the progress rows of a migration mean now: where to carry on, or a refusal.

    The committed rows are trusted: later operations may undo what earlier ones show (a table
    created, filled, then renamed over the old one), so the live schema is read only to spot
    everything undone by hand, and only where that reading is unambiguous."""
    from project.engine.recorder import STARTED

    done = [row for row in rows if row.position != STARTED and row.check != FAILED]
    failed = [row for row in rows if row.position != STARTED and row.check == FAILED]
    descriptions = tuple(row.description for row in done)
    positions = [row.position for row in done] + [row.position for row in failed]
    if positions != list(range(len(done) + len(failed))) or len(failed) > 1:
        raise ResumeRefused(
            f"The progress recorded for {migration.key} in manage_migration_progress has gaps; "
            "it was edited by hand. Finish the migration by hand and record it with "
            f"'migrate --fake {migration.app_label} {migration.name}'."
        )
    if done and _undone_by_hand(connection, done):
        return Resume(0, descriptions, afresh=True)  # undone by hand: run it again
    if rows[0].checksum != checksum and done:
        raise ResumeRefused(
            f"An earlier migrate stopped partway through {migration.key}, after "
            f"{_listed(descriptions)}, and its file has changed since (its checksum differs), "
            "so where to carry on is unknown. Restore the file as it was and run migrate again "
            "to carry on; or undo those operations by hand (migrate then runs it from the "
            "start); or complete it by hand as the file now says and record it with "
            f"'migrate --fake {migration.app_label} {migration.name}'."
        )
    outside = [row.position + 1 for row in done if row.description == OUTSIDE]
    if outside:
        raise ResumeRefused(
            f"Cannot carry on with {migration.key} where an earlier run stopped (after "
            f"{_listed(descriptions)}): step {outside[0]} is SQL it runs outside Alembic "
            "operations, which committed and cannot be skipped on a replay. Complete the "
            "migration by hand (what of it is not done yet) and record it with "
            f"'migrate --fake {migration.app_label} {migration.name}'; or undo by hand what it "
            "did and delete its rows from manage_migration_progress, then migrate again."
        )
    return Resume(len(done), descriptions, failed=bool(failed))


def _undone_by_hand(connection: Connection, done: list[Progress]) -> bool:
    """Whether the live schema shows none of the operations done, unambiguously: each has a
    schema check, none reads as there, and no two touch the same table (else a later one
    may be what hides an earlier one)."""
    if any(not row.check or row.check == DATA for row in done):
        return False
    tables = [_tables(row.check) for row in done]
    if sum(map(len, tables)) != len(set().union(*tables)):
        return False
    states = [live_state(connection, row.check) for row in done]
    connection.commit()
    return all(state is False for state in states)


def _tables(check: str) -> set[str]:
    return {part.partition(":")[2].partition(".")[0] for part in check.split(";")}


def in_flight_state(connection: Connection, check: str) -> bool | None:
    """Whether the operation in flight when a run stopped got done. Row changes never did:
    they commit only with the progress row that records them."""
    return False if check == DATA else live_state(connection, check)


def refuse_unknown(migration: Migration, position: int, description: str, resume: Resume) -> None:
    raise ResumeRefused(
        f"An earlier migrate stopped inside operation {position + 1} of {migration.key} "
        f"({description}){', after ' + _listed(resume.descriptions) if resume.done else ''}; "
        "whether that operation completed cannot be read from the database. Complete the "
        "migration by hand (that operation, if it did not complete, and those after it) and "
        f"record it with 'migrate --fake {migration.app_label} {migration.name}'."
    )


def refuse_replay(migration: Migration, statement: str, resume: Resume, done: bool) -> None:
    """SQL outside operations where a replay reaches it: it ran and committed before
    (`done`), or it commits by itself and the earlier run stopped around it."""
    if done:
        why = "it ran and committed in the earlier run and cannot be skipped on a replay"
    else:
        why = "it commits by itself and the earlier run stopped around it, so whether it ran is unknown"
    raise ResumeRefused(
        f"Cannot carry on with {migration.key} where an earlier run stopped "
        f"({'after ' + _listed(resume.descriptions) if resume.done else 'before any operation'}): "
        f"it runs SQL outside Alembic operations (`{statement[:SHOWN]}`); {why}. Complete the "
        "migration by hand (what of it is not done yet) and record it with "
        f"'migrate --fake {migration.app_label} {migration.name}'; or undo by hand what it did "
        "and delete its rows from manage_migration_progress, then migrate again."
    )


def skipped_result(operation: MigrateOperation, context: MigrationContext) -> Any:
    """What Alembic returns for an operation not run again (create_table: its Table)."""
    from alembic.operations import ops

    if isinstance(operation, ops.CreateTableOp):
        return operation.to_table(context)
    return None


def _listed(descriptions: tuple[str, ...]) -> str:
    if not descriptions:
        return "none of its operations"
    numbered = "; ".join(f"{i}. {d}" for i, d in enumerate(descriptions, 1))
    return f"operation{'s' if len(descriptions) > 1 else ''} {numbered}"


Invoke = Callable[["Operations", "MigrateOperation", Callable[[], Any]], Any]


@contextmanager
def tracking_operations(on_invoke: Invoke) -> Iterator[None]:
    """Route every top-level `op.*` call through `on_invoke(operations, operation, run)`
    for the block. Batch operations (`batch_op.*`) are not routed: they run at the end of
    their block, outside any call."""
    from alembic.operations import Operations

    original = Operations.invoke
    own = "invoke" in Operations.__dict__
    depth = [0]

    def invoke(self: Operations, operation: MigrateOperation) -> Any:
        if depth[0]:
            return original(self, operation)
        depth[0] += 1
        try:
            return on_invoke(self, operation, lambda: original(self, operation))
        finally:
            depth[0] -= 1

    Operations.invoke = invoke  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        if own:
            Operations.invoke = original  # type: ignore[method-assign]
        else:
            del Operations.invoke
