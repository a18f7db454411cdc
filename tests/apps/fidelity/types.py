"""A project's own column types, as real projects write them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CHAR, Numeric
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType


class GUID(TypeDecorator[Any]):
    """PostgreSQL's UUID, else CHAR(32) (the SQLAlchemy documentation's recipe)."""

    impl = CHAR(32)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.UUID())
        return dialect.type_descriptor(CHAR(32))


class Money(TypeDecorator[Any]):
    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 12) -> None:
        super().__init__(precision=precision, scale=2)
        self.precision = precision

    def __repr__(self) -> str:
        return f"Money(precision={self.precision})"


class Point(UserDefinedType[Any]):
    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "VARCHAR(40)"


class Tiny(TypeEngine[int]):
    """A type compiled per dialect with @compiles."""

    __visit_name__ = "tiny"


@compiles(Tiny)
def _tiny(type_: Tiny, compiler: Any, **kw: Any) -> str:
    return "SMALLINT"
