"""The lock each migration operation takes, what it keeps waiting, and for how long: what
`makemigrations --lint`, `check` and `migrate --plan` mark. Pure: operations in, `Lock` out.

PostgreSQL (measured on PostgreSQL 15 with pg_locks, rewrites by relfilenode; the levels are
those of https://www.postgresql.org/docs/current/explicit-locking.html and the notes of
sql-altertable.html): a lock that conflicts with reads (ACCESS EXCLUSIVE) or with writes
(SHARE, SHARE ROW EXCLUSIVE) is harmless when brief, and an outage when held while the table
is scanned, rewritten or indexed. `lock_timeout` (migrate) bounds the wait of a brief one, so
only the long ones are *blocking*.

MySQL/MariaDB (InnoDB online DDL, from the MariaDB and MySQL manuals, not measured here):
a brief metadata lock, or the ALGORITHM the server picks: INSTANT/INPLACE let reads and
writes go on, COPY blocks writes while it copies the table.

SQLite: n/a. A migration write-locks the whole database file, but it is embedded: there is
no server traffic to keep waiting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from alembic.operations import ops
from sqlalchemy.schema import Computed, DefaultClause, Identity

from project.engine import online

POSTGRESQL = "postgresql"
MYSQL = ("mysql", "mariadb")
SQLITE = "sqlite"
NOT_APPLICABLE = "n/a"

# What a lock keeps waiting.
READS_AND_WRITES = "reads and writes"
WRITES = "writes"
NOTHING = "neither reads nor writes"
# How long it is held: for a moment, or for as long as the work on every row takes.
BRIEF = "brief"
SCAN = "scans the table"
REWRITE = "rewrites the table"
BUILD = "builds the index"
UPDATE = "updates the rows"

# PostgreSQL's table lock modes, and what they keep waiting (explicit-locking.html, table 13.2).
_PG_BLOCKS = {
    "ACCESS SHARE": NOTHING,
    "ROW SHARE": NOTHING,
    "ROW EXCLUSIVE": NOTHING,
    "SHARE UPDATE EXCLUSIVE": NOTHING,
    "SHARE": WRITES,
    "SHARE ROW EXCLUSIVE": WRITES,
    "EXCLUSIVE": WRITES,
    "ACCESS EXCLUSIVE": READS_AND_WRITES,
}
_STRENGTH = list(_PG_BLOCKS)


@dataclass(frozen=True)
class Lock:
    """The lock one operation takes. `level` "" means nothing worth showing: a table created
    (or dropped) by the same migration, which no running code uses, or code (SQL, Python)
    the lint cannot see into."""

    level: str
    tables: tuple[str, ...] = ()
    blocks: str = NOTHING
    work: str = BRIEF
    # A lock taken earlier in the same transaction and held through this long step.
    held: str | None = None
    hint: str = ""  # the lock-safe way, when there is one

    @property
    def shown(self) -> bool:
        return bool(self.level)

    @property
    def applies(self) -> bool:
        """False on SQLite, which has no server traffic to keep waiting."""
        return self.level != NOT_APPLICABLE

    @property
    def rewrites(self) -> bool:
        return self.work == REWRITE

    @property
    def blocking(self) -> bool:
        """Keeps reads or writes waiting for longer than a moment."""
        long = self.work != BRIEF and self.blocks != NOTHING
        return self.shown and (long or self.held is not None)

    def __str__(self) -> str:
        if self.level == NOT_APPLICABLE:
            return "n/a (SQLite is embedded: no server traffic to keep waiting)"
        on = f" on {' and '.join(self.tables)}" if self.tables else ""
        if self.work == BRIEF:
            text = f"{self.level}{on}, brief: blocks {self.blocks} for a moment"
            if self.blocks == NOTHING:
                text = f"{self.level}{on}, brief: blocks {self.blocks}"
        else:
            text = f"{self.level}{on}: blocks {self.blocks} while it {self.work}"
        if self.held:
            text += f"; holds {self.held} (taken earlier in its transaction) meanwhile"
        return text + (f" ({self.hint})" if self.hint and self.blocking else "")


NO_LOCK = Lock("")


def operation_locks(
    operations: Iterable[ops.MigrateOperation], dialect: str, atomic: bool = True
) -> list[Lock]:
    """One `Lock` per operation of one migration (containers flattened, in order).

    A table the migration creates is new: nothing blocks anyone. In an `atomic` migration
    (one transaction) a lock is held until the migration commits, so a brief ACCESS
    EXCLUSIVE before a long step is held through it; the concurrent operations commit what
    came before them (Alembic's autocommit block), which lets go of it."""
    flat = list(_flatten(operations))
    created = {str(op.table_name) for op in flat if isinstance(op, ops.CreateTableOp)}
    locks = []
    checks: dict[str, tuple[str, str]] = {}  # not-null check name -> (table, column)
    validated: set[tuple[str, str]] = set()  # (table, constraint)
    held: dict[str, str] = {}  # table -> strongest PostgreSQL mode held since the last commit
    for op in flat:
        if isinstance(op, online.AddNotNullCheckOp):
            checks[op.constraint_name] = (op.table_name, op.column_name)
        if isinstance(op, online.ValidateConstraintOp):
            validated.add((op.table_name, op.constraint_name))
        proven = _not_null_proven(op, checks, validated)
        lock = lock_of(op, dialect, created, proven)
        if dialect == POSTGRESQL and atomic and lock.shown:
            lock = _with_held(lock, held, commits=_commits_first(op))
            if isinstance(op, online.CreateUniqueConstraintConcurrentlyOp):
                held[op.table_name] = "ACCESS EXCLUSIVE"  # attached in the next transaction
        locks.append(lock)
    return locks


def lock_of(
    op: ops.MigrateOperation,
    dialect: str,
    new_tables: Iterable[str] = (),
    not_null_proven: Iterable[tuple[str, str]] = (),
) -> Lock:
    """The lock `op` takes on `dialect`, on its own (see `operation_locks` for a migration)."""
    table = _table(op)
    if isinstance(op, (ops.CreateTableOp, ops.DropTableOp)) or table in set(new_tables):
        return NO_LOCK
    if dialect == POSTGRESQL:
        return _postgresql(op, table, set(not_null_proven))
    if dialect in MYSQL:
        return _mysql(op, table)
    if dialect == SQLITE and table is not None and _postgresql(op, table, set()).shown:
        return Lock(NOT_APPLICABLE)
    return NO_LOCK


def _postgresql(op: ops.MigrateOperation, table: str | None, proven: set[tuple[str, str]]) -> Lock:
    tables = (table,) if table else ()

    def lock(level: str, work: str = BRIEF, hint: str = "", on: tuple[str, ...] = tables) -> Lock:
        return Lock(level, on, _PG_BLOCKS[level], work, None, hint)

    if isinstance(op, online.CreateIndexConcurrentlyOp):
        return lock("SHARE UPDATE EXCLUSIVE", BUILD)
    if isinstance(op, online.DropIndexConcurrentlyOp):
        return lock("SHARE UPDATE EXCLUSIVE")
    if isinstance(op, online.ValidateConstraintOp):
        return lock("SHARE UPDATE EXCLUSIVE", SCAN)
    if isinstance(op, online.CreateUniqueConstraintConcurrentlyOp):
        return lock("SHARE UPDATE EXCLUSIVE", BUILD)  # then a brief ACCESS EXCLUSIVE to attach
    if isinstance(op, (online.AddNotNullCheckOp, online.DropNotNullCheckOp)):
        return lock("ACCESS EXCLUSIVE")
    if isinstance(op, ops.CreateIndexOp):
        if op.kw.get("postgresql_concurrently"):
            return lock("SHARE UPDATE EXCLUSIVE", BUILD)
        return lock("SHARE", BUILD, "lock-safe: op.create_index_concurrently")
    if isinstance(op, ops.DropIndexOp):
        concurrently = op.kw.get("postgresql_concurrently")
        return lock("SHARE UPDATE EXCLUSIVE" if concurrently else "ACCESS EXCLUSIVE")
    if isinstance(op, ops.CreateForeignKeyOp):
        both = (str(op.source_table), str(op.referent_table))
        if op.kw.get("postgresql_not_valid"):
            return lock("SHARE ROW EXCLUSIVE", on=both)
        hint = "lock-safe: postgresql_not_valid=True, then op.validate_constraint"
        return lock("SHARE ROW EXCLUSIVE", SCAN, hint, on=both)
    if isinstance(op, ops.CreateCheckConstraintOp):
        if op.kw.get("postgresql_not_valid"):
            return lock("ACCESS EXCLUSIVE")
        hint = "lock-safe: postgresql_not_valid=True, then op.validate_constraint"
        return lock("ACCESS EXCLUSIVE", SCAN, hint)
    if isinstance(op, ops.CreateUniqueConstraintOp):
        return lock(
            "ACCESS EXCLUSIVE", BUILD, "lock-safe: op.create_unique_constraint_concurrently"
        )
    if isinstance(op, ops.CreatePrimaryKeyOp):
        return lock("ACCESS EXCLUSIVE", BUILD)
    if isinstance(op, ops.AddColumnOp):
        if _column_rewrites(op.column):
            return lock(
                "ACCESS EXCLUSIVE",
                REWRITE,
                "lock-safe: add it without the default, set the default, backfill in batches",
            )
        return lock("ACCESS EXCLUSIVE")
    if isinstance(op, ops.AlterColumnOp):
        return _postgresql_alter(op, tables, proven)
    if isinstance(op, (ops.CreateTableCommentOp, ops.DropTableCommentOp)):
        return lock("SHARE UPDATE EXCLUSIVE")
    if isinstance(op, (ops.DropColumnOp, ops.DropConstraintOp, ops.RenameTableOp)):
        return lock("ACCESS EXCLUSIVE")
    if type(op).__name__ == "FillNullsOp":  # an UPDATE: row locks, until the migration commits
        return lock("ROW EXCLUSIVE", UPDATE)
    if type(op).__name__ == "AlterTableOptionsOp":
        return lock("ACCESS EXCLUSIVE")
    return NO_LOCK  # SQL, Python, sequences, enum types: not a lock the lint can name


def _postgresql_alter(
    op: ops.AlterColumnOp, tables: tuple[str, ...], proven: set[tuple[str, str]]
) -> Lock:
    level = "ACCESS EXCLUSIVE"
    if op.modify_type is not None and type_change_rewrites(op.existing_type, op.modify_type):
        return Lock(level, tables, READS_AND_WRITES, REWRITE)
    newly_not_null = op.modify_nullable is False and op.existing_nullable is not False
    if newly_not_null and (str(op.table_name), op.column_name) not in proven:
        hint = "lock-safe: op.add_not_null_check, then op.validate_constraint, before it"
        return Lock(level, tables, READS_AND_WRITES, SCAN, hint=hint)
    only_comment = (
        op.modify_comment is not False
        and op.modify_type is None
        and op.modify_nullable is None
        and op.modify_server_default is False
        and not op.modify_name
    )
    if only_comment:
        return Lock("SHARE UPDATE EXCLUSIVE", tables)
    return Lock(level, tables, READS_AND_WRITES)


def _mysql(op: ops.MigrateOperation, table: str | None) -> Lock:
    tables = (table,) if table else ()
    brief = Lock("metadata lock", tables, READS_AND_WRITES)
    online_build = Lock("metadata lock, LOCK=NONE", tables, NOTHING, BUILD)
    copy = Lock("ALGORITHM=COPY", tables, WRITES, REWRITE)
    if isinstance(op, (ops.CreateIndexOp, online.CreateUniqueConstraintConcurrentlyOp)):
        return online_build
    if isinstance(op, ops.CreateUniqueConstraintOp):
        return online_build
    if isinstance(op, (ops.CreateForeignKeyOp, ops.CreateCheckConstraintOp)):
        return replace(copy, tables=_fk_tables(op) or tables)  # FK checks on: COPY
    if isinstance(op, ops.CreatePrimaryKeyOp):
        return Lock("metadata lock, LOCK=NONE", tables, NOTHING, REWRITE)
    if isinstance(op, ops.AddColumnOp):
        return copy if _column_rewrites(op.column) else brief
    if isinstance(op, ops.AlterColumnOp):
        if op.modify_type is not None and type_change_rewrites(op.existing_type, op.modify_type):
            return copy
        if op.modify_nullable is False and op.existing_nullable is not False:
            return Lock("metadata lock, LOCK=NONE", tables, NOTHING, REWRITE)
        return brief
    if isinstance(op, (online.ValidateConstraintOp, online.AddNotNullCheckOp)):
        return NO_LOCK  # nothing runs outside PostgreSQL
    if isinstance(op, online.DropNotNullCheckOp):
        return NO_LOCK
    if isinstance(
        op,
        (
            ops.DropIndexOp,
            ops.DropColumnOp,
            ops.DropConstraintOp,
            ops.RenameTableOp,
            ops.CreateTableCommentOp,
            ops.DropTableCommentOp,
        ),
    ):
        return brief
    return NO_LOCK


def _fk_tables(op: ops.MigrateOperation) -> tuple[str, ...]:
    if isinstance(op, ops.CreateForeignKeyOp):
        return (str(op.source_table), str(op.referent_table))
    return ()


def _with_held(lock: Lock, held: dict[str, str], commits: bool) -> Lock:
    """Note the stronger locks held through a long step, then add this step's own."""
    if commits:
        held.clear()
    stronger = {
        table: level
        for table, level in held.items()
        if _PG_BLOCKS[level] != NOTHING
        and (table not in lock.tables or _STRENGTH.index(level) > _STRENGTH.index(lock.level))
    }
    if lock.work != BRIEF and stronger:
        lock = replace(
            lock, held=", ".join(f"{level} on {table}" for table, level in sorted(stronger.items()))
        )
    if lock.level in _PG_BLOCKS and not commits:  # a concurrent step's lock ends with it
        for table in lock.tables:
            if _STRENGTH.index(lock.level) > _STRENGTH.index(held.get(table, "ACCESS SHARE")):
                held[table] = lock.level
    return lock


def _commits_first(op: ops.MigrateOperation) -> bool:
    """Runs in Alembic's autocommit block (project.engine.online), committing what came before."""
    concurrent = (
        online.CreateIndexConcurrentlyOp,
        online.DropIndexConcurrentlyOp,
        online.ValidateConstraintOp,
        online.CreateUniqueConstraintConcurrentlyOp,
    )
    return isinstance(op, concurrent)


def _not_null_proven(
    op: ops.MigrateOperation, checks: dict[str, tuple[str, str]], validated: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    """{(table, column)} when `op` sets NOT NULL on a column whose `CHECK (column IS NOT NULL)`
    was validated before it in the migration: one added in the same migration, or one named
    as online.not_null_check_name names it (added by the migration before, as makemigrations
    writes them)."""
    if not isinstance(op, ops.AlterColumnOp):
        return set()
    key = (str(op.table_name), op.column_name)
    names = {name for name, column in checks.items() if column == key}
    names.add(online.not_null_check_name(*key))
    return {key} if any((key[0], name) in validated for name in names) else set()


def _table(op: ops.MigrateOperation) -> str | None:
    if isinstance(op, ops.CreateForeignKeyOp):
        return str(op.source_table)
    name = getattr(op, "table_name", None)
    return str(name) if name is not None else None


def _flatten(operations: Iterable[ops.MigrateOperation]) -> Iterator[ops.MigrateOperation]:
    for op in operations:
        if isinstance(op, ops.OpContainer):
            yield from _flatten(op.ops)
        else:
            yield op


# Rewrites


def rewrites_table(op: ops.MigrateOperation) -> bool:
    """Whether `op` copies every row of its table (PostgreSQL's rules; MySQL's COPY agrees on
    these): a column added with a volatile default or generated, or a type change that is not
    binary-coercible."""
    if isinstance(op, ops.AddColumnOp):
        return _column_rewrites(op.column)
    if isinstance(op, ops.AlterColumnOp) and op.modify_type is not None:
        return type_change_rewrites(op.existing_type, op.modify_type)
    return False


# Functions PostgreSQL marks VOLATILE (pg_proc.provolatile = 'v') that appear as defaults.
VOLATILE_FUNCTIONS = frozenset(
    {
        "gen_random_uuid",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "uuidv4",
        "uuidv7",
        "random",
        "random_normal",
        "gen_random_bytes",
        "clock_timestamp",
        "timeofday",
        "nextval",
    }
)
# STABLE or IMMUTABLE ones: evaluated once for the ALTER, so no rewrite. A function on neither
# list is taken as volatile, as strong_migrations does (a false alarm costs a review; a
# missed rewrite, an outage).
STABLE_FUNCTIONS = frozenset(
    {
        "now",
        "statement_timestamp",
        "transaction_timestamp",
        "current_timestamp",
        "current_date",
        "current_time",
        "localtimestamp",
        "localtime",
        "current_user",
        "session_user",
        "cast",
        "lower",
        "upper",
        "coalesce",
        "concat",
        "timezone",
        "date_trunc",
        "make_interval",
        "to_jsonb",
        "jsonb_build_object",
        "json_build_object",
        "jsonb_build_array",
        "json_build_array",
        "array",
    }
)
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\s*\(")
_QUOTED = re.compile(r"'(?:[^']|'')*'")


def _column_rewrites(column: Any) -> bool:
    if getattr(column, "identity", None) is not None or isinstance(
        getattr(column, "server_default", None), (Computed, Identity)
    ):
        return True  # every row gets its value (a generated column is STORED on PostgreSQL)
    return volatile_default(getattr(column, "server_default", None))


def volatile_default(default: Any) -> bool:
    """A server default PostgreSQL evaluates per row (so ADD COLUMN fills every row anew)."""
    if isinstance(default, DefaultClause):
        default = default.arg
    if default is None or isinstance(default, (str, int, float, bool)):
        return False  # a literal
    name = getattr(default, "name", None)  # sa.func.gen_random_uuid()
    text = getattr(default, "text", None)  # sa.text("gen_random_uuid()")
    sql = f"{name}()" if isinstance(name, str) and text is None else text
    if not isinstance(sql, str):
        sql = str(default)
    calls = {m.rsplit(".", 1)[-1].lower() for m in _CALL.findall(_QUOTED.sub("''", sql))}
    return any(call in VOLATILE_FUNCTIONS or call not in STABLE_FUNCTIONS for call in calls)


def type_change_rewrites(old: Any, new: Any) -> bool:
    """Whether ALTER COLUMN TYPE from `old` to `new` copies the table: unless the old type is
    binary-coercible to the new one (the whitelist of django-pg-zero-downtime-migrations:
    the same type, varchar(n) to varchar(m >= n) or text, numeric(p, s) to numeric(q >= p, s)).
    An unknown old type is taken to rewrite."""
    from sqlalchemy import CHAR, BigInteger, Enum, Integer, Numeric, SmallInteger, String, Text
    from sqlalchemy.types import NullType

    if old is None or isinstance(old, NullType):
        return True
    if isinstance(old, Enum) or isinstance(new, Enum):
        return repr(old) != repr(new)
    if isinstance(old, String) and isinstance(new, String):
        if isinstance(old, CHAR) or isinstance(new, CHAR):
            return repr(old) != repr(new)
        if isinstance(new, Text) or new.length is None:
            return False
        return isinstance(old, Text) or old.length is None or new.length < old.length
    if isinstance(old, Integer) and isinstance(new, Integer):

        def rank(type_: Any) -> int:
            return (
                3 if isinstance(type_, BigInteger) else 1 if isinstance(type_, SmallInteger) else 2
            )

        return rank(old) != rank(new)
    if isinstance(old, Numeric) and isinstance(new, Numeric) and type(old) is type(new):
        if old.scale != new.scale:
            return True
        if old.precision is None or new.precision is None:
            return old.precision != new.precision
        return bool(new.precision < old.precision)
    return type(old) is not type(new) or repr(old) != repr(new)


# Code that is running already


def breaks_running_code(op: ops.MigrateOperation) -> str | None:
    """What a change takes away from the release running now (which still reads it), with
    the expand/contract way to do it; None for a change it does not notice."""
    table = _table(op)
    if isinstance(op, ops.DropColumnOp):
        return (
            f"drops column {op.column_name} of {table}, which the release running now may still "
            "read or write. Expand/contract: first ship a release that no longer uses it "
            "(nor its model's attribute), then drop it."
        )
    if isinstance(op, ops.DropTableOp):
        return (
            f"drops table {table}, which the release running now may still use. First ship a "
            "release without its model, then drop it."
        )
    if isinstance(op, ops.RenameTableOp):
        return (
            f"renames table {table} to {op.new_table_name}: the release running now still uses "
            f"{table}. Expand/contract: create {op.new_table_name}, write both, backfill, "
            f"switch reads, then drop {table} in a later release."
        )
    if isinstance(op, ops.AlterColumnOp) and op.modify_name:
        return (
            f"renames column {op.column_name} of {table} to {op.modify_name}: the release running "
            f"now still uses {op.column_name}. Expand/contract: add {op.modify_name}, write both, "
            f"backfill it, switch reads to it, then drop {op.column_name} in a later release."
        )
    return None


def atomic_of(operations: Sequence[ops.MigrateOperation]) -> bool:
    """For a migration not written yet: makemigrations marks `atomic = False` the one that
    holds the concurrent operations (project.engine.online)."""
    return not any(_commits_first(op) for op in _flatten(operations))
