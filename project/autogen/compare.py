"""Compare models with a reflected database without phantom differences.

Each database reports server defaults in its own words: MariaDB says
`current_timestamp()` for `now()` and `0` for `false`, SQLite wraps expressions in
parentheses, PostgreSQL adds casts. We normalise both sides and call them equal when
they say the same thing; anything else is left to Alembic, so real changes are found.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

_SYNONYMS = {
    "now()": "current_timestamp",
    "current_timestamp()": "current_timestamp",
    "localtimestamp": "current_timestamp",
    "localtimestamp()": "current_timestamp",
    "transaction_timestamp()": "current_timestamp",
    "current_date()": "current_date",
    "curdate()": "current_date",
    "current_time()": "current_time",
    "curtime()": "current_time",
    "true": "1",
    "false": "0",
}
_CAST = re.compile(r"::\s*[a-z_][\w ]*(\(\s*\d+(\s*,\s*\d+)?\s*\))?(\[\])?$", re.IGNORECASE)
_QUOTED = re.compile(r"^'((?:[^']|'')*)'$")
# PostgreSQL's `nextval('seq'::regclass)` for a model's `nextval('seq')` (seq.next_value()).
_REGCLASS = re.compile(r"('(?:[^']|'')*')::\s*regclass\b", re.IGNORECASE)


def normalize_default(text: str | None) -> str | None:
    """One spelling for a server default, as far as the databases agree on its meaning."""
    if text is None:
        return None
    value = _REGCLASS.sub(r"\1", text.strip())
    while True:
        previous = value
        value = _CAST.sub("", value).strip()
        if _wraps_all(value):
            value = value[1:-1].strip()
        if value == previous:
            break
    quoted = _QUOTED.match(value)
    if quoted:
        return "'" + quoted.group(1).replace("''", "'") + "'"
    value = value.lower()
    return _SYNONYMS.get(value, value)


def same_server_default(reflected: str | None, model: str | None) -> bool:
    """Whether two server defaults, as the database reports one and the model renders the
    other, say the same thing."""
    if reflected is None or model is None:
        return reflected == model
    left, right = _as_literal(normalize_default(reflected)), _as_literal(normalize_default(model))
    return left == right or _same_number(left, right)


def compare_type(
    context: Any, reflected_column: Any, model_column: Any, reflected: Any, model: Any
) -> bool | None:
    """Alembic's `compare_type` hook: False when the database's name for the type is the
    model's in other words (MySQL's DOUBLE for FLOAT(53)), None to let Alembic decide."""
    from sqlalchemy.exc import CompileError

    dialect = context.dialect
    try:
        spoken = dialect.type_compiler.process(model)
        told = dialect.type_compiler.process(reflected)
    except (CompileError, NotImplementedError):  # not for this dialect: Alembic decides
        return None
    same = _type_words(spoken, dialect.name) == _type_words(told, dialect.name)
    return False if same else None


_FLOAT_PRECISION = re.compile(r"^FLOAT\((\d+)\)$")
_SIZED_LOB = re.compile(r"^(BLOB|TEXT)\((\d+)\)(.*)$")
# MySQL stores BLOB(n) and TEXT(n) as the smallest of these that holds n bytes.
_LOB_SIZES = ((255, "TINY"), (65535, ""), (16777215, "MEDIUM"), (4294967295, "LONG"))


def _type_words(compiled: str, dialect: str) -> str:
    """The type as the database will report it back."""
    words = " ".join(compiled.upper().split())
    if dialect not in ("mysql", "mariadb"):
        return words
    precision = _FLOAT_PRECISION.match(words)
    if precision:  # FLOAT(p): single precision up to 24, double above
        return "DOUBLE" if int(precision.group(1)) > 24 else "FLOAT"
    sized = _SIZED_LOB.match(words)
    if sized:
        kind, size, rest = sized.group(1), int(sized.group(2)), sized.group(3)
        prefix = next((p for limit, p in _LOB_SIZES if size <= limit), "LONG")
        return f"{prefix}{kind}{rest}"
    return words


def _as_literal(value: str | None) -> str | None:
    """'5' and 5, '1' and true: a quoted number or flag means the same as the bare one."""
    if value and value.startswith("'") and value.endswith("'"):
        inner = value[1:-1]
        if re.fullmatch(r"-?\d+(\.\d+)?", inner):
            return inner
    return value


def _same_number(a: str | None, b: str | None) -> bool:
    """0 and 0.00 (MariaDB reports a NUMERIC default at the column's scale)."""
    try:
        return a is not None and b is not None and Decimal(a) == Decimal(b)
    except InvalidOperation:
        return False


def _wraps_all(value: str) -> bool:
    """True for "(x)" but not for "(a) + (b)"."""
    if not (value.startswith("(") and value.endswith(")")):
        return False
    depth = 0
    for index, char in enumerate(value):
        depth += char == "("
        depth -= char == ")"
        if depth == 0 and index < len(value) - 1:
            return False
    return True


PLUGIN = "manage.compare"
# Alembic's own comparators and ours (project.autogen.comparators), which compare check constraints
# by their final names: our naming convention names unnamed ones by a hash of their
# expression, so a changed expression is found.
AUTOGENERATE_PLUGINS = ["alembic.autogenerate.*", PLUGIN]


IncludeObject = Callable[[Any, "str | None", str, bool, Any], bool]  # Alembic's include_object


def autogenerate_options(
    dialect: str, target: Any, include_object: IncludeObject, *, render: bool = False
) -> dict[str, Any]:
    """The one set of options every comparison runs with (makemigrations and its --update,
    `check` and `check --drift`, squashmigrations, adopting a database), so that they
    agree on what is a change; `render` adds what writing a migration file needs.

    `include_object` says what the command compares; our history tables are never
    compared, whatever it says (as Alembic leaves out its own version table)."""
    from project.engine.operations import load_dialect_plugins

    load_dialect_plugins(dialect)
    _register_plugin()
    options: dict[str, Any] = {
        "target_metadata": target,
        "include_object": _without_bookkeeping(include_object),
        "compare_type": compare_type,
        # True rather than a callable: Alembic hands a callable `.arg` of an Identity or
        # Computed default, which they lack; ours is a comparator in the plugin below.
        "compare_server_default": True,
        "autogenerate_plugins": AUTOGENERATE_PLUGINS,
    }
    schemas = {t.schema for metadata in _as_list(target) for t in metadata.tables.values()}
    if schemas - {None}:  # PostgreSQL schemas the models use, and no others
        options["include_schemas"] = True
        options["include_name"] = lambda name, type_, parents: (
            type_ != "schema" or name is None or name in schemas
        )
    if render:
        options.update(_render_options(dialect, target))
    return options


def _without_bookkeeping(include_object: IncludeObject) -> IncludeObject:
    from project.engine.recorder import TABLES

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and name in TABLES:
            return False
        return include_object(obj, name, type_, reflected, compare_to)

    return include


def _render_options(dialect_name: str, target: Any) -> dict[str, Any]:
    import functools

    from sqlalchemy.dialects import registry

    from project.autogen.render import register_renderers, render_item, type_check_names
    from project.backends import backend_for

    register_renderers()
    loaded = registry.load(dialect_name)
    # A class, except for "mariadb", whose loader hands back an instance.
    dialect = loaded() if isinstance(loaded, type) else loaded
    tables = [t for metadata in _as_list(target) for t in metadata.tables.values()]
    return {
        # SQLite cannot ALTER most things; batch mode re-creates the table, keeping its rows.
        "render_as_batch": backend_for(dialect_name).alters_by_copy,
        "render_item": functools.partial(
            render_item, check_names=type_check_names(tables, dialect)
        ),
    }


def _as_list(target: Any) -> list[Any]:
    if target is None:
        return []
    return list(target) if isinstance(target, (list, tuple)) else [target]


def _register_plugin() -> None:
    """Our comparators, as an Alembic plugin (Alembic 1.18's public way to add them)."""
    from alembic.runtime.plugins import Plugin
    from alembic.util import DispatchPriority

    from project.autogen import comparators, sequences

    if PLUGIN not in _registered:
        plugin = Plugin(PLUGIN)
        first = DispatchPriority.FIRST
        plugin.add_autogenerate_comparator(
            comparators.server_default, "column", "server_default", priority=first
        )
        plugin.add_autogenerate_comparator(
            comparators.primary_key_nullability, "column", "nullable", priority=first
        )
        plugin.add_autogenerate_comparator(
            comparators.check_constraints, "table", "checkconstraints"
        )
        plugin.add_autogenerate_comparator(sequences.compare_sequences, "schema", "sequences")
        plugin.add_autogenerate_comparator(sequences.compare_schemas, "schema", "schemas")
        for comparator in (
            comparators.computed_columns,
            comparators.index_options,
            comparators.table_options,
        ):
            plugin.add_autogenerate_comparator(comparator, "table", comparator.__name__)
        plugin.add_autogenerate_comparator(
            comparators.unique_primary_keys,
            "table",
            "unique_primary_keys",
            priority=DispatchPriority.LAST,
        )
        _registered.add(PLUGIN)


_registered: set[str] = set()
