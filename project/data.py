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
    with Session(bind=op.get_bind()) as session:
        function(session)
        session.flush()


def is_irreversible(module: Any) -> bool:
    return bool(getattr(getattr(module, "downgrade", None), "irreversible", False))
