"""A whole database schema as plain data, and the differences between two such descriptions.

For the tests that prove `migrate` builds exactly what `metadata.create_all()` builds: both
databases (of the same kind) are described the same way and `differences` must be empty.
Reflection (`sqlalchemy.inspect`) comes first; where it says too little, the database's own
catalog fills in, because a gap in reflection hides a real difference on both sides alike.
Nothing is normalised: a name the database generated is part of the description.

What reflection does not tell, and where it is read instead:

- SQLite: column collations and AUTOINCREMENT (the table's SQL in `sqlite_master`, split into
  its clauses); ON DELETE / ON UPDATE / MATCH of foreign keys (`PRAGMA foreign_key_list`:
  SQLAlchemy's parser loses them after a MATCH clause and on inline REFERENCES) and
  DEFERRABLE / INITIALLY (the clause); expression indexes, which the inspector skips, and
  DESC or COLLATE in any index (`sqlite_master.sql`, as `definition`).
- PostgreSQL: sequence options and ownership (`pg_sequences`, `pg_depend`); DEFERRABLE of
  primary keys, uniques and checks, and exclusion constraints (`pg_get_constraintdef`, as
  `definition`); index collations and the rest of an index (`pg_indexes.indexdef`).
- MariaDB: sequence options (the sequence itself: 10.11 has no information_schema.SEQUENCES);
  column-level CHECKs, JSON's `json_valid` among them (information_schema.CHECK_CONSTRAINTS);
  INVISIBLE and the like (information_schema.COLUMNS.EXTRA); DESC, USING and COMMENT of an
  index (its line in SHOW CREATE TABLE, as `definition`).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.base import PGInspector
from sqlalchemy.engine import Connection, Dialect, Inspector

# Lists whose order the database does not define, sorted so that equal schemas describe equal.
UNORDERED = (
    "foreign_keys",
    "unique_constraints",
    "indexes",
    "check_constraints",
    "exclude_constraints",
)
ITEM_LABELS = {
    "foreign_keys": "foreign key",
    "unique_constraints": "unique constraint",
    "indexes": "index",
    "check_constraints": "check constraint",
    "exclude_constraints": "exclusion constraint",
}
SECTION_LABELS = {
    "tables": "table",
    "sequences": "sequence",
    "views": "view",
    "enums": "enum",
    "domains": "domain",
}
# PostgreSQL's pg_depend: how a sequence belongs to a column.
# The tables that record migrations (manage_migration_progress: on MySQL/MariaDB only).
BOOKKEEPING = ("alembic_version", "manage_migrations", "manage_migration_progress")
OWNERSHIP = {"a": "owned", "i": "identity"}  # SERIAL / OWNED BY; GENERATED ... AS IDENTITY
SQLITE_EXPRESSION_INDEX_WARNING = "Skipped unsupported reflection of expression-based index"


def describe(
    engine: sa.Engine,
    *,
    exclude: Collection[str] = BOOKKEEPING,
    schemas: Sequence[str | None] = (None,),
) -> dict[str, Any]:
    """Everything the database says about its schema, as plain data (JSON-serialisable),
    keyed by table: `{"tables": {name: ...}, "sequences": ..., "views": ...}`, plus
    `enums` and `domains` on PostgreSQL. A named schema's objects are keyed `schema.name`."""
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        description: dict[str, Any] = {"tables": {}, "sequences": {}, "views": {}}
        if connection.dialect.name == "postgresql":
            description |= {"enums": {}, "domains": {}}
        for schema in schemas:
            for name in sorted(inspector.get_table_names(schema=schema)):
                if name not in exclude and _key(schema, name) not in exclude:
                    description["tables"][_key(schema, name)] = _table(
                        connection, inspector, name, schema
                    )
            description["sequences"] |= _sequences(connection, inspector, schema, exclude)
            description["views"] |= _views(inspector, schema)
            if isinstance(inspector, PGInspector):
                description["enums"] |= _named(
                    inspector.get_enums(schema=schema), schema, connection.dialect
                )
                description["domains"] |= _named(
                    inspector.get_domains(schema=schema), schema, connection.dialect
                )
    return description


def differences(
    expected: dict[str, Any], actual: dict[str, Any], *, column_order: bool = True
) -> list[str]:
    """One readable line per difference, e.g. "table pets_pet, column name: type
    VARCHAR(50) != VARCHAR(80)"; [] when equal. "missing" is in `expected` only,
    "unexpected" in `actual` only. `column_order=False`: a column added to an existing
    table comes last (ALTER TABLE ADD COLUMN, on every database), so order is not compared."""
    lines: list[str] = []
    for section in sorted(expected.keys() | actual.keys()):
        compare = _table_differences if section == "tables" else _fields
        lines += _keyed(
            SECTION_LABELS.get(section, section),
            expected.get(section, {}),
            actual.get(section, {}),
            compare,
        )
    if not column_order:
        lines = [line for line in lines if ": column order " not in line]
    return lines


# --- describing: what the inspector says ---------------------------------------------------


def _key(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def _table_options(inspector: Inspector, name: str, schema: str | None) -> dict[str, Any]:
    """The table's options; SQLAlchemy 2.0 reflects none on SQLite (2.1 reads WITHOUT ROWID
    and STRICT) and says so with NotImplementedError."""
    try:
        return dict(inspector.get_table_options(name, schema))
    except NotImplementedError:
        return {}


def _table(
    connection: Connection, inspector: Inspector, name: str, schema: str | None
) -> dict[str, Any]:
    dialect = connection.dialect
    with warnings.catch_warnings():  # SQLite: read from sqlite_master below instead
        warnings.filterwarnings("ignore", message=SQLITE_EXPRESSION_INDEX_WARNING)
        table: dict[str, Any] = {
            "comment": (
                inspector.get_table_comment(name, schema)["text"]
                if dialect.supports_comments
                else None
            ),
            "options": _table_options(inspector, name, schema),
            "columns": inspector.get_columns(name, schema),
            "primary_key": inspector.get_pk_constraint(name, schema),
            "foreign_keys": inspector.get_foreign_keys(name, schema),
            "unique_constraints": inspector.get_unique_constraints(name, schema),
            "indexes": inspector.get_indexes(name, schema),
            "check_constraints": inspector.get_check_constraints(name, schema),
        }
    table = _plain(table, dialect)
    CATALOGS[dialect.name](connection, name, schema, table)
    for key in UNORDERED:
        if key in table:
            table[key] = _sorted(table[key])
    return table


def _plain(value: Any, dialect: Dialect) -> Any:
    """JSON-ready: types compiled for the dialect, SQL expressions as their text."""
    if isinstance(value, sa.types.TypeEngine):
        return _type_text(value, dialect)
    if isinstance(value, sa.sql.ClauseElement):
        return str(value.compile(dialect=dialect))
    if isinstance(value, dict):
        return {str(key): _plain(item, dialect) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, dialect) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _type_text(type_: sa.types.TypeEngine[Any], dialect: Dialect) -> str:
    try:
        return type_.compile(dialect=dialect)
    except sa.exc.CompileError:  # NullType: a type SQLAlchemy did not recognise
        return repr(type_)


def _sorted(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: (str(item.get("name")), json.dumps(item, sort_keys=True)))


def _named(items: list[Any], schema: str | None, dialect: Dialect) -> dict[str, Any]:
    return {_key(schema, item["name"]): _plain(item, dialect) for item in items}


def _sequences(
    connection: Connection, inspector: Inspector, schema: str | None, exclude: Collection[str]
) -> dict[str, Any]:
    if connection.dialect.name == "sqlite":
        return {}
    read = {"postgresql": _postgresql_sequences, "mysql": _mariadb_sequence}
    options = read[connection.dialect.name]
    found: dict[str, Any] = {}
    for name in sorted(inspector.get_sequence_names(schema=schema)):
        sequence = options(connection, schema, name)
        owner = (sequence.get("owned_by") or "").split(".")[0]
        if owner not in exclude and _key(schema, owner) not in exclude:
            found[_key(schema, name)] = sequence
    return found


def _views(inspector: Inspector, schema: str | None) -> dict[str, Any]:
    return {
        _key(schema, name): {"definition": inspector.get_view_definition(name, schema)}
        for name in sorted(inspector.get_view_names(schema=schema))
    }


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote_identifier(name)


def _rows(connection: Connection, sql: str, **parameters: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in connection.execute(sa.text(sql), parameters).mappings()]


# --- describing: what only the catalog says ------------------------------------------------


def _sqlite_catalog(
    connection: Connection, name: str, schema: str | None, table: dict[str, Any]
) -> None:
    prefix = f"{_quote(connection, schema)}." if schema else ""
    sql = connection.execute(
        sa.text(f"SELECT sql FROM {prefix}sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": name},
    ).scalar_one()
    clauses = _sqlite_clauses(sql)
    columns = {_sqlite_identifier(c).lower(): c for c in clauses if not _is_table_constraint(c)}
    for column in table["columns"]:
        clause = columns.get(column["name"].lower(), "")
        if collation := _sqlite_collation(clause):
            column["collation"] = collation
        if re.search(r"\bAUTOINCREMENT\b", clause, re.IGNORECASE):
            table["options"]["sqlite_autoincrement"] = True
    _sqlite_foreign_key_options(connection, prefix, name, clauses, table["foreign_keys"])
    _sqlite_index_definitions(connection, prefix, name, table["indexes"])


def _sqlite_clauses(sql: str) -> list[str]:
    """The column definitions and table constraints of a CREATE TABLE, split at top-level
    commas (outside parentheses and quotes)."""
    body = sql[sql.index("(") + 1 : sql.rindex(")")]
    clauses, depth, quote, start = [], 0, "", 0
    for position, char in enumerate(body):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"`[":
            quote = "]" if char == "[" else char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            clauses.append(body[start:position].strip())
            start = position + 1
    clauses.append(body[start:].strip())
    return clauses


SQLITE_IDENTIFIER = r'"(?:[^"]|"")+"|`(?:[^`]|``)+`|\[[^\]]+\]|\'(?:[^\']|\'\')+\'|[^\s(),]+'


def _sqlite_identifier(text: str) -> str:
    match = re.match(SQLITE_IDENTIFIER, text.strip())
    word = match.group(0) if match else ""
    if word.startswith("["):
        return word[1:-1]
    if word[:1] in ('"', "`", "'"):
        return word[1:-1].replace(word[0] * 2, word[0])
    return word


def _is_table_constraint(clause: str) -> bool:
    return bool(re.match(r"(CONSTRAINT|PRIMARY|UNIQUE|CHECK|FOREIGN)\b", clause, re.IGNORECASE))


def _sqlite_collation(clause: str) -> str | None:
    match = re.search(rf"\bCOLLATE\s+({SQLITE_IDENTIFIER})", clause, re.IGNORECASE)
    return _sqlite_identifier(match.group(1)) if match else None


def _sqlite_foreign_key_options(
    connection: Connection,
    prefix: str,
    name: str,
    clauses: list[str],
    foreign_keys: list[dict[str, Any]],
) -> None:
    """ON DELETE / ON UPDATE from the pragma (what SQLite enforces); MATCH, DEFERRABLE and
    INITIALLY from the clause (SQLite keeps but ignores them: the pragma's `match` is always
    NONE); written as the inspector writes them."""
    pragma = f"PRAGMA {prefix}foreign_key_list({_quote(connection, name)})"
    groups: dict[int, list[dict[str, Any]]] = {}
    for row in _rows(connection, pragma):
        groups.setdefault(row["id"], []).append(row)
    by_signature = {
        (
            tuple(r["from"].lower() for r in sorted(rows, key=lambda r: r["seq"])),
            rows[0]["table"].lower(),
        ): rows[0]
        for rows in groups.values()
    }
    timing = dict(_sqlite_timing(clause) for clause in clauses if "REFERENCES" in clause.upper())
    for foreign_key in foreign_keys:
        signature = (
            tuple(c.lower() for c in foreign_key["constrained_columns"]),
            foreign_key["referred_table"].lower(),
        )
        options = foreign_key["options"]
        if rule := by_signature.get(signature):
            for option, value in (("ondelete", rule["on_delete"]), ("onupdate", rule["on_update"])):
                if value != "NO ACTION":
                    options[option] = value
        options |= timing.get(signature, {})


def _sqlite_timing(clause: str) -> tuple[tuple[tuple[str, ...], str], dict[str, Any]]:
    """((constrained columns, referred table), {match, deferrable, initially}) of a clause."""
    table_level = re.search(r"FOREIGN\s+KEY\s*\(([^)]*)\)", clause, re.IGNORECASE)
    names = table_level.group(1).split(",") if table_level else [clause]
    columns = tuple(_sqlite_identifier(n).lower() for n in names)
    after = clause[clause.upper().index("REFERENCES") + len("REFERENCES") :]
    referred = _sqlite_identifier(after).lower()
    options: dict[str, Any] = {}
    if match := re.search(r"\bMATCH\s+(\w+)", after, re.IGNORECASE):
        options["match"] = match.group(1).upper()
    timing = re.search(
        r"\b(NOT\s+)?DEFERRABLE\b(?:\s+INITIALLY\s+(DEFERRED|IMMEDIATE))?", after, re.IGNORECASE
    )
    if timing:
        options["deferrable"] = not timing.group(1)
        if timing.group(2):
            options["initially"] = timing.group(2).upper()
    return (columns, referred), options


def _sqlite_index_definitions(
    connection: Connection, prefix: str, name: str, indexes: list[dict[str, Any]]
) -> None:
    """Each index's CREATE INDEX as stored; expression indexes, which the inspector skips,
    are added with their name and definition only."""
    stored = {
        row["name"]: row["sql"]
        for row in _rows(
            connection,
            f"SELECT name, sql FROM {prefix}sqlite_master "
            "WHERE type = 'index' AND tbl_name = :table AND sql IS NOT NULL",
            table=name,
        )
    }
    for index in indexes:
        index["definition"] = stored.pop(index["name"], None)
    indexes += [{"name": n, "definition": sql} for n, sql in stored.items()]


def _postgresql_catalog(
    connection: Connection, name: str, schema: str | None, table: dict[str, Any]
) -> None:
    namespace = schema or connection.execute(sa.text("SELECT current_schema()")).scalar_one()
    constraints = _rows(
        connection,
        "SELECT con.conname AS name, con.contype AS kind, "
        "pg_get_constraintdef(con.oid) AS definition FROM pg_constraint con "
        "JOIN pg_class c ON c.oid = con.conrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = :schema AND c.relname = :table AND con.contype IN ('p','f','u','c','x')",
        schema=namespace,
        table=name,
    )
    definitions = {c["name"]: c["definition"] for c in constraints}
    for key in ("foreign_keys", "unique_constraints", "check_constraints"):
        for item in table[key]:
            item["definition"] = definitions.get(item["name"])
    table["primary_key"]["definition"] = definitions.get(table["primary_key"]["name"])
    table["exclude_constraints"] = [
        {"name": c["name"], "definition": c["definition"]} for c in constraints if c["kind"] == "x"
    ]
    indexdefs = {
        row["indexname"]: row["indexdef"]
        for row in _rows(
            connection,
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = :schema AND tablename = :table",
            schema=namespace,
            table=name,
        )
    }
    for index in table["indexes"]:
        index["definition"] = indexdefs.get(index["name"])


def _postgresql_sequences(connection: Connection, schema: str | None, name: str) -> dict[str, Any]:
    row = _rows(
        connection,
        "SELECT s.data_type::text AS data_type, s.start_value AS start, "
        "s.increment_by AS increment, s.min_value AS minvalue, s.max_value AS maxvalue, "
        "s.cycle, s.cache_size AS cache, d.deptype, t.relname AS owner_table, "
        "a.attname AS owner_column FROM pg_sequences s "
        "JOIN pg_namespace n ON n.nspname = s.schemaname "
        "JOIN pg_class c ON c.relname = s.sequencename AND c.relnamespace = n.oid "
        "LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid "
        "AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
        "LEFT JOIN pg_class t ON t.oid = d.refobjid "
        "LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
        "WHERE s.schemaname = coalesce(:schema, current_schema()) AND s.sequencename = :name",
        schema=schema,
        name=name,
    )[0]
    table, column, kind = row.pop("owner_table"), row.pop("owner_column"), row.pop("deptype")
    row["owned_by"] = f"{table}.{column}" if table else None
    row["ownership"] = OWNERSHIP.get(kind) if kind else None
    return row


def _mariadb_catalog(
    connection: Connection, name: str, schema: str | None, table: dict[str, Any]
) -> None:
    database = schema or connection.execute(sa.text("SELECT database()")).scalar_one()
    place = {"schema": database, "table": name}
    extra = {
        row["COLUMN_NAME"]: row["EXTRA"]
        for row in _rows(
            connection,
            "SELECT COLUMN_NAME, EXTRA FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = :schema AND TABLE_NAME = :table",
            **place,
        )
    }
    for column in table["columns"]:
        if extra.get(column["name"]):
            column["extra"] = extra[column["name"]]
    table["check_constraints"] += [
        {"name": row["CONSTRAINT_NAME"], "sqltext": row["CHECK_CLAUSE"], "level": "Column"}
        for row in _rows(
            connection,
            "SELECT CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = :schema AND TABLE_NAME = :table AND LEVEL = 'Column'",
            **place,
        )
    ]
    qualified = f"{_quote(connection, database)}.{_quote(connection, name)}"
    created = connection.execute(sa.text(f"SHOW CREATE TABLE {qualified}")).one()[1]
    keys = dict(_mariadb_keys(created))
    table["primary_key"]["definition"] = keys.get(None)
    for index in table["indexes"]:
        index["definition"] = keys.get(index["name"])


def _mariadb_keys(created: str) -> Iterator[tuple[str | None, str]]:
    """(index name, its line) from SHOW CREATE TABLE; the primary key's name is None."""
    for line in created.splitlines():
        line = line.strip().rstrip(",")
        if line.startswith("PRIMARY KEY"):
            yield None, line
        elif match := re.match(r"(?:(?:UNIQUE|FULLTEXT|SPATIAL) )?KEY `((?:``|[^`])+)`", line):
            yield match.group(1).replace("``", "`"), line


def _mariadb_sequence(connection: Connection, schema: str | None, name: str) -> dict[str, Any]:
    """MariaDB 10.11 has no information_schema.SEQUENCES; a sequence is a one-row table."""
    qualified = _quote(connection, name)
    if schema:
        qualified = f"{_quote(connection, schema)}.{qualified}"
    row = _rows(connection, f"SELECT * FROM {qualified}")[0]
    return {ours: row[theirs] for ours, theirs in MARIADB_SEQUENCE_COLUMNS.items()}


# Named as PostgreSQL's are; next_not_cached_value and cycle_count are state, not schema.
MARIADB_SEQUENCE_COLUMNS = {
    "start": "start_value",
    "increment": "increment",
    "minvalue": "minimum_value",
    "maxvalue": "maximum_value",
    "cycle": "cycle_option",
    "cache": "cache_size",
}


CATALOGS: dict[str, Callable[[Connection, str, str | None, dict[str, Any]], None]] = {
    "sqlite": _sqlite_catalog,
    "postgresql": _postgresql_catalog,
    "mysql": _mariadb_catalog,
}


# --- comparing -----------------------------------------------------------------------------

ABSENT = object()


def _keyed(
    label: str,
    expected: dict[str, Any],
    actual: dict[str, Any],
    compare: Callable[[str, Any, Any], list[str]],
) -> list[str]:
    lines: list[str] = []
    for name in sorted(expected.keys() | actual.keys()):
        where = f"{label} {name}"
        if name not in actual:
            lines.append(f"{where}: missing")
        elif name not in expected:
            lines.append(f"{where}: unexpected")
        else:
            lines += compare(where, expected[name], actual[name])
    return lines


def _fields(where: str, expected: Any, actual: Any, path: str = "") -> list[str]:
    """Dicts compared key by key (dotted paths); anything else compared whole."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        lines: list[str] = []
        for key in sorted(expected.keys() | actual.keys()):
            lines += _fields(
                where,
                expected.get(key, ABSENT),
                actual.get(key, ABSENT),
                f"{path}.{key}" if path else key,
            )
        return lines
    if expected == actual:
        return []
    return [f"{where}: {path + ' ' if path else ''}{_show(expected)} != {_show(actual)}"]


def _show(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    return value if isinstance(value, str) and value else repr(value)


def _table_differences(where: str, expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key in sorted(expected.keys() | actual.keys(), key=_table_key_order):
        mine, theirs = expected.get(key, ABSENT), actual.get(key, ABSENT)
        if key == "columns":
            lines += _columns(where, mine, theirs)
        elif key in ITEM_LABELS:
            lines += _items(
                where,
                ITEM_LABELS[key],
                [] if mine is ABSENT else mine,
                [] if theirs is ABSENT else theirs,
            )
        elif key == "primary_key":
            lines += _fields(f"{where}, primary key", mine, theirs)
        else:
            lines += _fields(where, mine, theirs, key)
    return lines


def _table_key_order(key: str) -> tuple[int, str]:
    order = ["comment", "options", "columns", "primary_key", *UNORDERED]
    return (order.index(key) if key in order else len(order), key)


def _columns(where: str, expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    mine = {c["name"]: c for c in expected}
    theirs = {c["name"]: c for c in actual}
    lines = [f"{where}, column {n}: missing" for n in mine if n not in theirs]
    lines += [f"{where}, column {n}: unexpected" for n in theirs if n not in mine]
    both = [n for n in mine if n in theirs]
    actual_order = [n for n in theirs if n in mine]
    if both != actual_order:
        lines.append(f"{where}: column order {', '.join(both)} != {', '.join(actual_order)}")
    for name in both:
        lines += _fields(f"{where}, column {name}", mine[name], theirs[name])
    return lines


def _items(
    where: str, label: str, expected: list[dict[str, Any]], actual: list[dict[str, Any]]
) -> list[str]:
    """Equal items cancel out; the rest pair up by name (unnamed ones by what they cover)."""
    mine, theirs = list(expected), list(actual)
    for item in expected:
        if item in theirs:
            mine.remove(item)
            theirs.remove(item)
    lines: list[str] = []
    for name in sorted({_item_name(i) for i in mine} | {_item_name(i) for i in theirs}):
        left = [i for i in mine if _item_name(i) == name]
        right = [i for i in theirs if _item_name(i) == name]
        for one, other in zip(left, right):
            lines += _fields(f"{where}, {label} {name}", one, other)
        lines += [f"{where}, {label} {name}: missing"] * max(0, len(left) - len(right))
        lines += [f"{where}, {label} {name}: unexpected"] * max(0, len(right) - len(left))
    return lines


def _item_name(item: dict[str, Any]) -> str:
    if item.get("name"):
        return str(item["name"])
    columns = item.get("constrained_columns") or item.get("column_names")
    if columns is not None:
        covered = f"({', '.join(map(str, columns))})"
        if "referred_table" in item:
            referred = ", ".join(map(str, item.get("referred_columns", [])))
            return f"{covered} -> {item['referred_table']}({referred})"
        return covered
    return str(item.get("sqltext") or item.get("definition") or "(unnamed)")
