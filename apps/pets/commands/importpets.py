"""`manage.py importpets pets.csv`: add pets from a spreadsheet export, all or nothing."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

COLUMNS = ("name", "species", "birthdate", "sex", "condition", "owner_email")


def command(
    ctx: typer.Context,
    csv_file: Annotated[
        Path,
        typer.Argument(
            help=f"CSV with a header row: {', '.join(COLUMNS)} (birthdate as YYYY-MM-DD)."
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row; add nothing.")
    ] = False,
) -> int:
    """Import pets from a CSV file; each owner is found by email. One bad row adds nothing."""
    from sqlalchemy import select
    from sqlalchemy.exc import DBAPIError

    from apps.owners.models import Owner
    from apps.pets.models import Pet
    from project import ProjectError, session

    rows = _read_rows(csv_file)
    try:
        with session(ctx.obj.settings) as db:
            emails = {row["owner_email"] for _, row in rows}
            owners = dict(
                db.execute(select(Owner.email, Owner.id).where(Owner.email.in_(emails)))
                .tuples()
                .all()
            )
            db.add_all(_pet(Pet, owners, line, row) for line, row in rows)
            db.flush()
            if dry_run:
                db.rollback()
    except DBAPIError as exc:
        raise ProjectError(
            f"Cannot import pets: {str(exc.orig).splitlines()[0]}. Has 'migrate' been run?"
        ) from exc
    verb = "Would import" if dry_run else "Imported"
    ctx.obj.terminal.out(f"{verb} {len(rows)} pet(s) from {csv_file}.")
    return len(rows)


def _read_rows(csv_file: Path) -> list[tuple[int, dict[str, str]]]:
    from project.errors import ProjectError

    try:
        with csv_file.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ProjectError(
                    f"{csv_file}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}."
                )
            return [(number, row) for number, row in enumerate(reader, start=2)]
    except OSError as exc:
        raise ProjectError(f"Cannot read {csv_file}: {exc.strerror}.") from exc


def _pet(model: Any, owners: dict[str, int], line: int, row: dict[str, str]) -> Any:
    from project.errors import ProjectError

    owner_id = owners.get(row["owner_email"])
    if owner_id is None:
        raise ProjectError(
            f"Line {line}: no owner has the email '{row['owner_email']}'. Nothing was imported."
        )
    try:
        birthdate = date.fromisoformat(row["birthdate"]) if row["birthdate"] else None
    except ValueError:
        raise ProjectError(
            f"Line {line}: birthdate '{row['birthdate']}' is not YYYY-MM-DD. Nothing was imported."
        ) from None
    fields = {column: row[column] or None for column in ("name", "species", "sex", "condition")}
    return model(**fields, birthdate=birthdate, owner_id=owner_id)
