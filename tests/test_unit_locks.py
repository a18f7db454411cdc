"""The lock table (project.autogen.locks): operations in, locks out, no database."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.operations import ops

from project.autogen.describe import describe_operations
from project.autogen.locks import (
    BRIEF,
    BUILD,
    NOTHING,
    READS_AND_WRITES,
    REWRITE,
    SCAN,
    UPDATE,
    WRITES,
    atomic_of,
    breaks_running_code,
    lock_of,
    operation_locks,
    rewrites_table,
    type_change_rewrites,
    volatile_default,
)
from project.engine import online
from project.engine.operations import FillNullsOp

T = "shop_order"


def _column(default: Any = None, **kw: Any) -> sa.Column[Any]:
    return sa.Column("c", sa.Integer(), server_default=default, **kw)


def _alter(**kw: Any) -> ops.AlterColumnOp:
    return ops.AlterColumnOp(T, "c", **kw)


CASES: list[tuple[str, ops.MigrateOperation, str, str, str]] = [
    # (case, operation, level, blocks, work) on PostgreSQL, table existing
    ("plain index", ops.CreateIndexOp("ix", T, ["c"]), "SHARE", WRITES, BUILD),
    ("unique index", ops.CreateIndexOp("ix", T, ["c"], unique=True), "SHARE", WRITES, BUILD),
    (
        "index, postgresql_concurrently",
        ops.CreateIndexOp("ix", T, ["c"], postgresql_concurrently=True),
        "SHARE UPDATE EXCLUSIVE",
        NOTHING,
        BUILD,
    ),
    (
        "create_index_concurrently",
        online.CreateIndexConcurrentlyOp("ix", T, ["c"]),
        "SHARE UPDATE EXCLUSIVE",
        NOTHING,
        BUILD,
    ),
    (
        "drop_index_concurrently",
        online.DropIndexConcurrentlyOp("ix", T),
        "SHARE UPDATE EXCLUSIVE",
        NOTHING,
        BRIEF,
    ),
    ("plain drop index", ops.DropIndexOp("ix", T), "ACCESS EXCLUSIVE", READS_AND_WRITES, BRIEF),
    (
        "validate_constraint",
        online.ValidateConstraintOp("fk", T),
        "SHARE UPDATE EXCLUSIVE",
        NOTHING,
        SCAN,
    ),
    (
        "foreign key",
        ops.CreateForeignKeyOp("fk", T, "shop_customer", ["customer_id"], ["id"]),
        "SHARE ROW EXCLUSIVE",
        WRITES,
        SCAN,
    ),
    (
        "foreign key NOT VALID",
        ops.CreateForeignKeyOp(
            "fk", T, "shop_customer", ["customer_id"], ["id"], postgresql_not_valid=True
        ),
        "SHARE ROW EXCLUSIVE",
        WRITES,
        BRIEF,
    ),
    (
        "check",
        ops.CreateCheckConstraintOp("ck", T, "c > 0"),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        SCAN,
    ),
    (
        "check NOT VALID",
        ops.CreateCheckConstraintOp("ck", T, "c > 0", postgresql_not_valid=True),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        BRIEF,
    ),
    (
        "unique constraint",
        ops.CreateUniqueConstraintOp("uq", T, ["c"]),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        BUILD,
    ),
    (
        "create_unique_constraint_concurrently",
        online.CreateUniqueConstraintConcurrentlyOp("uq", T, ["c"]),
        "SHARE UPDATE EXCLUSIVE",
        NOTHING,
        BUILD,
    ),
    (
        "primary key",
        ops.CreatePrimaryKeyOp("pk", T, ["c"]),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        BUILD,
    ),
    (
        "add_not_null_check",
        online.AddNotNullCheckOp("ck_shop_order_c_not_null", T, "c"),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        BRIEF,
    ),
    (
        "drop_not_null_check",
        online.DropNotNullCheckOp("ck_shop_order_c_not_null", T),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        BRIEF,
    ),
    ("add column", ops.AddColumnOp(T, _column()), "ACCESS EXCLUSIVE", READS_AND_WRITES, BRIEF),
    (
        "add column, constant default",
        ops.AddColumnOp(T, _column("0", nullable=False)),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        BRIEF,
    ),
    (
        "add column, now() (stable)",
        ops.AddColumnOp(T, _column(sa.text("now()"))),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        BRIEF,
    ),
    (
        "add column, CURRENT_TIMESTAMP",
        ops.AddColumnOp(T, _column(sa.text("CURRENT_TIMESTAMP"))),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        BRIEF,
    ),
    (
        "add column, gen_random_uuid()",
        ops.AddColumnOp(T, _column(sa.text("gen_random_uuid()"))),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        REWRITE,
    ),
    (
        "add column, sa.func.clock_timestamp()",
        ops.AddColumnOp(T, _column(sa.func.clock_timestamp())),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        REWRITE,
    ),
    (
        "add column, generated",
        ops.AddColumnOp(T, sa.Column("c", sa.Integer(), sa.Computed("a + 1"))),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        REWRITE,
    ),
    (
        "add column, identity",
        ops.AddColumnOp(T, sa.Column("c", sa.Integer(), sa.Identity())),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        REWRITE,
    ),
    ("drop column", ops.DropColumnOp(T, "c"), "ACCESS EXCLUSIVE", READS_AND_WRITES, BRIEF),
    (
        "rename table",
        ops.RenameTableOp(T, "shop_purchase"),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        BRIEF,
    ),
    (
        "rename column",
        _alter(modify_name="d", existing_type=sa.Integer()),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        BRIEF,
    ),
    (
        "SET NOT NULL",
        _alter(modify_nullable=False, existing_nullable=True),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        SCAN,
    ),
    (
        "DROP NOT NULL",
        _alter(modify_nullable=True, existing_nullable=False),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        BRIEF,
    ),
    (
        "int to bigint",
        _alter(existing_type=sa.Integer(), modify_type=sa.BigInteger()),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        REWRITE,
    ),
    (
        "varchar(10) to varchar(20)",
        _alter(existing_type=sa.String(10), modify_type=sa.String(20)),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        BRIEF,
    ),
    (
        "set a server default",
        _alter(modify_server_default=sa.text("0"), existing_type=sa.Integer()),
        "ACCESS EXCLUSIVE",
        READS_AND_WRITES,
        BRIEF,
    ),
    (
        "column comment only",
        _alter(modify_comment="why", existing_type=sa.Integer()),
        "SHARE UPDATE EXCLUSIVE",
        NOTHING,
        BRIEF,
    ),
    (
        "table comment",
        ops.CreateTableCommentOp(T, "why"),
        "SHARE UPDATE EXCLUSIVE",
        NOTHING,
        BRIEF,
    ),
    ("fill NULLs", FillNullsOp(T, "c", 0), "ROW EXCLUSIVE", NOTHING, UPDATE),
]


@pytest.mark.parametrize(
    ("operation", "level", "blocks", "work"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_postgresql_lock_of_each_operation(
    operation: ops.MigrateOperation, level: str, blocks: str, work: str
) -> None:
    lock = lock_of(operation, "postgresql")
    assert (lock.level, lock.blocks, lock.work) == (level, blocks, work)
    assert lock.blocking == (blocks != NOTHING and work != BRIEF)
    assert lock.rewrites == (work == REWRITE)


@pytest.mark.parametrize("operation", [case[1] for case in CASES], ids=[case[0] for case in CASES])
def test_a_table_created_in_the_same_migration_blocks_no_one(
    operation: ops.MigrateOperation,
) -> None:
    create = ops.CreateTableOp(T, [sa.Column("id", sa.Integer(), primary_key=True)])
    create_lock, lock = operation_locks([create, operation], "postgresql")
    assert not create_lock.shown
    assert not lock.shown and not lock.blocking


def test_the_foreign_key_locks_both_tables_and_says_the_lock_safe_way() -> None:
    lock = lock_of(ops.CreateForeignKeyOp("fk", T, "shop_customer", ["a"], ["id"]), "postgresql")
    assert lock.tables == (T, "shop_customer")
    assert str(lock) == (
        "SHARE ROW EXCLUSIVE on shop_order and shop_customer: blocks writes while it scans the "
        "table (lock-safe: postgresql_not_valid=True, then op.validate_constraint)"
    )
    brief = lock_of(ops.DropColumnOp(T, "c"), "postgresql")
    assert (
        str(brief) == "ACCESS EXCLUSIVE on shop_order, brief: blocks reads and writes for a moment"
    )


def test_set_not_null_skips_the_scan_after_a_validated_check() -> None:
    name = online.not_null_check_name(T, "c")
    set_not_null = _alter(modify_nullable=False, existing_nullable=True)
    # As makemigrations writes it: the check added in one migration, validated in the next.
    locks = operation_locks([online.ValidateConstraintOp(name, T), set_not_null], "postgresql")
    assert (locks[1].work, locks[1].blocking) == (BRIEF, False)
    # Both in one file, under any name.
    added = online.AddNotNullCheckOp("ck_any", T, "c")
    locks = operation_locks(
        [added, online.ValidateConstraintOp("ck_any", T), set_not_null], "postgresql", False
    )
    assert locks[2].work == BRIEF
    # A check of another column, or none validated: the scan.
    other = online.ValidateConstraintOp(online.not_null_check_name(T, "d"), T)
    assert operation_locks([other, set_not_null], "postgresql")[1].work == SCAN
    unvalidated = operation_locks([added, set_not_null], "postgresql")
    assert unvalidated[1].work == SCAN


def test_an_atomic_migration_holds_its_locks_through_a_long_step() -> None:
    add = ops.AddColumnOp(T, _column())
    validate = online.ValidateConstraintOp("fk", T)
    fill = FillNullsOp(T, "c", 0)
    # add column (brief ACCESS EXCLUSIVE) then an UPDATE of every row, in one transaction
    locks = operation_locks([add, fill], "postgresql", atomic=True)
    assert locks[1].held == "ACCESS EXCLUSIVE on shop_order"
    assert locks[1].blocking
    assert "holds ACCESS EXCLUSIVE on shop_order (taken earlier in its transaction)" in str(
        locks[1]
    )
    # not in one transaction: each step lets go of its lock
    assert not operation_locks([add, fill], "postgresql", atomic=False)[1].blocking
    # a concurrent step commits what came before it (Alembic's autocommit block)
    locks = operation_locks([add, validate, fill], "postgresql", atomic=True)
    assert not locks[1].blocking and not locks[2].blocking
    # a lock that blocks nothing held through a long step is harmless
    comment = ops.CreateTableCommentOp(T, "why")
    assert not operation_locks([comment, fill], "postgresql")[1].blocking


@pytest.mark.parametrize(
    ("operation", "level", "blocks", "work"),
    [
        (ops.CreateIndexOp("ix", T, ["c"]), "metadata lock, LOCK=NONE", NOTHING, BUILD),
        (
            online.CreateIndexConcurrentlyOp("ix", T, ["c"]),
            "metadata lock, LOCK=NONE",
            NOTHING,
            BUILD,
        ),
        (ops.CreateUniqueConstraintOp("uq", T, ["c"]), "metadata lock, LOCK=NONE", NOTHING, BUILD),
        (ops.AddColumnOp(T, _column()), "metadata lock", READS_AND_WRITES, BRIEF),
        (ops.DropColumnOp(T, "c"), "metadata lock", READS_AND_WRITES, BRIEF),
        (
            ops.CreateForeignKeyOp("fk", T, "shop_customer", ["a"], ["id"]),
            "ALGORITHM=COPY",
            WRITES,
            REWRITE,
        ),
        (
            _alter(existing_type=sa.Integer(), modify_type=sa.BigInteger()),
            "ALGORITHM=COPY",
            WRITES,
            REWRITE,
        ),
        (
            _alter(existing_type=sa.String(10), modify_type=sa.String(20)),
            "metadata lock",
            READS_AND_WRITES,
            BRIEF,
        ),
    ],
)
@pytest.mark.parametrize("dialect", ["mysql", "mariadb"])
def test_mysql_lock_table(
    operation: ops.MigrateOperation, level: str, blocks: str, work: str, dialect: str
) -> None:
    lock = lock_of(operation, dialect)
    assert (lock.level, lock.blocks, lock.work) == (level, blocks, work)


def test_online_steps_that_do_nothing_elsewhere_take_no_lock_there() -> None:
    for op in (online.ValidateConstraintOp("fk", T), online.AddNotNullCheckOp("ck", T, "c")):
        assert not lock_of(op, "mysql").shown


def test_sqlite_is_not_applicable() -> None:
    lock = lock_of(ops.CreateIndexOp("ix", T, ["c"]), "sqlite")
    assert lock.shown and not lock.applies and not lock.blocking
    assert str(lock) == "n/a (SQLite is embedded: no server traffic to keep waiting)"
    assert not lock_of(ops.ExecuteSQLOp("SELECT 1"), "sqlite").shown


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite", "oracle"])
def test_code_the_lint_cannot_see_into_is_not_marked(dialect: str) -> None:
    for op in (ops.ExecuteSQLOp("UPDATE t SET a = 1"), ops.DropTableOp(T)):
        assert not lock_of(op, dialect).shown


@pytest.mark.parametrize(
    ("old", "new", "rewrites"),
    [
        (sa.String(10), sa.String(20), False),
        (sa.String(10), sa.String(10), False),
        (sa.String(10), sa.Text(), False),
        (sa.String(10), sa.String(), False),
        (sa.VARCHAR(10), sa.Unicode(30), False),
        (sa.String(10), sa.String(5), True),
        (sa.Text(), sa.String(50), True),
        (sa.String(), sa.String(50), True),
        (sa.CHAR(3), sa.CHAR(5), True),
        (sa.Integer(), sa.Integer(), False),
        (sa.INTEGER(), sa.Integer(), False),
        (sa.Integer(), sa.BigInteger(), True),
        (sa.BIGINT(), sa.SmallInteger(), True),
        (sa.Numeric(10, 2), sa.Numeric(12, 2), False),
        (sa.Numeric(10, 2), sa.Numeric(8, 2), True),
        (sa.Numeric(10, 2), sa.Numeric(12, 3), True),
        (sa.DateTime(), sa.DateTime(timezone=True), True),
        (sa.Boolean(), sa.Boolean(), False),
        (sa.Integer(), sa.String(10), True),
        (sa.Enum("a", "b", name="e"), sa.Enum("a", "b", "c", name="e"), True),
        (None, sa.Integer(), True),  # the old type is not known
    ],
)
def test_which_type_changes_rewrite_the_table(old: Any, new: Any, rewrites: bool) -> None:
    assert type_change_rewrites(old, new) is rewrites


@pytest.mark.parametrize(
    ("default", "volatile"),
    [
        (None, False),
        ("0", False),
        (sa.text("'active'"), False),
        (sa.text("'{}'::jsonb"), False),
        (sa.text("now()"), False),
        (sa.func.now(), False),
        (sa.text("CURRENT_TIMESTAMP"), False),
        (sa.text("lower('A(')"), False),  # a parenthesis inside a string is no call
        (sa.text("gen_random_uuid()"), True),
        (sa.text("public.uuid_generate_v4()"), True),
        (sa.func.random(), True),
        (sa.text("clock_timestamp()"), True),
        (sa.text("nextval('shop_order_seq'::regclass)"), True),
        (sa.text("my_function()"), True),  # unknown: taken as volatile
        (sa.schema.DefaultClause(sa.text("gen_random_uuid()")), True),
    ],
)
def test_volatile_defaults(default: Any, volatile: bool) -> None:
    assert volatile_default(default) is volatile


def test_rewrites_are_marked_on_the_change_but_not_for_a_new_table() -> None:
    add = ops.AddColumnOp(T, _column(sa.text("gen_random_uuid()")))
    assert rewrites_table(add)
    [change] = describe_operations([add], "shop")
    assert change.rewrites and change.notes == [
        "rewrites the table: every row is copied while the table is locked"
    ]
    create = ops.CreateTableOp(T, [sa.Column("id", sa.Integer())])
    assert not describe_operations([create, add], "shop")[1].rewrites
    assert describe_operations([ops.DropColumnOp(T, "c")], "shop")[0].notes == []


@pytest.mark.parametrize(
    ("operation", "says"),
    [
        (ops.DropColumnOp(T, "c"), "first ship a release that no longer uses it"),
        (ops.DropTableOp(T), "First ship a release without its model"),
        (ops.RenameTableOp(T, "shop_purchase"), "create shop_purchase, write both, backfill"),
        (
            _alter(modify_name="d"),
            "add d, write both, backfill it, switch reads to it, then drop c",
        ),
    ],
)
def test_changes_the_running_release_notices(operation: ops.MigrateOperation, says: str) -> None:
    advice = breaks_running_code(operation)
    assert advice is not None and says in advice


@pytest.mark.parametrize(
    "operation",
    [
        ops.AddColumnOp(T, _column()),
        ops.CreateIndexOp("ix", T, ["c"]),
        _alter(modify_nullable=True),
    ],
)
def test_additions_break_nothing(operation: ops.MigrateOperation) -> None:
    assert breaks_running_code(operation) is None


def test_a_new_migration_with_concurrent_steps_is_not_atomic() -> None:
    assert atomic_of([ops.AddColumnOp(T, _column())])
    assert not atomic_of([online.CreateIndexConcurrentlyOp("ix", T, ["c"])])
    assert not atomic_of([ops.ModifyTableOps(T, [online.ValidateConstraintOp("ck", T)])])


@pytest.mark.parametrize(
    ("operation", "text"),
    [
        (
            online.CreateIndexConcurrentlyOp("ix_x", T, ["c"]),
            "+ Create index ix_x on shop_order (concurrently)",
        ),
        (
            online.CreateIndexConcurrentlyOp("ix_x", T, ["c"], unique=True),
            "+ Create unique index ix_x on shop_order (concurrently)",
        ),
        (
            online.DropIndexConcurrentlyOp("ix_x", T),
            "- Drop index ix_x from shop_order (concurrently)",
        ),
        (online.ValidateConstraintOp("fk_x", T), "~ Validate constraint fk_x on shop_order"),
        (
            online.CreateUniqueConstraintConcurrentlyOp("uq_x", T, ["c"]),
            "+ Create unique constraint uq_x on shop_order (concurrently)",
        ),
        (
            online.AddNotNullCheckOp("ck_x", T, "c"),
            "+ Create check constraint ck_x on shop_order (c IS NOT NULL, not valid)",
        ),
        (online.DropNotNullCheckOp("ck_x", T), "- Drop check constraint ck_x from shop_order"),
        (
            ops.CreateForeignKeyOp(
                "fk_x", T, "shop_customer", ["a"], ["id"], postgresql_not_valid=True
            ),
            "+ Create foreign key fk_x on shop_order (not valid)",
        ),
        (
            ops.CreateCheckConstraintOp("ck_x", T, "c > 0", postgresql_not_valid=True),
            "+ Create check constraint ck_x on shop_order (not valid)",
        ),
    ],
)
def test_the_lock_safe_operations_are_described(operation: ops.MigrateOperation, text: str) -> None:
    [change] = describe_operations([operation], "shop")
    assert str(change) == text
    assert not change.destructive


def test_locks_of_a_migration_file_as_read_from_its_source(tmp_path: Any) -> None:
    from project.autogen.lint import marked
    from project.engine.migration_files import read_operations

    path = tmp_path / "0002_x.py"
    path.write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\n\n"
        "def upgrade() -> None:\n"
        '    with op.batch_alter_table("shop_order", schema=None) as batch_op:\n'
        '        batch_op.create_index(batch_op.f("ix_a"), ["a"], unique=False)\n'
        '    op.create_index("ix_b", "shop_order", ["b"], postgresql_concurrently=True)\n'
        '    op.add_column("shop_order", sa.Column("u", sa.Uuid(), '
        'server_default=sa.text("gen_random_uuid()")))\n'
        '    op.add_column("shop_order", sa.Column("at", sa.DateTime(), '
        "server_default=sa.func.now()))\n"
        '    op.add_column("shop_order", sa.Column("r", sa.Float(), '
        "server_default=sa.func.random()))\n"
        '    op.add_column("shop_order", sa.Column("n", sa.Integer(), server_default="0"))\n'
    )
    changes = describe_operations(read_operations(path), "shop")
    locks = [str(lock) for _, lock in marked(changes, "postgresql", atomic=False)]
    share = "SHARE on shop_order: blocks writes while it builds the index"
    concurrent = "SHARE UPDATE EXCLUSIVE on shop_order: blocks neither reads nor writes while it"
    rewrite = "ACCESS EXCLUSIVE on shop_order: blocks reads and writes while it rewrites the table"
    brief = "ACCESS EXCLUSIVE on shop_order, brief: blocks reads and writes for a moment"
    safe = "(lock-safe: add it without the default, set the default, backfill in batches)"
    assert locks == [
        f"{share} (lock-safe: op.create_index_concurrently)",
        f"{concurrent} builds the index",
        f"{rewrite} {safe}",
        brief,
        f"{rewrite} {safe}",
        brief,
    ]
    assert [c.rewrites for c in changes] == [False, False, True, False, True, False]
