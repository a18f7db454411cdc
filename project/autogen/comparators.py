"""Our autogenerate comparators: where Alembic, left alone, reports a change that is none
(a phantom), or misses one. Registered as an Alembic plugin by project.autogen.compare."""

from __future__ import annotations

import re
from typing import Any

from alembic.util import PriorityDispatchResult
from sqlalchemy.schema import Computed, DefaultClause, Identity

from project.autogen.compare import same_server_default

CONTINUE, STOP = PriorityDispatchResult.CONTINUE, PriorityDispatchResult.STOP


def server_default(
    autogen_context: Any,
    alter_column_op: Any,
    schema: str | None,
    table: str,
    column: str,
    reflected: Any,
    model: Any,
) -> PriorityDispatchResult:
    """Equal server defaults in each database's own words are no change; an Identity on a
    database without identity columns (SQLite, MySQL/MariaDB) is its autoincrement."""
    dialect = autogen_context.dialect
    model_default, reflected_default = model.server_default, reflected.server_default
    if isinstance(model_default, Identity) and not dialect.supports_identity_columns:
        return STOP
    if isinstance(model_default, Computed) or isinstance(reflected_default, Computed):
        return STOP  # see computed_columns
    both = isinstance(model_default, DefaultClause) and isinstance(reflected_default, DefaultClause)
    if both and same_server_default(
        _text(reflected_default.arg), _compiled(model_default, dialect)
    ):
        return STOP
    if both and dialect.name == "postgresql":
        # Alembic's PostgreSQL comparison runs `SELECT <reflected> = <model>` pasted together:
        # a quote in a default is a syntax error, and any SQL text in it runs. The normal
        # form above decides instead: not the same is a change.
        alter_column_op.existing_server_default = reflected_default
        alter_column_op.modify_server_default = model_default
        return STOP
    return CONTINUE


def _compiled(default: DefaultClause, dialect: Any) -> str:
    """The model's default as the database reports it back: a str is a string literal, its
    quotes doubled (the dialect's own literal would also double '%' for its paramstyle)."""
    if isinstance(default.arg, str):
        return "'" + default.arg.replace("'", "''") + "'"
    return str(default.arg.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _text(argument: Any) -> str:
    return str(getattr(argument, "text", argument))


def primary_key_nullability(
    autogen_context: Any,
    alter_column_op: Any,
    schema: str | None,
    table: str,
    column: str,
    reflected: Any,
    model: Any,
) -> PriorityDispatchResult:
    """A primary-key column the model leaves nullable is NOT NULL wherever the database
    insists (everywhere but SQLite), as `create_all` makes it: no change."""
    if model.primary_key and autogen_context.dialect.name != "sqlite" and not reflected.nullable:
        alter_column_op.existing_nullable = reflected.nullable
        return STOP
    return CONTINUE


def check_constraints(
    autogen_context: Any,
    modify_table_ops: Any,
    schema: str | None,
    table: str,
    reflected_table: Any,
    model_table: Any,
) -> PriorityDispatchResult:
    """Check constraints by their name in the database (Alembic's checkconstraint_byname
    takes a name a naming convention gives a Boolean's check as no name), and only those
    CREATE TABLE makes on this dialect (a Boolean's is none where booleans are native).
    Those the database names itself are paired with the model's unnamed ones by expression,
    else by count. Operations are built from copies: one built from the model's own check
    would attach a new copy of it to the model's table (SQLAlchemy does that)."""
    from alembic.operations import ops
    from sqlalchemy import CheckConstraint

    from project.adapter.internals import (
        check_sql,
        created_on,
        drop_with_reflected,
        final_name,
        in_model_order,
        is_type_bound,
        reflected_check_constraints,
    )

    if reflected_table is None or model_table is None:
        return CONTINUE
    dialect = autogen_context.dialect
    try:
        reflected = reflected_check_constraints(autogen_context.inspector, table, schema)
    except NotImplementedError:
        return CONTINUE
    reflected = [r for r in reflected if not _is_implicit_check(r, dialect)]
    # A Boolean's or Enum's check comes with its column, or its new type: Alembic's
    # add_column and alter_column make it.
    changed = {op.column.name for op in modify_table_ops.ops if isinstance(op, ops.AddColumnOp)}
    changed |= {
        op.column_name
        for op in modify_table_ops.ops
        if isinstance(op, ops.AlterColumnOp) and op.modify_type is not None
    }
    model = [
        c
        for c in in_model_order(
            (*model_table.constraints, *(k for col in model_table.c for k in col.constraints))
        )
        if isinstance(c, CheckConstraint)
        and created_on(c, dialect)
        and not (is_type_bound(c) and {col.name for col in c.columns} & changed)
    ]
    named = {name: c for c in model if (name := final_name(c, dialect))}
    unnamed = [check_sql(c, dialect) for c in model if not final_name(c, dialect)]
    others = [r for r in reflected if r.get("name") not in named]
    missing, extra = _pair(unnamed, others, table)
    add, drop = modify_table_ops.ops.append, modify_table_ops.ops.append

    def dropped(found: dict[str, Any]) -> Any:
        again = ops.CreateCheckConstraintOp(found["name"], table, found["sqltext"], schema=schema)
        drop = ops.DropConstraintOp(found["name"], table, "check", schema=schema)
        return drop_with_reflected(drop, again)

    for found in extra:
        if found.get("name"):  # SQLite's unnamed ones go with its batch copy (table_args)
            drop(dropped(found))
    for sql in missing:  # named when it is written (project.autogen.per_app.name_added_constraints)
        add(ops.CreateCheckConstraintOp(None, table, sql, schema=schema))
    have = {r.get("name"): r for r in reflected}
    for name in sorted(set(named) - set(have)):
        add(
            ops.CreateCheckConstraintOp(name, table, check_sql(named[name], dialect), schema=schema)
        )
    for name in sorted(set(named) & set(have)):
        if _enum_values_changed(named[name], have[name]):
            drop(dropped(have[name]))
            add(
                ops.CreateCheckConstraintOp(
                    name, table, check_sql(named[name], dialect), schema=schema
                )
            )
    return CONTINUE


def _enum_values_changed(model: Any, reflected: dict[str, Any]) -> bool:
    """A non-native Enum's check keeps its name when its values change; its values are the
    quoted words of the check as every database reports it."""
    from sqlalchemy import Enum

    from project.adapter.internals import is_type_bound

    columns = list(model.columns)
    if not (is_type_bound(model) and columns and isinstance(columns[0].type, Enum)):
        return False
    told = re.findall(r"'((?:[^']|'')*)'", str(reflected.get("sqltext", "")))
    return sorted(v.replace("''", "'") for v in told) != sorted(columns[0].type.enums)


def _pair(
    model: list[str], reflected: list[dict[str, Any]], table: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """(the model's unnamed checks the database lacks, the database's checks the model
    lacks): equal expressions pair first; then the names the database chose (or that ours
    gave a check added later) pair with what is left, by count, the model's in its order
    (so a check written last is the one taken for new)."""
    left = list(model)
    unpaired = []
    for found in reflected:
        words = _check_words(str(found.get("sqltext", "")))
        match = next((sql for sql in left if _check_words(sql) == words), None)
        if match is not None:
            left.remove(match)
        else:
            unpaired.append(found)
    chosen = [f for f in unpaired if _chosen_name(f.get("name"), table)]
    paired = chosen[: len(left)]
    return left[len(paired) :], [f for f in unpaired if f not in paired]


_GENERATED_CHECK = (
    r"CONSTRAINT_\d+",  # MariaDB
    r"{table}(_\w+)?_check\d*",  # PostgreSQL
    r"ck_{table}_[0-9a-f]{{8}}",  # ours, for a check added to an existing table
)


def _chosen_name(name: str | None, table: str) -> bool:
    """A name the database chose itself (SQLite keeps none)."""
    if name is None:
        return True
    return any(
        re.fullmatch(pattern.format(table=re.escape(table)), name) for pattern in _GENERATED_CHECK
    )


def _check_words(sql: str) -> str:
    """A check's expression as the databases agree on it: PostgreSQL's casts and
    `= ANY (ARRAY[...])`, quoting, parentheses and spacing are not differences."""
    words = re.sub(r"::[a-z_]+( [a-z_]+)*(\[\])?", "", sql.lower())
    words = words.replace("octet_length(", "length(")  # MariaDB's word for length()
    words = re.sub(r"[\s()\"`]", "", words)
    return words.replace("=anyarray[", "in").replace("]", "")


def _is_implicit_check(reflected: dict[str, Any], dialect: Any) -> bool:
    """MariaDB's JSON is LONGTEXT with a json_valid() check it adds by itself."""
    return dialect.name in ("mysql", "mariadb") and "json_valid(" in str(reflected.get("sqltext"))


def unique_primary_keys(
    autogen_context: Any,
    modify_table_ops: Any,
    schema: str | None,
    table: str,
    reflected_table: Any,
    model_table: Any,
) -> PriorityDispatchResult:
    """PostgreSQL's CREATE TABLE leaves out a UNIQUE on exactly the primary key's columns
    (`create_all` makes none either), so the one Alembic then wants to add is no change."""
    from alembic.operations import ops

    if autogen_context.dialect.name != "postgresql" or model_table is None:
        return CONTINUE
    key = {column.name for column in model_table.primary_key.columns}
    modify_table_ops.ops = [
        op
        for op in modify_table_ops.ops
        if not (
            isinstance(op, ops.CreateUniqueConstraintOp)
            and set(op.columns) == key
            or isinstance(op, ops.AddConstraintOp)
            and getattr(op, "constraint_type", None) == "unique"
            and set(getattr(op, "columns", ())) == key
        )
    ]
    return CONTINUE


def computed_columns(
    autogen_context: Any,
    modify_table_ops: Any,
    schema: str | None,
    table: str,
    reflected_table: Any,
    model_table: Any,
) -> PriorityDispatchResult:
    """A generated column whose expression changed (or that became, or stopped being, one)
    cannot be altered: it is dropped and added again, with its indexes. Between two
    expressions that loses nothing (the values are computed); a plain column's values are
    lost, and project.autogen.describe marks that. Alembic only warns."""
    from alembic.operations import ops

    from project.adapter.internals import normalized_computed

    if reflected_table is None or model_table is None:
        return CONTINUE
    for column in model_table.columns:
        if column.name not in reflected_table.c:
            continue
        reflected = reflected_table.c[column.name]
        old = _expression(autogen_context, reflected.server_default)
        new = _expression(autogen_context, column.server_default)
        if old == new or not (old or new):
            continue
        if (
            old
            and new
            and normalized_computed(autogen_context, old)
            == normalized_computed(autogen_context, new)
        ):
            continue
        # Its indexes go with the column: dropped first, made again after it.
        drops = [ops.DropIndexOp.from_index(i) for i in _indexes_on(reflected_table, column.name)]
        creates = [ops.CreateIndexOp.from_index(i) for i in _indexes_on(model_table, column.name)]
        modify_table_ops.ops += [
            *drops,
            ops.DropColumnOp.from_column_and_tablename(schema, table, reflected),
            ops.AddColumnOp.from_column_and_tablename(schema, table, column),
            *creates,
        ]
    return CONTINUE


def _indexes_on(table: Any, column: str) -> list[Any]:
    """The table's indexes on the column, one for each name (a reflected table may hold an
    index twice)."""
    found = {str(i.name): i for i in table.indexes if column in {c.name for c in i.columns}}
    return [found[name] for name in sorted(found)]


def _expression(autogen_context: Any, default: Any) -> str | None:
    if not isinstance(default, Computed):
        return None
    return str(
        default.sqltext.compile(
            dialect=autogen_context.dialect, compile_kwargs={"literal_binds": True}
        )
    )


# Index options each database reports back, by the dialect prefix of the keyword.
_INDEX_OPTIONS = {
    "postgresql": ("postgresql_where", "postgresql_using", "postgresql_include"),
    "mysql": ("mysql_length",),
    "mariadb": ("mysql_length",),
    "sqlite": ("sqlite_where",),
}


def index_options(
    autogen_context: Any,
    modify_table_ops: Any,
    schema: str | None,
    table: str,
    reflected_table: Any,
    model_table: Any,
) -> PriorityDispatchResult:
    """An index whose partial condition, method, included columns or prefix lengths changed
    (set, changed or removed) is dropped and created again (Alembic compares names, columns
    and uniqueness only). The reflected table already carries what the database says."""
    from alembic.operations import ops

    if reflected_table is None or model_table is None:
        return CONTINUE
    dialect = autogen_context.dialect
    keys = _INDEX_OPTIONS.get(dialect.name, ())
    reflected = {str(i.name): i for i in reflected_table.indexes}
    changed = {getattr(op, "index_name", None) for op in modify_table_ops.ops}
    for index in sorted(model_table.indexes, key=lambda i: str(i.name)):
        found = reflected.get(str(index.name))
        if found is None or index.name in changed or not keys:
            continue
        if any(_option(index, key, dialect) != _option(found, key, dialect) for key in keys):
            modify_table_ops.ops.append(ops.DropIndexOp.from_index(found))
            modify_table_ops.ops.append(ops.CreateIndexOp.from_index(index))
    return CONTINUE


def _option(index: Any, key: str, dialect: Any) -> Any:
    """An index option as the database keeps it; unset is the database's default."""
    value = index.kwargs.get(key)
    if key.endswith("_where"):  # as CREATE INDEX writes it
        if value is None:
            return None
        from sqlalchemy import text
        from sqlalchemy.schema import CreateIndex

        expression = text(value) if isinstance(value, str) else value
        compiler = dialect.ddl_compiler(dialect, CreateIndex(index))
        sql = compiler.sql_compiler.process(expression, include_table=False, literal_binds=True)
        return _words(str(sql))
    if key == "mysql_length":
        return _prefix_lengths(index, value, dialect) if value else {}
    if key == "postgresql_using":
        return str(value or "btree").lower()
    if key == "postgresql_include":
        return [getattr(c, "name", c) for c in value or ()]
    return value


def _prefix_lengths(index: Any, value: Any, dialect: Any) -> dict[str, int]:
    """The prefix lengths MySQL/MariaDB keep: always on BLOB and TEXT columns, on (VAR)CHAR
    and (VAR)BINARY ones when shorter than the column (else it is the whole column); other
    types take none."""
    wanted = value if isinstance(value, dict) else {c.name: value for c in index.columns}
    kept = {}
    for column in index.columns:
        length = wanted.get(column.name)
        if length is None:
            continue
        compiled = dialect.type_compiler.process(column.type).upper()
        sized = re.match(r"^(VAR)?(CHAR|BINARY)\((\d+)\)", compiled)
        if "BLOB" in compiled or "TEXT" in compiled or (sized and int(sized.group(3)) > length):
            kept[column.name] = length
    return kept


def _words(sql: str) -> str:
    """`(room > 0)` and `room > 0` say the same."""
    return re.sub(r"[\s()\"`]", "", sql).lower()


# A model's MySQL/MariaDB table options, and the key reflection reports each under.
_TABLE_OPTIONS = {
    "mysql_engine": "mysql_engine",
    "mysql_charset": "mysql_default charset",
    "mysql_collate": "mysql_collate",
}


def table_options(
    autogen_context: Any,
    modify_table_ops: Any,
    schema: str | None,
    table: str,
    reflected_table: Any,
    model_table: Any,
) -> PriorityDispatchResult:
    """MySQL/MariaDB engine, character set and collation, where the model sets them
    (Alembic compares none of them)."""
    from project.adapter.internals import reflected_table_options
    from project.engine.operations import AlterTableOptionsOp

    if reflected_table is None or model_table is None:
        return CONTINUE
    if autogen_context.dialect.name not in ("mysql", "mariadb"):
        return CONTINUE
    reflected = reflected_table_options(autogen_context.inspector, table, schema)
    # The mariadb dialect (a mariadb:// URL) reports them as mariadb_..., mysql's as mysql_...
    told = {key.replace("mariadb_", "mysql_", 1): value for key, value in reflected.items()}
    wanted = _model_table_options(model_table.dialect_kwargs)
    changed = {
        key: value
        for key, value in wanted.items()
        if _charset_words(told.get(_TABLE_OPTIONS[key], "")) != _charset_words(value)
    }
    if changed:
        existing = {key: told.get(_TABLE_OPTIONS[key]) for key in changed}
        modify_table_ops.ops.append(AlterTableOptionsOp(table, schema, existing, **changed))
    return CONTINUE


def _charset_words(value: Any) -> str:
    """MariaDB reports `utf8` (and its collations) as `utf8mb3`."""
    words = str(value or "").lower()
    return re.sub(r"^utf8(?=$|_)", "utf8mb3", words)


def _model_table_options(kwargs: Any) -> dict[str, Any]:
    aliases = {
        "engine": "mysql_engine",
        "charset": "mysql_charset",
        "default_charset": "mysql_charset",
        "character_set": "mysql_charset",
        "collate": "mysql_collate",
    }
    found: dict[str, Any] = {}
    for key, value in kwargs.items():
        prefix, _, name = key.partition("_")
        if prefix in ("mysql", "mariadb") and name in aliases and value:
            found[aliases[name]] = value
    return found
