"""Compare models with a reflected database without phantom differences.

Each database reports server defaults in its own words: MariaDB says
`current_timestamp()` for `now()` and `0` for `false`, SQLite wraps expressions in
parentheses, PostgreSQL adds casts. We normalise both sides and call them equal when
they say the same thing; anything else is left to Alembic, so real changes are found.
"""

from __future__ import annotations

import re
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


def normalize_default(text: str | None) -> str | None:
    """One spelling for a server default, as far as the databases agree on its meaning."""
    if text is None:
        return None
    value = text.strip()
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


def compare_server_default(
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Alembic's hook: False when both say the same, None to let Alembic decide."""
    if inspected_default is None or rendered_metadata_default is None:
        return None
    reflected = _as_literal(normalize_default(inspected_default))
    model = _as_literal(normalize_default(rendered_metadata_default))
    return False if reflected == model or _same_number(reflected, model) else None


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


def load_dialect_plugins(dialect: str) -> None:
    """Register what a dialect needs beyond Alembic, before comparing or migrating.

    PostgreSQL: alembic-postgresql-enum (the `postgresql` extra) creates, alters and drops
    native enum types, which Alembic alone does not. Imported only for PostgreSQL: it
    registers itself globally and would warn on every other database.
    """
    if dialect == "postgresql":
        try:
            import alembic_postgresql_enum  # noqa: F401
        except ImportError:
            pass
