"""owners.0002_lowercase_emails

An example data migration: store every owner's email in lower case, so that the unique
constraint on it also catches ANN@example.com beside ann@example.com.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

from project.data import data_migration

if TYPE_CHECKING:  # the ORM is imported only when the migration runs
    from sqlalchemy.orm import Session


revision: str = "owners_0002_lowercase_emails"
down_revision: str | Sequence[str] | None = "owners_0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def forward(session: Session) -> None:
    """Lower-case the emails; stop, changing nothing, if two differ only by case."""
    owners = sa.Table("owners_owner", sa.MetaData(), autoload_with=session.connection())
    rows = session.execute(sa.select(owners.c.id, owners.c.email)).all()
    seen: dict[str, str] = {}
    for _, email in rows:
        clash = seen.setdefault(email.lower(), email)
        if clash != email:
            raise ValueError(f"{clash} and {email} differ only by case: merge those owners first")
    for owner_id, email in rows:
        if email != email.lower():
            session.execute(
                owners.update().where(owners.c.id == owner_id).values(email=email.lower())
            )


def backward(session: Session) -> None:
    """The original case is not kept, and lower-case emails work as well: nothing to undo."""


upgrade, downgrade = data_migration(forward, backward)
