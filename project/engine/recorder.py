"""Our migration history table, beside Alembic's version table (Django's `django_migrations`,
Flyway's schema history): which migration was applied when, how long it took, and a checksum
of its file as applied, so an applied migration edited afterwards is noticed.

Rows are written in the same transaction as Alembic's version table, so the two agree after
every command, failures and `--fake` included.

On MySQL/MariaDB, where DDL commits as it runs, a second table keeps the progress of the
migration in flight (project.engine.resume): a row when it starts and one per operation done, each
committed with what it records, and all deleted with the version stamp.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy import Connection, Table

    from project.engine.history import Migration

TABLE = "manage_migrations"
PROGRESS_TABLE = "manage_migration_progress"
TABLES = frozenset({TABLE, PROGRESS_TABLE})  # ours: never a model's, never a diff
STARTED = -1  # the position of the row written as a migration starts
# The app of a record kept for a revision of an adopted plain-Alembic history: no app can be
# labelled so (labels are identifiers).
ADOPTED = "(alembic)"


@dataclass(frozen=True)
class Record:
    app: str
    name: str
    revision: str
    parents: tuple[str, ...]  # what it followed: how --prune rewinds past a missing file
    applied_at: datetime | None  # None: applied before this history was kept
    duration: float | None
    checksum: str
    faked: bool


@dataclass(frozen=True)
class Progress:
    """One row of the progress table: an operation of a migration done (or, at STARTED, the
    migration begun), with what it was, how to check it in the live schema, and the checksum
    of the file it came from."""

    revision: str
    position: int
    description: str
    check: str  # see project.engine.resume.check_of
    checksum: str


def checksum(path: Path) -> str:
    """sha256 of the file, line endings normalised (a checkout on Windows is no change)."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


@cache  # one Table, so SQLAlchemy compiles each statement once per run
def table() -> Table:
    import sqlalchemy as sa

    return sa.Table(
        TABLE,
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("app", sa.String(100), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("revision", sa.String(32), nullable=False, unique=True),
        sa.Column("parents", sa.String(255), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True)),
        sa.Column("duration", sa.Float),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("faked", sa.Boolean, nullable=False),
    )


def ensure(connection: Connection) -> None:
    """Create the table once; its own committed transaction (DDL)."""
    table().create(connection, checkfirst=True)
    connection.commit()


def read(connection: Connection) -> dict[str, Record]:
    """{revision: record}; empty when the table does not exist yet."""
    import sqlalchemy as sa

    if not sa.inspect(connection).has_table(TABLE):
        connection.commit()
        return {}
    rows = connection.execute(sa.select(table())).mappings().all()
    connection.commit()
    return {
        row["revision"]: Record(
            row["app"],
            row["name"],
            row["revision"],
            tuple(p for p in row["parents"].split(",") if p),
            row["applied_at"],
            row["duration"],
            row["checksum"],
            bool(row["faked"]),
        )
        for row in rows
    }


def revisions(connection: Connection) -> set[str]:
    """The revisions recorded (the table exists: see ensure)."""
    import sqlalchemy as sa

    return set(connection.execute(sa.select(table().c.revision)).scalars())


def applied(
    connection: Connection,
    migration: Migration,
    duration: float | None,
    faked: bool,
    backfill: bool = False,
    replace: bool = True,
) -> None:
    """Inside the migration's transaction: it is applied (`backfill`: it was, some time
    before this history was kept, so when is unknown). `replace=False`: there is no row
    for it yet, which saves a statement per migration."""
    import sqlalchemy as sa

    history = table()
    if replace:
        connection.execute(sa.delete(history).where(history.c.revision == migration.revision))
    connection.execute(
        sa.insert(history).values(
            app=migration.app_label,
            name=migration.name,
            revision=migration.revision,
            parents=",".join(migration.down_revisions + migration.dependencies),
            applied_at=None if backfill else datetime.now(timezone.utc),
            duration=duration,
            checksum=checksum(migration.path),
            faked=faked,
        )
    )


def adopted(connection: Connection, revision: str) -> None:
    """A record of a plain Alembic history's head, replaced in the version table by the
    apps' migrations (project.autogen.adoption): what the database was at, kept."""
    import sqlalchemy as sa

    connection.execute(sa.delete(table()).where(table().c.revision == revision))
    connection.execute(
        sa.insert(table()).values(
            app=ADOPTED,
            name="head of the plain Alembic history adopted",
            revision=revision,
            parents="",
            applied_at=datetime.now(timezone.utc),
            duration=None,
            checksum="",
            faked=True,
        )
    )


def accept(connection: Connection, migrations: Iterable[Migration]) -> None:
    """Record the files as they are now as the ones applied (their checksums)."""
    import sqlalchemy as sa

    history = table()
    for migration in migrations:
        connection.execute(
            sa.update(history)
            .where(history.c.revision == migration.revision)
            .values(checksum=checksum(migration.path))
        )
    connection.commit()


def unapplied(connection: Connection, revision: str) -> None:
    import sqlalchemy as sa

    history = table()
    connection.execute(sa.delete(history).where(history.c.revision == revision))


def forget(connection: Connection, revisions: Any) -> None:
    import sqlalchemy as sa

    history = table()
    connection.execute(sa.delete(history).where(history.c.revision.in_(list(revisions))))


@cache
def progress_table() -> Table:
    import sqlalchemy as sa

    return sa.Table(
        PROGRESS_TABLE,
        sa.MetaData(),
        sa.Column("revision", sa.String(32), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("check", sa.String(1000), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
    )


def ensure_progress(connection: Connection) -> None:
    progress_table().create(connection, checkfirst=True)
    connection.commit()


def read_progress(connection: Connection) -> dict[str, list[Progress]]:
    """{revision: its rows by position} of migrations stopped partway; empty when none."""
    import sqlalchemy as sa

    if not sa.inspect(connection).has_table(PROGRESS_TABLE):
        connection.commit()
        return {}
    progress = progress_table()
    rows = connection.execute(
        sa.select(progress).order_by(progress.c.revision, progress.c.position)
    ).mappings()
    found: dict[str, list[Progress]] = {}
    for row in rows:
        found.setdefault(row["revision"], []).append(
            Progress(
                row["revision"], row["position"], row["description"], row["check"], row["checksum"]
            )
        )
    connection.commit()
    return found


def record_progress(connection: Connection, row: Progress) -> None:
    """In the migration's transaction: committed with the operation's own DML, or at once
    after its DDL (the runner commits)."""
    import sqlalchemy as sa

    connection.execute(
        sa.insert(progress_table()).values(
            revision=row.revision,
            position=row.position,
            description=row.description[:255],
            check=row.check[:1000],
            checksum=row.checksum,
        )
    )


def clear_progress(connection: Connection, revision: str) -> None:
    import sqlalchemy as sa

    progress = progress_table()
    connection.execute(sa.delete(progress).where(progress.c.revision == revision))


def mark_failed(connection: Connection, row: Progress) -> None:
    """The operation at the row's position did not complete (replacing such a row left by
    an earlier failure of it); the runner commits."""
    delete_progress(connection, row.revision, row.position)
    record_progress(connection, row)


def delete_progress(connection: Connection, revision: str, position: int) -> None:
    import sqlalchemy as sa

    progress = progress_table()
    connection.execute(
        sa.delete(progress).where(progress.c.revision == revision, progress.c.position == position)
    )
