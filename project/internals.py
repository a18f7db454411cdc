"""The non-public parts of SQLAlchemy and Alembic that fidelity needs, in one place.

Each use says why no public API serves. When a release breaks one, it breaks here, and
tests/test_internals.py says which.

- `IdentifierPreparer.format_constraint(constraint, _alembic_quote=False)`: the name a
  constraint really gets on a dialect, after the MetaData's naming convention (a Boolean's
  or an Enum's check constraint is named only when the DDL is compiled). Alembic calls it
  the same way (`sqla_compat._get_constraint_final_name`).
- `Constraint._create_rule`: whether a type's own check constraint is created at all on a
  dialect (a Boolean's is not where the database has a native boolean).
- `Constraint._type_bound`: the check constraint belongs to a column's type (Boolean, Enum).
- `alembic.autogenerate.render._render_column` and `_repr_type`: Alembic's rendering of a
  column and of a type, which we extend with what it leaves out (an explicit Sequence, the
  element type of a PostgreSQL ARRAY written where another dialect renders); `render_item`
  can only replace them.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Column, Constraint, Index
    from sqlalchemy.engine import Dialect


def final_name(constraint: Constraint | Index, dialect: Dialect) -> str | None:
    """The constraint's name in the database, or None when the database will choose one."""
    if constraint.name is None:
        return None
    name = dialect.identifier_preparer.format_constraint(constraint, _alembic_quote=False)
    return str(name) if name is not None else None


def created_on(constraint: Constraint, dialect: Dialect) -> bool:
    """Whether CREATE TABLE on this dialect makes the constraint (a type's check may not)."""
    rule = getattr(constraint, "_create_rule", None)
    return rule is None or bool(rule(SimpleNamespace(dialect=dialect)))


def is_type_bound(constraint: Constraint) -> bool:
    return bool(getattr(constraint, "_type_bound", False))


def render_column(column: Column[Any], autogen_context: Any) -> str:
    from alembic.autogenerate.render import _render_column

    return str(_render_column(column, autogen_context))


def render_type(type_: Any, autogen_context: Any) -> str:
    from alembic.autogenerate.render import _repr_type

    return str(_repr_type(type_, autogen_context))
