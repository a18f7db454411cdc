"""Data migrations: Python functions that change rows, inside the migration's transaction.

A migration file made by `makemigrations --empty APP` looks like this::

    def forward(session: Session) -> None:
        ...  # change rows with the session (and the schema with op.*)

    def backward(session: Session) -> None:
        ...  # undo forward()

    upgrade, downgrade = data_migration(forward, backward)

Without `backward` the migration is irreversible: `migrate` refuses, before unapplying
anything, to go back past it (Django's RunPython without reverse_code).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from project.errors import ProjectError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

DataFunction = Callable[["Session"], Any]
# In the migration connection's `info`, set by migrate's runner (project.engine.lock_waits):
# the statements that put a data migration under DATA_MIGRATION_STATEMENT_TIMEOUT and back.
STATEMENT_TIMEOUT_KEY = "project.data_migration_statement_timeout"


class IrreversibleMigration(ProjectError):
    pass


def data_migration(
    forward: DataFunction, backward: DataFunction | None = None
) -> tuple[Callable[[], None], Callable[[], None]]:
    """The `upgrade` and `downgrade` functions Alembic calls, running ours with a session."""

    def upgrade() -> None:
        run_with_session(forward)

    def downgrade() -> None:
        if backward is None:
            raise IrreversibleMigration(
                "This migration has no backward function: it cannot be unapplied."
            )
        run_with_session(backward)

    downgrade.irreversible = backward is None  # type: ignore[attr-defined]
    return upgrade, downgrade


def run_with_session(function: DataFunction) -> None:
    """Call `function(session)` on the migration's connection and transaction."""
    from alembic import op
    from sqlalchemy.orm import Session

    from project.process import note_user_code

    note_user_code()
    connection = op.get_bind()
    timeout: tuple[str, str] | None = connection.info.get(STATEMENT_TIMEOUT_KEY)
    if timeout:
        connection.exec_driver_sql(timeout[0])
    with Session(bind=connection) as session:
        function(session)
        session.flush()
    if timeout:  # after a failure the runner resets it, once the transaction rolled back
        connection.exec_driver_sql(timeout[1])


def is_irreversible(module: Any) -> bool:
    return bool(getattr(getattr(module, "downgrade", None), "irreversible", False))
