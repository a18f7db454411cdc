## Per file: project.autogen.writer.MigrationTemplate (docstring, data, replaces).
<% migration = config.attributes["migration_templates"][up_revision] %>\
"""${migration.docstring}"""
% if migration.data:

from __future__ import annotations
% endif

from collections.abc import Sequence
% if migration.data:
from typing import TYPE_CHECKING
% endif

import sqlalchemy as sa
from alembic import op
% if migration.data:

from project.data import data_migration

if TYPE_CHECKING:  # the ORM is imported only when the migration runs
    from sqlalchemy.orm import Session
% endif
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}
% if migration.replaces:
# Databases that applied all of these see this migration as applied; once every database
# is past them, their files can be deleted (keep this line: later migrations name them).
replaces = ${repr(migration.replaces)}
% endif
% if not getattr(migration, "atomic", True):
# Runs outside a transaction on PostgreSQL, step by step; every step is idempotent, so a
# run that failed or was interrupted is simply run again (project.engine.online).
atomic = False
% endif

% if migration.data:

def forward(session: Session) -> None:
    """Change the data: rows with `session`, the schema with `op.*` if need be.

    Reflect the tables you need, e.g. sa.Table("pets_pet", sa.MetaData(),
    autoload_with=session.connection()), rather than importing today's models: this runs
    again later, against the schema as it is at this point of the history.
    """


def backward(session: Session) -> None:
    """Undo forward(). If that is impossible, delete this function and its name below:
    the migration is then irreversible, and `migrate` will not go back past it."""


upgrade, downgrade = data_migration(forward, backward)
% else:

def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
% endif
