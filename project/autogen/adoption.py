"""Adopting a database that a plain Alembic history brought to its head.

Its version table holds revisions that no app's migration has and our history table never
recorded: a foreign history. `migrate --fake-initial` adopts it when the live schema is what
the apps' initial migrations build (compared as `check --drift` compares, with those
migrations replayed on a scratch database: project.engine.scratch), tables no model owns aside.
Then the foreign rows leave the version table, our history table keeps them (app
`recorder.ADOPTED`), and the initial migrations are faked as `--fake-initial` always does.
Anything else that differs (the old history not at its head, models ahead of it) is refused,
naming the differences, with nothing changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from project.engine.history import quoted_revisions
from project.errors import ProjectError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from project.autogen.describe import Change
    from project.engine.workspace import Workspace

SHOWN_DIFFERENCES = 4


class AdoptionError(ProjectError):
    def __init__(self, revisions: Sequence[str], differences: Sequence[Change]) -> None:
        shown = "; ".join(str(change) for change in differences[:SHOWN_DIFFERENCES])
        more = (
            f"; and {len(differences) - SHOWN_DIFFERENCES} more"
            if len(differences) > SHOWN_DIFFERENCES
            else ""
        )
        super().__init__(
            f"Cannot adopt the database at revision {quoted_revisions(revisions)}: it differs from what "
            f"the apps' initial migrations build, which would need: {shown}{more}. Bring the old "
            "history to its head ('alembic upgrade head') or make the models match the database, "
            "then write the initial migrations again. Nothing was changed."
        )


def foreign_revisions(workspace: Workspace, connection: Connection) -> list[str]:
    """The version table's rows when none of them is ours (no migration file has it, our
    history table never recorded it, no squashed migration replaced it); else none."""
    from project.engine.recorder import read

    rows = workspace.version_rows(connection)
    if not rows:
        return []
    known = set(workspace.history.by_revision)  # loading the history finds the squashes too
    known |= workspace.view.replaced()
    known |= set(read(connection))
    return [] if known & set(rows) else list(rows)


def adopt(workspace: Workspace, connection: Connection, revisions: Sequence[str]) -> None:
    """Check the schema, then replace the foreign rows by nothing (the initial migrations
    are faked next, as --fake-initial does) and keep them in our history table."""
    from project.adapter import version_table
    from project.engine import recorder

    initials = [m.revision for m in workspace.history.migrations if not m.down_revisions]
    if not initials:
        raise ProjectError(
            f"Cannot adopt the database at revision {quoted_revisions(revisions)}: no app has "
            "migrations yet. Write each app's initial migration with makemigrations first."
        )
    differences = schema_differences(workspace, connection, initials)
    if differences:
        raise AdoptionError(revisions, differences)
    recorder.ensure(connection)
    for revision in revisions:
        version_table.remove(connection, [revision])
        recorder.adopted(connection, revision)
    connection.commit()


def schema_differences(
    workspace: Workspace, live: Connection, targets: Sequence[str]
) -> list[Change]:
    """What the live database would need to become the history at `targets`, leaving out
    the tables only the live database has (no app owns them: they stay)."""
    from project.autogen.drift import all_sequences, reflect_schema
    from project.autogen.drift import schema_differences as differences
    from project.engine.scratch import history_state

    with history_state(workspace, target=targets) as state:
        expected = reflect_schema(state.connection)
        sequences = all_sequences(state.connection)
    found = differences(live, expected, sequences)
    live.commit()
    owned = set(expected.tables) | {table.name for table in expected.tables.values()}
    return [
        change
        for change in found
        if not (change.whole_table and change.glyph == "-" and change.table not in owned)
    ]
