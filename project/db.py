"""The convenient default for models: a base class and one MetaData with a naming convention.

Not a requirement: models on a project's own declarative base or MetaData are migrated
too (project.engine.model_tables). The naming convention makes every constraint and index name
deterministic on every database, so autogenerate can compare and drop them by name.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import CheckConstraint, MetaData, Table
from sqlalchemy.orm import DeclarativeBase, declared_attr


def _check_name(constraint: CheckConstraint, table: Table) -> str:
    """A short hash of an unnamed check constraint's expression (named ones keep their name).

    The usual `%(constraint_name)s` would make every unnamed check constraint an import error.
    """
    return hashlib.sha1(str(constraint.sqltext).encode()).hexdigest()[:8]


NAMING_CONVENTION: dict[str, Any] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(check_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "check_name": _check_name,
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def app_label_of(module_name: str) -> str:
    """`apps.pets.models` -> `pets`: the package that holds the models module (Django's rule)."""
    parts = module_name.split(".")
    if "models" in parts[1:]:
        return parts[parts.index("models", 1) - 1]
    return parts[-1]


class Model(DeclarativeBase):
    """Base class of every model. The default table name is `<app label>_<class name>`."""

    metadata = metadata

    @declared_attr.directive
    def __tablename__(cls) -> str:
        return f"{app_label_of(cls.__module__)}_{cls.__name__.lower()}"
