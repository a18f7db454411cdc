"""The schema comparison helper: the same models describe equal on each database, and every
kind of change comes back as a line naming its table and its item."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import BACKENDS, Servers
from schema_compare import BOOKKEEPING, describe, differences

COLLATIONS = {"sqlite": "NOCASE", "postgresql": "C", "mariadb": "utf8mb4_bin"}


@dataclass
class Pair:
    """Two empty databases of one kind: what is expected, and what is compared with it."""

    backend: str
    expected: sa.Engine
    actual: sa.Engine

    def compare(self, expected: sa.MetaData, actual: sa.MetaData) -> list[str]:
        """Create each schema in its database, compare, and leave both databases empty."""
        expected.create_all(self.expected)
        try:
            actual.create_all(self.actual)
            try:
                return differences(describe(self.expected), describe(self.actual))
            finally:
                actual.drop_all(self.actual)
        finally:
            expected.drop_all(self.expected)


@pytest.fixture(scope="module", params=BACKENDS)
def pair(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    database_servers: Servers,
) -> Iterator[Pair]:
    """One pair of databases per database kind, emptied again by each test."""
    backend = str(request.param)
    if backend == "sqlite":
        folder = tmp_path_factory.mktemp("schema_compare")
        urls, drop = [f"sqlite:///{folder / name}.sqlite3" for name in ("a", "b")], None
    else:
        server = database_servers.get(backend)
        names = [f"test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
        urls, drop = [server.create_database(name) for name in names], server
    engines = [sa.create_engine(url, poolclass=sa.pool.NullPool) for url in urls]
    yield Pair(backend, *engines)
    for engine in engines:
        engine.dispose()
    if drop is not None:
        for name in names:
            drop.drop_database(name)


def pets(
    backend: str,
    *,
    name_type: sa.types.TypeEngine[Any] | None = None,
    nullable: bool = False,
    default: str = "rex",
    comment: str | None = "what it is called",
    table_comment: str | None = None,
    index: tuple[Any, ...] = ("name",),
    unique: bool = False,
    ondelete: str | None = None,
    match: str | None = None,
    check: str = "age >= 0",
    column_check: str = "age < 100",
    collation: str | None = None,
    autoincrement: bool = False,
    lower_index: bool = False,
    increment: int = 1,
) -> sa.MetaData:
    """A small schema; each keyword changes one thing."""
    metadata = sa.MetaData()
    sa.Table("sc_owner", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "sc_pet",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "name",
            name_type if name_type is not None else sa.String(50),
            nullable=nullable,
            server_default=default,
            comment=comment,
        ),
        sa.Column("age", sa.Integer, sa.CheckConstraint(column_check)),
        sa.Column("nick", sa.String(20, collation=collation)),
        sa.Column("owner_id", sa.Integer),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["sc_owner.id"], name="fk_sc_pet_owner", ondelete=ondelete, match=match
        ),
        sa.CheckConstraint(check, name="ck_sc_pet_age"),
        sa.Index("ix_sc_pet_name", *index, unique=unique),
        *([sa.Index("ix_sc_pet_lower", sa.func.lower(sa.column("nick")))] if lower_index else []),
        comment=table_comment,
        sqlite_autoincrement=autoincrement,
    )
    sa.Sequence("sc_counter", increment=increment, metadata=metadata)
    return metadata


def rich(backend: str) -> sa.MetaData:
    """Something of everything, several of each where order could wander."""
    metadata = sa.MetaData()
    sa.Sequence("sc_ticket", start=5, increment=3, maxvalue=1000, cycle=True, metadata=metadata)
    sa.Table(
        "sc_owner",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100), nullable=False, unique=True),
        sa.Column("code", sa.String(10), comment="their code"),
        sa.Column("joined", sa.DateTime, server_default=sa.func.now()),
        sa.UniqueConstraint("code", "email", name="uq_sc_owner_code_email"),
        comment="who owns pets",
    )
    sa.Table(
        "sc_pet",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(start=10, increment=2), primary_key=True),
        sa.Column("owner_id", sa.ForeignKey("sc_owner.id", ondelete="CASCADE")),
        sa.Column("sitter_id", sa.ForeignKey("sc_owner.id", ondelete="SET NULL")),
        sa.Column("kind", sa.Enum("cat", "dog", name="sc_kind")),
        sa.Column("alive", sa.Boolean(create_constraint=True), server_default=sa.true()),
        sa.Column("age", sa.Integer, sa.CheckConstraint("age >= 0")),
        sa.Column("age_months", sa.Integer, sa.Computed("age * 12", persisted=True)),
        sa.Column("label", sa.String(40, collation=COLLATIONS[backend])),
        sa.Column("data", sa.JSON),
        sa.Column("price", sa.Numeric(10, 2), nullable=False, server_default="0"),
        sa.CheckConstraint("price >= 0", name="ck_sc_pet_price"),
        sa.CheckConstraint("age < 100"),
        sa.Index("ix_sc_pet_label_age", "label", sa.desc("age")),
        sa.Index("ix_sc_pet_age", "age", unique=True),
        *(
            []
            if backend == "mariadb"
            else [sa.Index("ix_sc_pet_lower", sa.func.lower(sa.column("label")))]
        ),
    )
    return metadata


def test_the_same_models_describe_equal(pair: Pair) -> None:
    rich(pair.backend).create_all(pair.expected)
    rich(pair.backend).create_all(pair.actual)
    try:
        expected, actual = describe(pair.expected), describe(pair.actual)
    finally:
        rich(pair.backend).drop_all(pair.expected)
        rich(pair.backend).drop_all(pair.actual)
    assert differences(expected, actual) == []
    assert expected == actual
    assert json.loads(json.dumps(expected)) == expected
    assert set(expected["tables"]) == {"sc_owner", "sc_pet"}
    assert len(expected["tables"]["sc_pet"]["check_constraints"]) >= 3


# (what changes, the start of a line that must come back, text that line holds, the databases
# that cannot have such a change and why)
CHANGES = [
    pytest.param(
        {"name_type": sa.String(80)},
        "table sc_pet, column name: type VARCHAR(50) != VARCHAR(80)",
        "",
        {},
        id="type",
    ),
    pytest.param(
        {"nullable": True}, "table sc_pet, column name: nullable False != True", "", {}, id="null"
    ),
    pytest.param(
        {"default": "tom"}, "table sc_pet, column name: default ", "'tom'", {}, id="default"
    ),
    pytest.param(
        {"index": ("name", "age")},
        "table sc_pet, index ix_sc_pet_name: column_names ['name'] != ['name', 'age']",
        "",
        {},
        id="index-columns",
    ),
    pytest.param(
        {"unique": True}, "table sc_pet, index ix_sc_pet_name: unique ", "", {}, id="index-unique"
    ),
    pytest.param(
        {"index": (sa.desc("name"),)},
        "table sc_pet, index ix_sc_pet_name: ",
        "DESC",
        {},
        id="index-descending",
    ),
    pytest.param(
        {"lower_index": True},
        "table sc_pet, index ix_sc_pet_lower: unexpected",
        "",
        {"mariadb": "no expression indexes in MariaDB 10.11"},
        id="expression-index",
    ),
    pytest.param(
        {"ondelete": "CASCADE"},
        "table sc_pet, foreign key fk_sc_pet_owner: options.ondelete (absent) != CASCADE",
        "",
        {},
        id="ondelete",
    ),
    pytest.param(
        {"ondelete": "CASCADE", "match": "FULL"},
        "table sc_pet, foreign key fk_sc_pet_owner: options.ondelete (absent) != CASCADE",
        "",
        {"mariadb": "MariaDB ignores MATCH"},
        id="ondelete-after-match",  # SQLAlchemy's SQLite parser loses ON DELETE after MATCH
    ),
    pytest.param(
        {"check": "age > 0"},
        "table sc_pet, check constraint ck_sc_pet_age: sqltext ",
        "> 0",
        {},
        id="check",
    ),
    pytest.param(
        # Inline: unnamed on SQLite, named by the column on MariaDB (read from its catalog).
        {"column_check": "age < 200"},
        "table sc_pet, check constraint ",
        "200",
        {},
        id="column-check",
    ),
    pytest.param(
        {"comment": "its name"},
        "table sc_pet, column name: comment what it is called != its name",
        "",
        {"sqlite": "SQLite keeps no comments"},
        id="column-comment",
    ),
    pytest.param(
        {"table_comment": "pets"},
        "table sc_pet: comment None != pets",
        "",
        {"sqlite": "SQLite keeps no comments"},
        id="table-comment",
    ),
    pytest.param(
        {"collation": "collation"},
        "table sc_pet, column nick: ",
        "",
        {},
        id="collation",
    ),
    pytest.param(
        {"autoincrement": True},
        "table sc_pet: options.sqlite_autoincrement (absent) != True",
        "",
        {"postgresql": "SQLite only", "mariadb": "SQLite only"},
        id="sqlite-autoincrement",
    ),
    pytest.param(
        {"increment": 5},
        "sequence sc_counter: increment 1 != 5",
        "",
        {"sqlite": "SQLite has no sequences"},
        id="sequence",
    ),
]


# Each change on each database that can have it (a comment on SQLite cannot be made).
CASES = [
    pytest.param(backend, *case.values[:3], id=f"{backend}-{case.id}")
    for case in CHANGES
    for backend in BACKENDS
    if backend not in case.values[3]
]


@pytest.mark.parametrize(("pair", "change", "start", "holds"), CASES, indirect=["pair"])
def test_a_change_names_its_table_and_item(
    pair: Pair, change: dict[str, Any], start: str, holds: str
) -> None:
    if change.get("collation"):
        change = {**change, "collation": COLLATIONS[pair.backend]}
    found = pair.compare(pets(pair.backend), pets(pair.backend, **change))
    assert any(line.startswith(start) and holds in line for line in found), found


def test_the_same_small_schema_has_no_differences(pair: Pair) -> None:
    assert pair.compare(pets(pair.backend), pets(pair.backend)) == []


def test_history_tables_are_left_out(pair: Pair) -> None:
    """With the sequence a PostgreSQL SERIAL gives them."""
    history = pets(pair.backend)
    for name in BOOKKEEPING:
        sa.Table(name, history, sa.Column("id", sa.Integer, primary_key=True))
    assert pair.compare(pets(pair.backend), history) == []


@pytest.mark.parametrize("pair", ["postgresql"], indirect=True)
def test_postgresql_marks_owned_sequences(pair: Pair) -> None:
    metadata = sa.MetaData()
    sa.Sequence("sc_explicit", metadata=metadata)
    sa.Table("sc_serial", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("sc_ident", metadata, sa.Column("id", sa.Integer, sa.Identity(), primary_key=True))
    metadata.create_all(pair.expected)
    try:
        sequences = describe(pair.expected)["sequences"]
    finally:
        metadata.drop_all(pair.expected)
    owners = {name: (s["owned_by"], s["ownership"]) for name, s in sequences.items()}
    assert owners == {
        "sc_explicit": (None, None),
        "sc_serial_id_seq": ("sc_serial.id", "owned"),
        "sc_ident_id_seq": ("sc_ident.id", "identity"),
    }


@pytest.mark.parametrize("pair", ["postgresql"], indirect=True)
def test_postgresql_named_schemas_are_keyed_schema_dot_table(pair: Pair) -> None:
    metadata = sa.MetaData(schema="sc_other")
    sa.Table("sc_thing", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Sequence("sc_numbers", metadata=metadata)
    engine = pair.expected
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE SCHEMA sc_other")
    try:
        metadata.create_all(engine)
        description = describe(engine, schemas=(None, "sc_other"))
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA sc_other CASCADE")
    assert list(description["tables"]) == ["sc_other.sc_thing"]
    assert set(description["sequences"]) == {"sc_other.sc_numbers", "sc_other.sc_thing_id_seq"}


# --- differences of plain descriptions, no database -----------------------------------------


def _table(*columns: dict[str, Any], **rest: Any) -> dict[str, Any]:
    return {"comment": None, "options": {}, "columns": list(columns), **rest}


def test_differences_say_missing_unexpected_and_order() -> None:
    a, b = {"name": "a", "type": "INTEGER"}, {"name": "b", "type": "TEXT"}
    expected = {"tables": {"t": _table(a, b), "gone": _table()}, "sequences": {}}
    actual = {"tables": {"t": _table(b, a, {"name": "c"}), "new": _table()}, "sequences": {}}
    assert differences(expected, actual) == [
        "table gone: missing",
        "table new: unexpected",
        "table t, column c: unexpected",
        "table t: column order a, b != b, a",
    ]


def test_differences_pair_unnamed_items_by_what_they_cover() -> None:
    key = {"name": None, "constrained_columns": ["owner_id"], "referred_table": "owner"}
    expected = {"tables": {"t": _table(foreign_keys=[{**key, "options": {}}])}}
    actual = {"tables": {"t": _table(foreign_keys=[{**key, "options": {"ondelete": "CASCADE"}}])}}
    assert differences(expected, actual) == [
        "table t, foreign key (owner_id) -> owner(): options.ondelete (absent) != CASCADE"
    ]


def test_differences_of_equal_descriptions_are_empty(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    pets("sqlite").create_all(engine)
    assert differences(describe(engine), describe(engine)) == []
