"""Generate a synthetic project: N tables in K apps, each app's models in M migrations.

    python bench/generate.py DEST --tables 200 --apps 20 --migrations 1

Each table has eight columns of the usual types, a foreign key (to the previous table of
its app, or to the last table of the previous app: cross-app dependencies) and an index.
The migrations are written by the project's own makemigrations.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# The columns of every generated table (bench/peers.py gives the peers the same).
COLUMNS = """    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), index=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(10, 2), server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    note: Mapped[str | None] = mapped_column(Text)
    {reference}
"""
MODEL = "\n\nclass Item{n}(Model):\n" + COLUMNS
HEADER = """from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, ForeignKey, Numeric, String, Text, false, func
from sqlalchemy.orm import Mapped, mapped_column

from project.db import Model
"""


def generate(dest: Path, tables: int, apps: int, migrations: int) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "apps").mkdir(parents=True)
    shutil.copy(REPO / "manage.py", dest)
    shutil.copytree(REPO / "migrations", dest / "migrations")
    (dest / "apps" / "__init__.py").write_text("")
    labels = [f"app{i:03d}" for i in range(apps)]
    (dest / "settings.py").write_text(
        "from pathlib import Path\n\nBASE_DIR = Path(__file__).resolve().parent\n"
        f"INSTALLED_APPS = {[f'apps.{label}' for label in labels]!r}\n"
        'DATABASE_URL = "sqlite:///db.sqlite3"\n'
    )
    per_app = [list(range(i, tables, apps)) for i in range(apps)]
    for label in labels:
        (dest / "apps" / label).mkdir()
        (dest / "apps" / label / "__init__.py").write_text("")
        (dest / "apps" / label / "models.py").write_text(HEADER)
    env = {
        **os.environ,
        "MANAGE_SETTINGS_MODULE": "settings",
        "DATABASE_URL": f"sqlite:///{dest / 'db.sqlite3'}",
    }
    for batch in range(migrations):
        for index, label in enumerate(labels):
            numbers = per_app[index]
            chunk = numbers[
                batch * len(numbers) // migrations : (batch + 1) * len(numbers) // migrations
            ]
            with (dest / "apps" / label / "models.py").open("a") as models:
                for n in chunk:
                    models.write(MODEL.format(n=n, reference=_reference(n, index, labels, per_app)))
        subprocess.run(
            [sys.executable, "manage.py", "makemigrations", "-v", "0"],
            cwd=dest,
            env=env,
            check=True,
        )
    return dest


def _reference(n: int, app: int, labels: list[str], per_app: list[list[int]]) -> str:
    mine = per_app[app]
    if mine.index(n) > 0:  # the previous table of the same app
        target = f"{labels[app]}_item{mine[mine.index(n) - 1]}"
    elif app > 0:  # the first table of an app points into the previous app
        target = f"{labels[app - 1]}_item{per_app[app - 1][0]}"
    else:
        return "parent_id: Mapped[int | None]"
    return f'parent_id: Mapped[int | None] = mapped_column(ForeignKey("{target}.id"), index=True)'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--apps", type=int, default=20)
    parser.add_argument("--migrations", type=int, default=1, help="migrations per app")
    args = parser.parse_args()
    print(generate(args.dest, args.tables, args.apps, args.migrations))


if __name__ == "__main__":
    main()
