"""Each non-public part of SQLAlchemy and Alembic that project.adapter.internals uses still does
what we rely on: a release that changes one fails here, naming it."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate.api import AutogenContext
from alembic.migration import MigrationContext
from alembic.operations import ops

from project.adapter import internals


def _table() -> sa.Table:
    metadata = sa.MetaData(naming_convention={"ck": "ck_%(table_name)s_%(column_0_name)s"})
    return sa.Table(
        "t",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("flag", sa.Boolean(create_constraint=True)),
        sa.Column("ref", sa.ForeignKey("t.id")),
        sa.CheckConstraint("id > 0"),
        sa.UniqueConstraint("ref"),
    )


def _autogen(dialect: str = "sqlite") -> Any:
    engine = sa.create_engine("sqlite://") if dialect == "sqlite" else None
    assert engine is not None
    connection = engine.connect()
    context = MigrationContext.configure(
        connection,
        opts={
            "sqlalchemy_module_prefix": "sa.",
            "alembic_module_prefix": "op.",
            "user_module_prefix": None,
        },
    )
    return AutogenContext(context)


def _check(table: sa.Table, bound: bool) -> sa.CheckConstraint:
    return next(
        c
        for c in table.constraints
        if isinstance(c, sa.CheckConstraint) and internals.is_type_bound(c) == bound
    )


def test_final_name_applies_the_naming_convention_to_a_types_check() -> None:
    table = _table()
    dialect = sa.create_engine("sqlite://").dialect
    assert internals.final_name(_check(table, True), dialect) == "ck_t_flag"
    plain = sa.Table("p", sa.MetaData(), sa.Column("id", sa.Integer), sa.CheckConstraint("id > 0"))
    assert internals.final_name(_check(plain, False), dialect) is None


def test_created_on_says_where_a_booleans_check_exists() -> None:
    check = _check(_table(), True)
    assert internals.created_on(check, sa.create_engine("sqlite://").dialect)
    from sqlalchemy.dialects import postgresql

    assert not internals.created_on(check, postgresql.dialect())


def test_unnamed_checks_are_compiled_as_create_table_writes_them() -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        "u",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("flag", sa.Boolean(create_constraint=True)),
        sa.CheckConstraint("id > 0"),
    )
    found = internals.unnamed_checks(table, sa.create_engine("sqlite://").dialect)
    assert sorted(found) == [("flag IN (0, 1)", "flag"), ("id > 0", None)]


def test_alembic_renderers_we_extend() -> None:
    context = _autogen()
    table = _table()
    op = ops.CreateTableOp.from_table(table)
    assert internals.render_create_table(op, context).startswith("op.create_table(")
    constraints = internals.render_constraints_in_model_order(op, context)
    assert constraints[0].startswith("sa.PrimaryKeyConstraint(")
    column = internals.render_column(table.c.id, context)
    assert column.startswith("sa.Column('id', sa.Integer()")
    assert internals.render_type(sa.String(5), context) == "sa.String(length=5)"
    lines = internals.render_modify_table(
        ops.ModifyTableOps("t", [ops.DropColumnOp("t", "ref")]), context
    )
    assert lines == ["op.drop_column('t', 'ref')"]
    identity = ops.AlterColumnOp(
        "t",
        "id",
        modify_server_default=sa.Identity(increment=2),
        existing_server_default=sa.Identity(increment=1),
    )
    assert "existing_server_default=sa.Identity(" in internals.render_alter_column(
        identity, context
    )


def test_batch_copies_leave_generated_columns_out(tmp_path: Any) -> None:
    from alembic.operations import Operations

    internals.fix_batch_copies()
    internals.fix_batch_copies()  # idempotent
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE g (id INTEGER PRIMARY KEY, a INTEGER, "
            "b INTEGER GENERATED ALWAYS AS (a * 2) STORED)"
        )
        connection.exec_driver_sql("INSERT INTO g (id, a) VALUES (1, 21)")
        operations = Operations(MigrationContext.configure(connection))
        with operations.batch_alter_table("g", recreate="always") as batch:
            batch.add_column(sa.Column("c", sa.Integer))
        assert connection.exec_driver_sql("SELECT a, b FROM g").all() == [(21, 42)]


def test_normalized_computed_is_alembics() -> None:
    assert internals.normalized_computed(_autogen(), "(A * 2)") == "a*2"


def test_alembic_renders_a_columns_type_right_after_the_column() -> None:
    """project.render relies on it to know whose type it is asked to render."""
    calls: list[str] = []

    def record(kind: str, obj: Any, context: Any) -> bool:
        calls.append(kind)
        return False

    context = _autogen()
    context.opts["render_item"] = record
    column = sa.Column("flag", sa.Boolean(create_constraint=True), server_default=sa.true())
    sa.Table("t", sa.MetaData(), column)
    internals.render_column(column, context)
    assert calls[0] == "column" and calls[calls.index("type") - 1] in ("column", "server_default")
    assert calls.count("type") == 1


def test_aiomysql_adapter_connects_through_async_creator_fn() -> None:
    """SQLAlchemy's aiomysql adapter calls `async_creator_fn` with the URL's arguments; the
    deadline ends a connect to a server that never sends its greeting."""
    import asyncio
    import socket
    import time

    from sqlalchemy.ext.asyncio import create_async_engine

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    seen: list[dict[str, Any]] = []
    deadline = internals.connect_within("aiomysql", 0.5)["async_creator_fn"]

    async def creator(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return await deadline(*args, **kwargs)

    async def connect() -> None:
        engine = create_async_engine(
            f"mysql+aiomysql://app:pw@127.0.0.1:{port}/app",
            connect_args={"async_creator_fn": creator},
        )
        try:
            async with engine.connect():
                pass
        finally:
            await engine.dispose()

    started = time.monotonic()
    try:
        asyncio.run(connect())
    except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
        pass
    else:
        raise AssertionError("connected to a silent server")
    finally:
        server.close()
    assert time.monotonic() - started < 5
    assert seen and seen[0]["host"] == "127.0.0.1" and seen[0]["port"] == port


def test_reflected_is_what_autogenerate_drops() -> None:
    """Autogenerate's drops carry what the database has (`_reverse`); ours can too."""
    table = _table()
    drop_table = ops.DropTableOp.from_table(table)
    assert internals.reflected(drop_table).table_name == "t"
    drop_column = ops.DropColumnOp.from_column_and_tablename(None, "t", table.c.flag)
    assert internals.reflected(drop_column).column is table.c.flag
    assert internals.reflected(ops.DropColumnOp("t", "flag")) is None
    again = ops.CreateCheckConstraintOp("ck", "t", "id > 0")
    drop = internals.drop_with_reflected(ops.DropConstraintOp("ck", "t", "check"), again)
    assert internals.reflected(drop) is again
    assert isinstance(drop.to_constraint(), sa.CheckConstraint)  # the downgrade makes it again
    with pytest.raises(ValueError):
        ops.DropConstraintOp("ck", "t", "check").to_constraint()


def test_copy_column_is_unattached() -> None:
    table = _table()
    copy = internals.copy_column(table.c.flag)
    assert copy is not table.c.flag and copy.name == "flag" and copy.table is None
    assert isinstance(copy.type, sa.Boolean)


def test_type_affinity_is_the_kind_of_type() -> None:
    from sqlalchemy.dialects import mysql

    assert internals.type_affinity(sa.VARCHAR(5)) is internals.type_affinity(sa.Text())
    assert internals.type_affinity(sa.Integer()) is not internals.type_affinity(sa.String())
    assert internals.type_affinity(mysql.INTEGER(display_width=11)) is sa.Integer
    assert internals.type_affinity("not a type") is None


def test_is_mysql_integer() -> None:
    from sqlalchemy.dialects import mysql

    assert internals.is_mysql_integer(mysql.BIGINT(display_width=20))
    assert internals.is_mysql_integer(mysql.TINYINT(display_width=1))
    assert not internals.is_mysql_integer(sa.Integer())
    assert not internals.is_mysql_integer(mysql.DECIMAL())


def test_replace_renderers_replaces_alembics_own() -> None:
    from alembic.autogenerate import render_python_code
    from alembic.autogenerate.render import renderers

    original = renderers.dispatch(ops.DropTableOp("a"))
    try:
        internals.replace_renderers({ops.DropTableOp: lambda context, op: "dropped()"})
        assert "dropped()" in render_python_code(ops.UpgradeOps([ops.DropTableOp("a")]))
    finally:
        internals.replace_renderers({ops.DropTableOp: original})
    assert "op.drop_table('a')" in render_python_code(ops.UpgradeOps([ops.DropTableOp("a")]))


def test_no_read_timeout_resets_pymysqls() -> None:
    """PyMySQL applies `_read_timeout` to the socket before each read."""
    import inspect

    import pymysql.connections

    connection = pymysql.connections.Connection(defer_connect=True, read_timeout=5)
    assert connection._read_timeout == 5
    internals.no_read_timeout(connection)
    assert connection._read_timeout is None
    assert "self._read_timeout" in inspect.getsource(pymysql.connections.Connection._read_bytes)


def test_scoped_metadata_shows_autogenerate_only_its_tables() -> None:
    """Tables stay on their MetaData (a foreign key resolves there), a foreign key to a
    table outside the scope, even one never defined, is no dependency of the sort, and
    Alembic's autogenerate compares the scoped tables alone."""
    from alembic.autogenerate import produce_migrations

    metadata = sa.MetaData(naming_convention={"ix": "ix_%(column_0_label)s"})
    kept = sa.Table("kept", metadata, sa.Column("id", sa.Integer, primary_key=True))
    child = sa.Table(
        "child",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kept_id", sa.ForeignKey("kept.id")),
        sa.Column("gone_id", sa.Integer, sa.ForeignKey("never_defined.id")),
    )
    sa.Table("other", metadata, sa.Column("id", sa.Integer, primary_key=True))
    scoped = internals.scoped_metadata(metadata, [child, kept])
    assert [t.name for t in scoped.sorted_tables] == ["kept", "child"]
    assert set(scoped.tables) == {"kept", "child"} and child.metadata is metadata
    assert scoped.naming_convention == metadata.naming_convention
    assert set(metadata.tables) == {"kept", "child", "other"}  # the models' own: untouched
    with sa.create_engine("sqlite://").connect() as connection:
        context = MigrationContext.configure(connection)
        found = produce_migrations(context, scoped).upgrade_ops
        assert found is not None
        assert sorted(op.table_name for op in found.ops) == ["child", "kept"]


def test_reflected_check_constraints_and_table_options_read_alembics_reflection() -> None:
    """Alembic's table comparison reflects every table's check constraints and options at
    once, into the inspector's cache under alembic_<key>: read from there, no query is made
    for them table by table. Check constraints' names are final (conv), as Alembic's own."""
    from alembic.autogenerate import compare
    from sqlalchemy.sql.elements import conv

    metadata = sa.MetaData()
    sa.Table(
        "t",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.CheckConstraint("id > 0", name="positive"),
    )
    with sa.create_engine("sqlite://").connect() as connection:
        metadata.create_all(connection)
        plain = sa.inspect(connection).get_check_constraints("t")
        autogen = AutogenContext(MigrationContext.configure(connection), metadata)
        compare._produce_net_changes(autogen, ops.UpgradeOps(ops=[]))
        cache = autogen.inspector.info_cache
        assert (None, "t") in cache["alembic_check_constraints"]
        # SQLite has no table options before SQLAlchemy 2.1 (Alembic keeps the error).
        options_cached = cache["alembic_table_options"]
        assert options_cached is NotImplementedError or (None, "t") in options_cached
        queries: list[str] = []
        sa.event.listen(connection, "before_cursor_execute", lambda *a: queries.append(a[2]))
        checks = internals.reflected_check_constraints(autogen.inspector, "t", None)
        if options_cached is not NotImplementedError:
            assert internals.reflected_table_options(autogen.inspector, "t", None) == {}
    assert checks == plain == [{"name": "positive", "sqltext": "id > 0"}]
    assert isinstance(checks[0]["name"], conv)
    assert queries == []
