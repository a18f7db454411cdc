"""inspectdb: models for the configured database's tables that no installed app owns, to
adopt a legacy database (Django's inspectdb).

"Owned" is what makemigrations leaves alone under PROTECT_UNOWNED_TABLES (one function,
project.autogen.planner.owner_of): a model's table or one an app's migrations created. The
bookkeeping tables are never written. A table named on the command line is written even
when an app owns it (as Django does), with a note: pasting it would define it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from project.autogen.drift import BOOKKEEPING
from project.autogen.planner import owner_of
from project.engine.model_tables import load_models
from project.engine.workspace import Workspace
from project.errors import ProjectError, UsageError

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    from project.settings import Settings


class UnknownTableError(ProjectError):
    """A table named on the command line is not in the database."""


@dataclass
class Inspection:
    code: str  # the models module
    tables: list[str]  # the tables it describes, sorted
    owned: dict[str, str] = field(default_factory=dict)  # {named table: the app owning it}
    # {written table: tables it refers to that neither it writes nor an app owns}
    unwritten: dict[str, list[str]] = field(default_factory=dict)


def inspectdb(settings: Settings, table_names: Sequence[str] = ()) -> Inspection:
    """The models module for `table_names`, or for every unowned table."""
    import sqlalchemy as sa

    from project.autogen.formatting import format_source
    from project.autogen.inspection import render_models
    from project.db import NAMING_CONVENTION

    workspace = Workspace(settings)
    model_owners = load_models(workspace.apps).owners
    history = workspace.history

    def owner(table: str) -> str | None:
        return owner_of(model_owners, history, table)

    with workspace.connect() as connection:
        existing = set(sa.inspect(connection).get_table_names())
        if table_names:
            tables = _named(table_names, existing)
        else:
            tables = sorted(name for name in existing - BOOKKEEPING if owner(name) is None)
        owned = {name: app for name in tables if (app := owner(name)) is not None}
        # The models' naming convention: names the database chose that match it are left
        # out of the model (it makes them again); others are written, so nothing is renamed.
        metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
        if tables:
            metadata.reflect(connection, only=tables)
        unwritten = _unwritten_targets(metadata, tables, lambda name: owner(name) is not None)
        code = render_models(metadata, connection, tables)
        connection.rollback()
    code = format_source(code, settings.base_dir / "models.py", sort_imports=True)
    return Inspection(code, tables, owned, unwritten)


def _unwritten_targets(
    metadata: MetaData, tables: list[str], owned: Callable[[str], bool]
) -> dict[str, list[str]]:
    """{table: the tables its foreign keys refer to that are neither written nor owned}."""
    found: dict[str, list[str]] = {}
    for name in tables:
        targets = {fk.column.table.name for fk in metadata.tables[name].foreign_keys}
        if missing := sorted(t for t in targets if t not in tables and not owned(t)):
            found[name] = missing
    return found


def _named(names: Sequence[str], existing: set[str]) -> list[str]:
    missing = [name for name in dict.fromkeys(names) if name not in existing]
    if missing:
        listed = ", ".join(f"'{name}'" for name in missing)
        raise UnknownTableError(
            f"No table {listed} in the database (run inspectdb without names to see the tables "
            "no app owns)."
        )
    bookkeeping = sorted(BOOKKEEPING & set(names))
    if bookkeeping:
        raise UsageError(
            f"Table '{bookkeeping[0]}' records which migrations ran; no model may describe it."
        )
    return sorted(set(names))
